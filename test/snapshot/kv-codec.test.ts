// The hand-written mvccpb.KeyValue codec writes what etcd (gogo-protobuf) writes and what
// protobuf-es writes, reads both back, and refuses malformed values with a SnapshotError.
import { expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { KeyValueSchema } from "../../src/gen/kv_pb.ts";
import { SnapshotError } from "../../src/snapshot/index.ts";
import { decodeKeyValue, encodeKeyValue, keyValueSize } from "../../src/snapshot/kv-codec.ts";
import { mulberry32 } from "../helpers/rng.ts";

const te = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("values taken from an etcd 3.4.23 snapshot encode byte for byte", () => {
  // key bucket of a snapshot saved from Debian's etcd: a=2 at revision 3 (created at 2,
  // version 2), a tombstone of b, lk=lv with a lease.
  expect(hex(encodeKeyValue({ key: te.encode("a"), createRevision: 2, modRevision: 3, version: 2, value: te.encode("2"), lease: 0n }))).toBe(
    "0a01611002180320022a0132",
  );
  expect(hex(encodeKeyValue({ key: te.encode("b"), createRevision: 0, modRevision: 0, version: 0, value: new Uint8Array(0), lease: 0n }))).toBe("0a0162");
  const leased = Buffer.from("0a026c6b1006180620012a026c76308996a892d5c9e88639", "hex");
  const kv = decodeKeyValue(leased, "t");
  expect(kv.lease).toBe(0x390da24d524a0b09n);
  expect(hex(encodeKeyValue(kv))).toBe(leased.toString("hex"));
});

test("random records: the same bytes as protobuf-es, sizes computed without encoding, decoded back (500 seeds)", () => {
  for (let seed = 1; seed <= 500; seed++) {
    const rnd = mulberry32(seed);
    const big = (bits: number) => Math.floor(rnd() * 2 ** bits);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => big(8));
    const rec = {
      key: bytes(big(3) === 0 ? 0 : 1 + big(8)),
      createRevision: big(2) === 0 ? 0 : big(1 + Math.floor(rnd() * 52)),
      modRevision: 1 + big(1 + Math.floor(rnd() * 51)),
      version: big(2) === 0 ? 0 : big(20),
      value: bytes(big(2) === 0 ? 0 : big(12)),
      lease: BigInt.asIntN(64, (BigInt(big(32)) << 32n) | BigInt(big(32))) * (big(1) === 0 ? 0n : 1n),
    };
    const ours = encodeKeyValue(rec);
    const theirs = toBinary(KeyValueSchema, create(KeyValueSchema, { ...rec, createRevision: BigInt(rec.createRevision), modRevision: BigInt(rec.modRevision), version: BigInt(rec.version) }));
    expect(hex(ours)).toBe(hex(theirs));
    expect(keyValueSize(rec.key.length, rec.createRevision, rec.modRevision, rec.version, rec.value.length, rec.lease)).toBe(ours.length);
    const back = decodeKeyValue(ours, "t");
    expect({ ...back, key: hex(back.key), value: hex(back.value) }).toEqual({ ...rec, key: hex(rec.key), value: hex(rec.value) });
    const viaEs = fromBinary(KeyValueSchema, ours);
    expect(Number(viaEs.modRevision)).toBe(rec.modRevision);
  }
});

test("malformed values are refused with the place named; unknown fields are skipped", () => {
  const bad = (h: string) => () => decodeKeyValue(Buffer.from(h, "hex"), "key bucket: revision 7_0");
  expect(bad("0a05616263")).toThrow("key bucket: revision 7_0: malformed mvccpb.KeyValue (field runs past the end)");
  expect(bad("10")).toThrow("truncated varint");
  expect(bad("12026161")).toThrow("field 2 has wire type 2");
  expect(bad("18ffffffffffffffffff7f")).toThrow(SnapshotError);
  expect(bad("1f")).toThrow("wire type 7");
  // Field 9 (varint) and field 10 (bytes) are not KeyValue's: skipped.
  expect(decodeKeyValue(Buffer.from("0a0161480152020000180a", "hex"), "t").modRevision).toBe(10);
});
