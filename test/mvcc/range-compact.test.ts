import { afterEach, expect, test } from "bun:test";
import { Errors } from "../../src/rpctypes/index.ts";
import { dec, enc, fmtKvs, Harness } from "../state/harness.ts";

let h: Harness;
afterEach(async () => h?.close());

const keys = (r: any) => r.kvs.map((kv: any) => dec(kv.key));

test("range options: prefix/all, limit+more+count, sort (NONE→ASCEND), keys_only, count_only, min/max filters", async () => {
  h = await new Harness().open();
  await h.put("a", "3"); // 2
  await h.put("b", "1"); // 3
  await h.put("c", "2"); // 4
  await h.put("a", "4"); // 5 (a: v2, c2, m5)
  await h.put("d\xff", "0"); // 6
  expect(keys(await h.get("\0", { rangeEnd: enc("\0") }))).toEqual(["a", "b", "c", "d\xff"]);
  expect(keys(await h.get("b", { rangeEnd: enc("\0") }))).toEqual(["b", "c", "d\xff"]);
  const lim = await h.get("a", { rangeEnd: enc("z"), limit: 2n });
  expect([keys(lim), lim.more, lim.count]).toEqual([["a", "b"], true, 4n]);
  const lim4 = await h.get("a", { rangeEnd: enc("z"), limit: 4n });
  expect([lim4.more, lim4.count]).toEqual([false, 4n]);
  // sort target VALUE with order NONE means ASCEND
  expect(keys(await h.get("a", { rangeEnd: enc("z"), sortTarget: 4 }))).toEqual(["d\xff", "b", "c", "a"]);
  expect(keys(await h.get("a", { rangeEnd: enc("z"), sortOrder: 2 }))).toEqual(["d\xff", "c", "b", "a"]);
  const byMod = await h.get("a", { rangeEnd: enc("z"), sortTarget: 3, sortOrder: 2, limit: 2n });
  expect([keys(byMod), byMod.more]).toEqual([["d\xff", "a"], true]);
  expect(keys(await h.get("a", { rangeEnd: enc("z"), sortTarget: 2, sortOrder: 1 }))).toEqual(["a", "b", "c", "d\xff"]);
  expect(keys(await h.get("a", { rangeEnd: enc("z"), sortTarget: 1, sortOrder: 2 }))[0]).toBe("a");
  const ko = await h.get("a", { keysOnly: true });
  expect([keys(ko), ko.kvs[0].value.length, ko.kvs[0].version]).toEqual([["a"], 0, 2n]);
  const co = await h.get("a", { rangeEnd: enc("z"), countOnly: true });
  expect([co.kvs.length, co.count]).toEqual([0, 4n]);
  const f = await h.get("a", { rangeEnd: enc("z"), minModRevision: 4n, maxModRevision: 5n });
  expect([keys(f), f.count]).toEqual([["a", "c"], 4n]);
  expect(keys(await h.get("a", { rangeEnd: enc("z"), minCreateRevision: 3n, maxCreateRevision: 4n }))).toEqual(["b", "c"]);
  // the same options at an older revision, from history
  const old = await h.get("a", { rangeEnd: enc("z"), revision: 4n, sortOrder: 2 });
  expect(fmtKvs(old.kvs)).toEqual(["c=2 c4 m4 v1", "b=1 c3 m3 v1", "a=3 c2 m2 v1"]);
  expect(old.header.revision).toBe(6n);
});

test("compaction: errors, history kept at the compact revision, superseded rows deleted, hashKV stable", async () => {
  h = await new Harness({ compactionBatchLimit: 2 }).open();
  for (let i = 1; i <= 5; i++) await h.put("k", `v${i}`); // revs 2..6
  await h.put("gone", "x"); // 7
  await h.do({ deleteRange: { key: enc("gone") } }); // 8
  await h.put("other", "o"); // 9
  const hashBefore = await h.sm.hashKV(9);
  expect(await h.do({ compaction: { revision: 10n } })).toBe(Errors.futureRev);
  const c = await h.do({ compaction: { revision: 8n } });
  expect(c.header.revision).toBe(9n);
  expect(h.sm.compactRevision).toBe(8);
  expect(await h.do({ compaction: { revision: 8n } })).toBe(Errors.compacted);
  await h.sm.compactionDone();
  await expect(h.get("k", { revision: 7n })).rejects.toBe(Errors.compacted);
  expect(fmtKvs((await h.get("k", { revision: 8n })).kvs)).toEqual(["k=v5 c2 m6 v5"]);
  expect((await h.get("gone", { revision: 8n })).kvs).toEqual([]);
  expect(fmtKvs((await h.get("\0", { rangeEnd: enc("\0") })).kvs)).toEqual(["k=v5 c2 m6 v5", "other=o c9 m9 v1"]);
  // only the rows that matter at rev ≥ 8 remain: k@6, other@9
  const rows = await (h.sm as any).db.execute("SELECT revision FROM kv ORDER BY revision");
  expect(rows.rows.map((r: any) => Number(r[0]))).toEqual([6, 9]);
  const after = await h.sm.hashKV(9);
  expect(after.compactRevision).toBe(8);
  expect(after.hash).not.toBe(hashBefore.hash); // compaction changes what is hashed
  expect((await h.sm.hashKV(9)).hash).toBe(after.hash);
  await h.reopen();
  expect((await h.sm.hashKV(9)).hash).toBe(after.hash);
  expect(h.sm.compactRevision).toBe(8);
});

test("hashKV: members with the same history agree, whatever the progress of physical compaction", async () => {
  h = await new Harness().open();
  const other = await new Harness().open();
  try {
    const reqs = [
      { put: { key: enc("a"), value: enc("1") } },
      { put: { key: enc("a"), value: enc("2") } },
      { put: { key: enc("b"), value: enc("3") } },
      { deleteRange: { key: enc("b") } },
      { compaction: { revision: 4n } },
    ];
    await h.batch(reqs);
    await h.sm.compactionDone();
    // the other member has the same log but its background deletion has not run yet
    await other.batch(reqs.slice(0, 4));
    (other.sm as any).store.compactRevision = 4;
    expect((await other.sm.hashKV(0)).hash).toBe((await h.sm.hashKV(0)).hash);
    expect((await other.sm.hashKV(5)).hash).toBe((await h.sm.hashKV(5)).hash);
    // As etcd: the compaction revision itself is refused too.
    await expect(h.sm.hashKV(4)).rejects.toBe(Errors.compacted);
    await expect(h.sm.hashKV(3)).rejects.toBe(Errors.compacted);
  } finally {
    await other.close();
  }
});
