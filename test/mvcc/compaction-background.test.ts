import { afterEach, expect, test } from "bun:test";
import { fmtKvs, Harness } from "../state/harness.ts";

let h: Harness;
afterEach(async () => h?.close());

const revisions = async (hh: Harness) =>
  ((await (hh.sm as any).db.execute("SELECT revision FROM kv ORDER BY revision")).rows as any[]).map((r) => Number(r[0]));

test("compaction runs in small batches while applies continue, and the result is exact", async () => {
  h = await new Harness({ compactionBatchLimit: 1 }).open();
  for (let i = 0; i < 40; i++) await h.put(`k${i % 4}`, `${i}`); // revs 2..41
  await h.do({ compaction: { revision: 30n } });
  // applies interleave with the background deletion
  const writes = [];
  for (let i = 0; i < 10; i++) writes.push(h.put(`k${i % 4}`, `late${i}`)); // revs 42..51
  await Promise.all(writes);
  await h.sm.compactionDone();
  // latest ≤ 30 of each key: k0@30? revs 2+i hold k(i%4): k0 at 2,6,...,30; k1 at 27; k2 at 28; k3 at 29
  const rows = await revisions(h);
  expect(rows.filter((r) => r <= 30)).toEqual([27, 28, 29, 30]);
  expect(rows.filter((r) => r > 30).length).toBe(21);
  expect(fmtKvs((await h.get("k0", { revision: 30n })).kvs)).toEqual(["k0=28 c2 m30 v8"]);
  expect(fmtKvs((await h.get("k3")).kvs)).toEqual(["k3=late7 c5 m49 v12"]);
});

test("an unfinished physical compaction resumes after restart", async () => {
  h = await new Harness({ compactionBatchLimit: 1 }).open();
  for (let i = 0; i < 20; i++) await h.put("k", `${i}`); // 2..21
  await h.do({ compaction: { revision: 20n } });
  await h.sm.close(); // stops the background deletion early
  await h.open();
  await h.sm.compactionDone();
  expect(await revisions(h)).toEqual([20, 21]);
  expect(h.sm.compactRevision).toBe(20);
  expect(fmtKvs((await h.get("k", { revision: 20n })).kvs)).toEqual(["k=18 c2 m20 v19"]);
});
