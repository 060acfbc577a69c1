import { afterEach, expect, test } from "bun:test";
import { enc, fmtKvs, Harness } from "../state/harness.ts";

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

test("the WAL the compaction let grow is cut back in steps once the checkpointer stops", async () => {
  const { startCheckpointer } = await import("../../src/runtime/checkpointer.ts");
  const { statSync } = await import("node:fs");
  const Database = (await import("libsql")).default;
  h = await new Harness({ compactionBatchLimit: 200, openCheckpointer: (p) => startCheckpointer(p) }).open();
  const value = "v".repeat(3000);
  for (let i = 0; i < 60; i++) await h.batch(Array.from({ length: 100 }, (_, j) => ({ put: { key: enc(`k${j % 4}`), value: enc(`${i}.${j}${value}`) } })));
  const walSize = () => statSync(`${h.path}-wal`).size;
  // A reader of an early snapshot keeps the WAL from restarting while the compaction deletes
  // (as a snapshot stream or a trailing checkpointer does), so it grows.
  const reader = new Database(h.path);
  reader.exec("BEGIN");
  reader.prepare("SELECT COUNT(*) FROM kv").all();
  await h.do({ compaction: { revision: 6000n } });
  for (let i = 0; i < 500 && walSize() < 12 << 20; i++) await new Promise((r) => setTimeout(r, 10));
  expect(walSize()).toBeGreaterThanOrEqual(12 << 20);
  reader.exec("COMMIT");
  reader.close();
  await h.sm.compactionDone();
  // Writes go on: the first after everything was copied restarts the WAL, which is then cut back.
  for (let i = 0; i < 300 && walSize() > 4 << 20; i++) {
    await h.put("after", `${i}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(walSize()).toBeLessThanOrEqual(4 << 20);
  expect(fmtKvs((await h.get("k3")).kvs)).toEqual([`k3=59.99${value} c5 m6001 v1500`]);
}, 60_000);
