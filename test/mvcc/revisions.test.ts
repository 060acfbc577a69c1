import { afterEach, expect, test } from "bun:test";
import { Errors } from "../../src/rpctypes/index.ts";
import { dec, enc, fmtKvs, Harness } from "../state/harness.ts";

let h: Harness;
afterEach(async () => h?.close());

test("revisions: put/create/mod/version, tombstone and recreate, empty delete does not bump", async () => {
  h = await new Harness().open();
  expect(h.sm.revision).toBe(1);
  expect((await h.put("a", "1")).header.revision).toBe(2n);
  expect((await h.put("a", "2")).header.revision).toBe(3n);
  expect((await h.put("b", "x")).header.revision).toBe(4n);
  expect(fmtKvs((await h.get("a", { rangeEnd: enc("c") })).kvs)).toEqual(["a=2 c2 m3 v2", "b=x c4 m4 v1"]);
  const d = await h.do({ deleteRange: { key: enc("a"), prevKv: true } });
  expect(d.header.revision).toBe(5n);
  expect(d.deleted).toBe(1n);
  expect(fmtKvs(d.prevKvs)).toEqual(["a=2 c2 m3 v2"]);
  const none = await h.do({ deleteRange: { key: enc("zzz") } });
  expect(none.deleted).toBe(0n);
  expect(none.header.revision).toBe(5n);
  expect(h.sm.revision).toBe(5);
  await h.put("a", "3");
  expect(fmtKvs((await h.get("a")).kvs)).toEqual(["a=3 c6 m6 v1"]);
  // history reads
  expect(fmtKvs((await h.get("a", { revision: 3n })).kvs)).toEqual(["a=2 c2 m3 v2"]);
  expect((await h.get("a", { revision: 5n })).kvs).toEqual([]);
  expect((await h.get("a", { revision: 3n })).header.revision).toBe(6n);
  await expect(h.get("a", { revision: 7n })).rejects.toBe(Errors.futureRev);
});

test("put flags: prev_kv, ignore_value, ignore_lease, key not found, lease not found", async () => {
  h = await new Harness().open();
  const p1 = await h.put("k", "v1", { prevKv: true });
  expect(p1.prevKv).toBeUndefined();
  const p2 = await h.put("k", "v2", { prevKv: true });
  expect(dec(p2.prevKv.value)).toBe("v1");
  expect(await h.do({ put: { key: enc("nokey"), ignoreValue: true } })).toBe(Errors.keyNotFound);
  expect(await h.do({ put: { key: enc("k"), lease: 99n } })).toBe(Errors.leaseNotFound);
  expect(h.sm.revision).toBe(3);
  await h.do({ leaseGrant: { ID: 7n, TTL: 10n } });
  await h.do({ put: { key: enc("k"), ignoreValue: true, lease: 7n } });
  expect(fmtKvs((await h.get("k")).kvs)).toEqual(["k=v2 c2 m4 v3 l7"]);
  await h.do({ put: { key: enc("k"), value: enc("v3"), ignoreLease: true } });
  expect(fmtKvs((await h.get("k")).kvs)).toEqual(["k=v3 c2 m5 v4 l7"]);
});

test("txn: compares, shared revision with sub-revisions, inner headers, nested txn, failure branch", async () => {
  h = await new Harness().open();
  await h.put("a", "1"); // rev 2
  const t = await h.do({
    txn: {
      compare: [{ key: enc("a"), target: 3 /* VALUE */, result: 0, targetUnion: { case: "value", value: enc("1") } }],
      success: [
        { request: { case: "requestPut", value: { key: enc("b"), value: enc("2") } } },
        { request: { case: "requestRange", value: { key: enc("a"), rangeEnd: enc("z") } } },
        { request: { case: "requestDeleteRange", value: { key: enc("a") } } },
        {
          request: {
            case: "requestTxn",
            value: {
              compare: [{ key: enc("a"), target: 0 /* VERSION */, result: 0, targetUnion: { case: "version", value: 1n } }],
              success: [{ request: { case: "requestPut", value: { key: enc("c"), value: enc("3") } } }],
            },
          },
        },
      ],
      failure: [{ request: { case: "requestPut", value: { key: enc("f"), value: enc("0") } } }],
    },
  });
  expect(t.succeeded).toBe(true);
  expect(t.header.revision).toBe(3n);
  expect(t.header.clusterId).toBe(1n);
  const [put, range, del, nested] = t.responses.map((r: any) => r.response.value);
  expect(put.header.revision).toBe(3n);
  expect(put.header.clusterId).toBe(0n);
  expect(fmtKvs(range.kvs)).toEqual(["a=1 c2 m2 v1", "b=2 c3 m3 v1"]);
  expect(range.header.revision).toBe(3n);
  expect(del.deleted).toBe(1n);
  // nested compares are decided on the state before the txn (a had version 1)
  expect(nested.succeeded).toBe(true);
  expect(nested.header.revision).toBe(0n);
  expect(fmtKvs((await h.get("\0", { rangeEnd: enc("\0") })).kvs)).toEqual(["b=2 c3 m3 v1", "c=3 c3 m3 v1"]);
  // failure branch; missing key: VALUE compare fails, VERSION compares as 0
  const f = await h.do({
    txn: {
      compare: [{ key: enc("nope"), target: 0, result: 0, targetUnion: { case: "version", value: 0n } }],
      success: [{ request: { case: "requestRange", value: { key: enc("b") } } }],
    },
  });
  expect(f.succeeded).toBe(true);
  expect(f.header.revision).toBe(3n); // read-only txn does not bump
  const g = await h.do({
    txn: {
      compare: [{ key: enc("nope"), target: 3, result: 3 /* NOT_EQUAL */, targetUnion: { case: "value", value: enc("x") } }],
      failure: [{ request: { case: "requestPut", value: { key: enc("f"), value: enc("0") } } }],
    },
  });
  expect(g.succeeded).toBe(false);
  expect(g.header.revision).toBe(4n);
  // a failing check writes nothing
  const bad = await h.do({
    txn: {
      success: [
        { request: { case: "requestPut", value: { key: enc("x"), value: enc("1") } } },
        { request: { case: "requestPut", value: { key: enc("y"), lease: 5n } } },
      ],
    },
  });
  expect(bad).toBe(Errors.leaseNotFound);
  expect((await h.get("x")).kvs).toEqual([]);
  expect(h.sm.revision).toBe(4);
});

test("txn range at an older revision reads history after earlier entries of the same batch", async () => {
  h = await new Harness().open();
  const res = await h.batch([
    { put: { key: enc("k"), value: enc("1") } }, // 2
    { put: { key: enc("k"), value: enc("2") } }, // 3
    { txn: { success: [{ request: { case: "requestRange", value: { key: enc("k"), revision: 2n } } }, { request: { case: "requestPut", value: { key: enc("k"), value: enc("3") } } }] } },
  ]);
  const r = res[2].responses[0].response.value;
  expect(fmtKvs(r.kvs)).toEqual(["k=1 c2 m2 v1"]);
  expect(res[2].header.revision).toBe(4n);
  expect(h.sm.appliedIndex).toBe(3);
});
