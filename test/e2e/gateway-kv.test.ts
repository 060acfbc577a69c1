// The v3 JSON gateway with fetch: KV endpoints, exact encodings (int64 as decimal strings,
// bytes as padded base64, zero values omitted) and error bodies.
import { expect, test } from "bun:test";
import { b64, type Json, prefixEnd, unb64, useMember } from "../helpers/index.ts";

const env = useMember();

const DEC = /^\d+$/;

function expectHeader(h: Json, opts: { revision?: boolean } = {}): void {
  expect(typeof h.cluster_id).toBe("string");
  expect(h.cluster_id).toMatch(DEC);
  expect(h.member_id).toMatch(DEC);
  expect(h.raft_term).toMatch(DEC);
  if (opts.revision !== false) expect(h.revision).toMatch(DEC);
}

function errorBody(message: string, code: number): Json {
  return { error: message, message, code };
}

test("put then range: int64 as strings, base64 bytes, header filled", async () => {
  const { gw } = env();
  const put = await gw.ok("/v3/kv/put", { key: b64("g/foo"), value: b64("bar") });
  expectHeader(put.header);
  expect(Object.keys(put)).toEqual(["header"]);
  const rev = Number(put.header.revision);
  const r = await gw.ok("/v3/kv/range", { key: b64("g/foo") });
  expectHeader(r.header);
  expect(r.header.revision).toBe(String(rev));
  expect(r.kvs).toEqual([
    { key: "Zy9mb28=", create_revision: String(rev), mod_revision: String(rev), version: "1", value: "YmFy" },
  ]);
  expect(r.count).toBe("1");
  expect(r.more).toBeUndefined();
});

test("put prev_kv returns the previous pair; lease 0 and zero fields are omitted", async () => {
  const { gw } = env();
  const first = await gw.put("g/pv", "one");
  const second = await gw.put("g/pv", "two", { prev_kv: true });
  const r1 = first.header.revision;
  expect(second.prev_kv).toEqual({ key: b64("g/pv"), create_revision: r1, mod_revision: r1, version: "1", value: b64("one") });
  // A missing key gives no count field at all (zero is omitted), and no kvs.
  const none = await gw.range("g/none");
  expect(none.kvs).toBeUndefined();
  expect(none.count).toBeUndefined();
});

test("range options: prefix, keys_only, count_only, limit, sort, revision (string or number)", async () => {
  const { gw } = env();
  const revs: string[] = [];
  for (const [k, v] of [
    ["gr/a", "3"],
    ["gr/b", "1"],
    ["gr/c", "2"],
  ]) {
    revs.push((await gw.put(k!, v!)).header.revision);
  }
  const end = prefixEnd("gr/");
  const all = await gw.range("gr/", { range_end: end, keys_only: true });
  expect(all.kvs.map((kv: Json) => unb64(kv.key))).toEqual(["gr/a", "gr/b", "gr/c"]);
  expect(all.kvs.every((kv: Json) => kv.value === undefined)).toBe(true);
  const counted = await gw.range("gr/", { range_end: end, count_only: true });
  expect(counted.kvs).toBeUndefined();
  expect(counted.count).toBe("3");
  const limited = await gw.range("gr/", { range_end: end, limit: 2 });
  expect(limited.kvs.length).toBe(2);
  expect(limited.more).toBe(true);
  expect(limited.count).toBe("3");
  const sorted = await gw.range("gr/", { range_end: end, sort_target: "VALUE", sort_order: "DESCEND" });
  expect(sorted.kvs.map((kv: Json) => unb64(kv.value))).toEqual(["3", "2", "1"]);
  // Enums as numbers are accepted too (VALUE=4, ASCEND=1).
  const sortedNum = await gw.range("gr/", { range_end: end, sort_target: 4, sort_order: 1 });
  expect(sortedNum.kvs.map((kv: Json) => unb64(kv.value))).toEqual(["1", "2", "3"]);
  // At the revision of the first put only gr/a existed; header still shows the current revision.
  const past = await gw.range("gr/", { range_end: end, revision: revs[0] });
  expect(past.kvs.map((kv: Json) => unb64(kv.key))).toEqual(["gr/a"]);
  expect(Number(past.header.revision)).toBeGreaterThanOrEqual(Number(revs[2]));
  const pastNum = await gw.range("gr/", { range_end: end, revision: Number(revs[1]) });
  expect(pastNum.count).toBe("2");
  // camelCase input names are accepted as well.
  const camel = await gw.range("gr/", { rangeEnd: end, keysOnly: true });
  expect(camel.count).toBe("3");
});

test("deleterange with prev_kv and prefix", async () => {
  const { gw } = env();
  await gw.put("gd/a", "1");
  await gw.put("gd/b", "2");
  const del = await gw.ok("/v3/kv/deleterange", { key: b64("gd/"), range_end: prefixEnd("gd/"), prev_kv: true });
  expectHeader(del.header);
  expect(del.deleted).toBe("2");
  expect(del.prev_kvs.map((kv: Json) => [unb64(kv.key), unb64(kv.value)])).toEqual([
    ["gd/a", "1"],
    ["gd/b", "2"],
  ]);
  const none = await gw.ok("/v3/kv/deleterange", { key: b64("gd/a") });
  expect(none.deleted).toBeUndefined();
  // Deleting nothing does not create a revision.
  expect(none.header.revision).toBe(del.header.revision);
});

