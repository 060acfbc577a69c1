// The state file's compaction and reclamation batches timed without the member: a copy of a
// state.db (e.g. restored from a synthetic snapshot, see bench/reclaim.ts), compaction of every
// revision below the newest in batches of 100 revisions, then `PRAGMA incremental_vacuum(n)`
// until the free list is empty; prints p50/p99/max of each kind of batch.
// Usage: bun bench/reclaim-steps.ts <state.db> [n=64] [wal_autocheckpoint=1000]
import { copyFileSync, rmSync } from "node:fs";
import { SqlDb } from "../src/storage/sql-db.ts";

const [src, nArg, ckArg] = process.argv.slice(2);
if (src === undefined) throw new Error("usage: bun bench/reclaim-steps.ts <state.db> [n] [wal_autocheckpoint]");
const n = Number(nArg ?? 64);
const f = `${src}.steps-copy`;
for (const s of ["", "-wal", "-shm"]) rmSync(f + s, { force: true });
copyFileSync(src, f);
const db = new SqlDb(f);
db.executeMultiple(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=${Number(ckArg ?? 1000)};`);
const c = Number(db.execute("SELECT MAX(revision) FROM kv").rows[0]![0]);
const pct = (a: number[]) => {
  a.sort((x, y) => x - y);
  const at = (q: number) => a[Math.min(a.length - 1, Math.floor(a.length * q))]!.toFixed(2);
  return `n=${a.length} p50=${at(0.5)} p99=${at(0.99)} max=${at(1)} ms, sum=${a.reduce((x, y) => x + y, 0).toFixed(0)} ms`;
};
let t: number[] = [];
for (let lo = 0; lo < c; lo += 100) {
  const t0 = performance.now();
  db.batch([
    {
      sql: "DELETE FROM kv WHERE rowid IN (SELECT a.rowid FROM kv a WHERE a.revision > ? AND a.revision <= ? AND (a.tombstone = 1 OR EXISTS (SELECT 1 FROM kv b WHERE b.key = a.key AND b.revision > a.revision AND b.revision <= ?)))",
      args: [lo, Math.min(lo + 100, c), c],
    },
  ]);
  t.push(performance.now() - t0);
}
console.log("compaction batches:", pct(t));
t = [];
while (Number(db.execute("SELECT * FROM pragma_freelist_count()").rows[0]![0]) > 0) {
  const t0 = performance.now();
  db.executeMultiple(`PRAGMA incremental_vacuum(${n})`);
  t.push(performance.now() - t0);
}
console.log(`vacuum batches of ${n} pages:`, pct(t));
db.close();
for (const s of ["", "-wal", "-shm"]) rmSync(f + s, { force: true });
