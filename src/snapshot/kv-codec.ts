// mvccpb.KeyValue, the value of every entry in etcd's `key` bucket, decoded by hand (encoded in
// src/mvcc/etcd-kv-bytes.ts): a snapshot carries one per revision (a million for a 1 GB
// database), and the generic protobuf-es codec costs several microseconds each where these loops
// cost a fraction (measured: docs/design-notes.md). test/snapshot/kv-codec.test.ts checks both
// directions against protobuf-es and against bytes taken from a real etcd snapshot.
import { SnapshotError } from "./errors.ts";

export { encodeKeyValue, encodeKeyValueInto, keyValueSize, type KeyValueRecord } from "../mvcc/etcd-kv-bytes.ts";
import type { KeyValueRecord } from "../mvcc/etcd-kv-bytes.ts";

const EMPTY: Uint8Array = new Uint8Array(0);

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
