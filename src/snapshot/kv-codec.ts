// mvccpb.KeyValue, the value of every entry in etcd's `key` bucket, encoded and decoded by hand:
// a snapshot carries one per revision (a million for a 1 GB database), and the generic
// protobuf-es codec costs several microseconds each where these loops cost a fraction
// (measured: docs/design-notes.md). The bytes are what etcd's gogo-protobuf code writes: fields in
// number order, zero values left out. test/snapshot/kv-codec.test.ts checks both against
// protobuf-es and against bytes taken from a real etcd snapshot.
//
//   key = 1 (bytes) | create_revision = 2 | mod_revision = 3 | version = 4 (int64)
//   value = 5 (bytes) | lease = 6 (int64)
import { SnapshotError } from "./errors.ts";

export interface KeyValueRecord {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  /** 0n = no lease. */
  readonly lease: bigint;
}

const EMPTY: Uint8Array = new Uint8Array(0);

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

/**
 * Decodes a KeyValue; the key and value are views into b. Unknown fields are skipped (newer
 * etcd versions may add some); malformed input throws a SnapshotError naming `where`.
 */
export function decodeKeyValue(b: Uint8Array, where: string): KeyValueRecord {
  let key = EMPTY;
  let value = EMPTY;
  let createRevision = 0;
  let modRevision = 0;
  let version = 0;
  let lease = 0n;
  let off = 0;
  const bad = (why: string): never => {
    throw new SnapshotError(`${where}: malformed mvccpb.KeyValue (${why})`);
  };
  const varint = (): number => {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (off >= b.length) bad("truncated varint");
      const c = b[off++]!;
      n += (c & 0x7f) * mul;
      if (c < 0x80) {
        if (!Number.isSafeInteger(n)) bad("number out of range");
        return n;
      }
      mul *= 128;
    }
    return bad("varint too long");
  };
  const varint64 = (): bigint => {
    let n = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (off >= b.length) bad("truncated varint");
      const c = b[off++]!;
      n |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) return BigInt.asIntN(64, n);
    }
    return bad("varint too long");
  };
  const bytes = (): Uint8Array => {
    const n = varint();
    if (off + n > b.length) bad("field runs past the end");
    const v = b.subarray(off, off + n);
    off += n;
    return v;
  };
  while (off < b.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    const expect = (w: number) => {
      if (wire !== w) bad(`field ${field} has wire type ${wire}`);
    };
    switch (field) {
      case 1:
        expect(2);
        key = bytes();
        break;
      case 2:
        expect(0);
        createRevision = varint();
        break;
      case 3:
        expect(0);
        modRevision = varint();
        break;
      case 4:
        expect(0);
        version = varint();
        break;
      case 5:
        expect(2);
        value = bytes();
        break;
      case 6:
        expect(0);
        lease = varint64();
        break;
      default:
        if (field === 0) bad("field number 0");
        if (wire === 0) varint64();
        else if (wire === 1) off += 8;
        else if (wire === 2) bytes();
        else if (wire === 5) off += 4;
        else bad(`wire type ${wire}`);
        if (off > b.length) bad("field runs past the end");
    }
  }
  return { key, createRevision, modRevision, version, value, lease };
}