test("txn: compare, success ops with oneof names, inner headers with revision only", async () => {
  const { gw } = env();
  await gw.put("gt/k", "v");
  const t = await gw.ok("/v3/kv/txn", {
    compare: [{ key: b64("gt/k"), target: "VALUE", result: "EQUAL", value: b64("v") }],
    success: [{ request_put: { key: b64("gt/new"), value: b64("n") } }, { request_range: { key: b64("gt/k") } }],
    failure: [{ request_put: { key: b64("gt/fail"), value: b64("f") } }],
  });
  expectHeader(t.header);
  expect(t.succeeded).toBe(true);
  const rev = t.header.revision;
  expect(t.responses[0]).toEqual({ response_put: { header: { revision: rev } } });
  expect(t.responses[1].response_range.header).toEqual({ revision: rev });
  expect(t.responses[1].response_range.kvs[0].value).toBe(b64("v"));
  const f = await gw.ok("/v3/kv/txn", {
    compare: [{ key: b64("gt/k"), target: "VERSION", result: "GREATER", version: "5" }],
    success: [{ request_put: { key: b64("gt/never"), value: b64("x") } }],
    failure: [{ request_delete_range: { key: b64("gt/new") } }],
  });
  expect(f.succeeded).toBeUndefined(); // false is omitted
  expect(f.responses).toEqual([{ response_delete_range: { header: { revision: f.header.revision }, deleted: "1" } }]);
  expect((await gw.range("gt/never")).kvs).toBeUndefined();
});

test("txn: a compare with an unknown target number compares as equal, an unknown result holds (etcd's compareKV)", async () => {
  const { gw } = env();
  await gw.put("gu/k", "v");
  for (const [compare, succeeded] of [
    [{ key: b64("gu/k"), target: 7, result: "EQUAL" }, true],
    [{ key: b64("gu/missing"), target: 7, result: "EQUAL" }, true],
    [{ key: b64("gu/k"), target: 7, result: "NOT_EQUAL" }, undefined],
    [{ key: b64("gu/k"), target: "VERSION", result: 9, version: "99" }, true],
  ] as const) {
    const t = await gw.ok("/v3/kv/txn", { compare: [compare], success: [{ request_put: { key: b64("gu/ran"), value: b64(JSON.stringify(compare)) } }] });
    expect(t.succeeded).toBe(succeeded);
  }
});

test("compaction, then range below it: compacted error body with code 11 and HTTP 400", async () => {
  const { gw } = env();
  const old = (await gw.put("gc/k", "1")).header.revision;
  await gw.put("gc/k", "2");
  const now = (await gw.put("gc/k", "3")).header.revision;
  const c = await gw.ok("/v3/kv/compaction", { revision: now });
  expectHeader(c.header);
  const r = await gw.post("/v3/kv/range", { key: b64("gc/k"), revision: old });
  expect(r.status).toBe(400);
  expect(r.json).toEqual(errorBody("etcdserver: mvcc: required revision has been compacted", 11));
  const again = await gw.post("/v3/kv/compaction", { revision: now });
  expect(again.status).toBe(400);
  expect(again.json).toEqual(errorBody("etcdserver: mvcc: required revision has been compacted", 11));
  const future = await gw.post("/v3/kv/range", { key: b64("gc/k"), revision: String(Number(now) + 1000) });
  expect(future.status).toBe(400);
  expect(future.json).toEqual(errorBody("etcdserver: mvcc: required revision is a future revision", 11));
  expect(unb64((await gw.range("gc/k")).kvs[0].value)).toBe("3");
});

test("bad JSON and bad base64 are rejected with code 3 and HTTP 400, nothing written", async () => {
  const { gw } = env();
  const before = (await gw.range("gb/k")).header.revision;
  const badJson = await gw.post("/v3/kv/put", '{"key": "Z2Iv", bad');
  expect(badJson.status).toBe(400);
  expect(badJson.json.code).toBe(3);
  expect(typeof badJson.json.error).toBe("string");
  expect(badJson.json.error.length).toBeGreaterThan(0);
  expect(badJson.json.message).toBe(badJson.json.error);
  const badB64 = await gw.post("/v3/kv/put", { key: "!!notbase64", value: b64("v") });
  expect(badB64.status).toBe(400);
  expect(badB64.json).toEqual(errorBody("illegal base64 data at input byte 0", 3));
  const noKey = await gw.post("/v3/kv/range", {});
  expect(noKey.status).toBe(400);
  expect(noKey.json).toEqual(errorBody("etcdserver: key is not provided", 3));
  const noKeyPut = await gw.post("/v3/kv/put", { value: b64("v") });
  expect(noKeyPut.json).toEqual(errorBody("etcdserver: key is not provided", 3));
  expect((await gw.range("gb/k")).header.revision).toBe(before);
});
