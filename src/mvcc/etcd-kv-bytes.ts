// etcd's bytes for one revision of a key, as its backend's `key` bucket holds it: the revision
// key (8-byte big-endian main revision, '_', 8-byte big-endian sub revision, 't' appended for a
// tombstone) and the value, an mvccpb.KeyValue encoded as etcd's gogo-protobuf code writes it
// (fields in number order, zero values left out; a tombstone is KeyValue{key}). Snapshots in
// etcd's format are made of these, and HashKV hashes them, so both answer as etcd's do.
//
//   key = 1 (bytes) | create_revision = 2 | mod_revision = 3 | version = 4 (int64)
//   value = 5 (bytes) | lease = 6 (int64)

export const REVISION_KEY_SIZE = 17;
export const TOMBSTONE_MARK = 0x74; // 't'

/** Writes the revision key of (main, sub) at b[off...] (+ 't' for a tombstone). */
export function putRevisionKey(b: Uint8Array, off: number, main: number, sub: number, tombstone: boolean): number {
  const dv = new DataView(b.buffer, b.byteOffset);
  dv.setBigUint64(off, BigInt(main));
  b[off + 8] = 0x5f; // '_'
  dv.setBigUint64(off + 9, BigInt(sub));
  if (tombstone) b[off + REVISION_KEY_SIZE] = TOMBSTONE_MARK;
  return off + REVISION_KEY_SIZE + (tombstone ? 1 : 0);
}

export function revisionKey(main: number, sub: number, tombstone = false): Uint8Array {
  const b = new Uint8Array(REVISION_KEY_SIZE + (tombstone ? 1 : 0));
  putRevisionKey(b, 0, main, sub, tombstone);
  return b;
}

export interface KeyValueRecord {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  /** 0n = no lease. */
  readonly lease: bigint;
}

/** Bytes of a varint for a non-negative safe integer. */
function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    s++;
  }
  return s;
}

/** Bytes of an int64 varint (negative values take 10). */
function varint64Size(n: bigint): number {
  if (n < 0n) return 10;
  let s = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    s++;
  }
  return s;
}

/** Encoded size of a KeyValue with these fields. */
export function keyValueSize(keyLen: number, createRevision: number, modRevision: number, version: number, valueLen: number, lease: bigint): number {
  let s = 0;
  if (keyLen > 0) s += 1 + varintSize(keyLen) + keyLen;
  if (createRevision !== 0) s += 1 + varintSize(createRevision);
  if (modRevision !== 0) s += 1 + varintSize(modRevision);
  if (version !== 0) s += 1 + varintSize(version);
  if (valueLen > 0) s += 1 + varintSize(valueLen) + valueLen;
  if (lease !== 0n) s += 1 + varint64Size(lease);
  return s;
}

function putVarint(buf: Uint8Array, off: number, n: number): number {
  while (n >= 0x80) {
    buf[off++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[off++] = n;
  return off;
}

function putVarint64(buf: Uint8Array, off: number, n: bigint): number {
  let u = BigInt.asUintN(64, n);
  while (u >= 0x80n) {
    buf[off++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[off++] = Number(u);
  return off;
}

/** Writes kv at buf[off...]; returns the offset after it. buf must have keyValueSize bytes free. */
export function encodeKeyValueInto(kv: KeyValueRecord, buf: Uint8Array, off: number): number {
  if (kv.key.length > 0) {
    buf[off++] = 0x0a;
    off = putVarint(buf, off, kv.key.length);
    buf.set(kv.key, off);
    off += kv.key.length;
  }
  if (kv.createRevision !== 0) {
    buf[off++] = 0x10;
    off = putVarint(buf, off, kv.createRevision);
  }
  if (kv.modRevision !== 0) {
    buf[off++] = 0x18;
    off = putVarint(buf, off, kv.modRevision);
  }
  if (kv.version !== 0) {
    buf[off++] = 0x20;
    off = putVarint(buf, off, kv.version);
  }
  if (kv.value.length > 0) {
    buf[off++] = 0x2a;
    off = putVarint(buf, off, kv.value.length);
    buf.set(kv.value, off);
    off += kv.value.length;
  }
  if (kv.lease !== 0n) {
    buf[off++] = 0x30;
    off = putVarint64(buf, off, kv.lease);
  }
  return off;
}

export function encodeKeyValue(kv: KeyValueRecord): Uint8Array {
  const buf = new Uint8Array(keyValueSize(kv.key.length, kv.createRevision, kv.modRevision, kv.version, kv.value.length, kv.lease));
  encodeKeyValueInto(kv, buf, 0);
  return buf;
}
