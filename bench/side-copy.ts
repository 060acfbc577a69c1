// The side copy's defragment timed without the member: a state file of `--mb` MB (1.2 KB values,
// 8 revisions per key), every revision but each key's newest deleted (as a compaction leaves
// it), then the copy, the replay and the switch (src/server/side-copy-switch.ts) while this
// thread writes put-sized groups as fast as it can; prints how long each write took (the
// longest is the stall a client sees), the copy's time and the switch's hold.
// Usage: bun bench/side-copy.ts [--mb 500] [--dir /tmp/side-copy-bench] [--keep]
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { SqlDb } from "../src/storage/sql-db.ts";
import { stateDdl, statePragmas } from "../src/storage/schema.ts";
import { defragBySideCopy } from "../src/server/side-copy-switch.ts";
import { startCheckpointer } from "../src/runtime/checkpointer.ts";

const { values } = parseArgs({ options: { mb: { type: "string", default: "500" }, dir: { type: "string", default: "/tmp/side-copy-bench" }, keep: { type: "boolean", default: false } } });
const dir = values.dir!;
const path = `${dir}/state.db`;
const seed = `${dir}/seed-${values.mb}.db`;
mkdirSync(dir, { recursive: true });
const value = new Uint8Array(1200).fill(7);
if (!existsSync(seed)) {
  const db = new SqlDb(seed);
  for (const p of statePragmas) db.executeMultiple(p);
  for (const d of stateDdl) db.execute(d);
  const revisions = Math.floor((Number(values.mb) * 1024 * 1024) / 1330);
  const keys = Math.ceil(revisions / 8);
  for (let r = 1; r <= revisions; ) {
    const batch = [];
    for (let i = 0; i < 5000 && r <= revisions; i++, r++) {
      batch.push({ sql: "INSERT INTO kv VALUES (?, 0, ?, ?, ?, 1, '0', 0)", args: [r, new TextEncoder().encode(`key-${r % keys}`), value, r] });
    }
    db.batch(batch);
  }
  db.execute({ sql: "UPDATE meta SET revision = ? WHERE id = 1", args: [revisions] });
  db.execute("DELETE FROM kv WHERE rowid NOT IN (SELECT rowid FROM kv a WHERE a.revision = (SELECT MAX(revision) FROM kv b WHERE b.key = a.key))");
  db.executeMultiple("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
}
for (const s of ["", "-wal", "-shm"]) rmSync(path + s, { force: true });
await Bun.write(path, Bun.file(seed));
// Written back before the run: the copy's dirty pages would otherwise throttle the writes timed.
{
  const { openSync, fsyncSync, closeSync } = await import("node:fs");
  const fd = openSync(path, "r+");
  fsyncSync(fd);
  closeSync(fd);
}

const db = new SqlDb(path);
for (const p of statePragmas) db.executeMultiple(p);
// As the member runs background work: WAL checkpoints on their own thread.
const cp = await startCheckpointer(path);
db.executeMultiple("PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=4194304;");
const size = () => statSync(path).size / 1e6;
const pages = () => db.execute("SELECT * FROM pragma_page_count(), pragma_freelist_count()").rows[0]!;
console.log(`state file ${size().toFixed(0)} MB, pages/free ${pages().join("/")}, load ${(await Bun.file("/proc/loadavg").text()).trim()}`);

// The writer: put-sized groups back to back (each its own commit), timed one by one.
let rev = Number(db.execute("SELECT revision FROM meta").rows[0]![0]);
const times: number[] = [];
const at: number[] = [];
const marks: Array<[string, number]> = [];
let chain: Promise<unknown> = Promise.resolve();
const serial = <T>(fn: () => T | Promise<T>): Promise<T> => {
  const p = chain.then(fn);
  chain = p.catch(() => undefined);
  return p;
};
let writing = true;
const key = new TextEncoder().encode("bench-key");
const writer = (async () => {
  while (writing) {
    const t0 = performance.now();
    await serial(() => {
      rev++;
      db.batch([
        { sql: "INSERT INTO kv VALUES (?, 0, ?, ?, ?, 1, '0', 0)", args: [rev, key, value, rev] },
        { sql: "UPDATE meta SET applied_index = ?, revision = ? WHERE id = 1", args: [rev, rev] },
      ]);
    });
    times.push(performance.now() - t0);
    at.push(t0);
    await new Promise((r) => setImmediate(r));
  }
})();

const t0 = performance.now();
const holds: Array<[string, number]> = [];
const result = await defragBySideCopy(
  {
    db,
    path,
    pragmas: statePragmas,
    closed: false,
    fail: (e) => {
      throw e;
    },
    serial: (kind, fn) =>
      serial(async () => {
        const h = performance.now();
        marks.push([kind, h]);
        try {
          return await fn();
        } finally {
          holds.push([kind, performance.now() - h]);
        }
      }),
    othersClosed: () => true,
    readersGone: async () => {
      await cp.caughtUp(0);
      db.executeMultiple("PRAGMA wal_autocheckpoint=1000");
      await cp.stop();
      return true;
    },
  },
  () => performance.now(),
);
const total = performance.now() - t0;
await new Promise((r) => setTimeout(r, 200));
writing = false;
await writer;
const sorted = [...times].sort((a, b) => a - b);
const q = (x: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * x))]!.toFixed(2);
console.log(JSON.stringify(result));
console.log(`defrag ${total.toFixed(0)} ms; holds ${holds.map(([k, ms]) => `${k} ${ms.toFixed(2)} ms`).join(", ")}`);
const top = times.map((d, i) => [d, at[i]!] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
console.log(`slowest writes (ms at ms after start): ${top.map(([d, t]) => `${d.toFixed(1)}@${(t - t0).toFixed(0)}`).join(" ")}; steps at ${marks.map(([k, t]) => `${k}@${(t - t0).toFixed(0)}`).join(" ")}`);
console.log(`writes ${times.length}: p50 ${q(0.5)} p99 ${q(0.99)} max ${q(1)} ms`);
console.log(`state file ${size().toFixed(0)} MB, pages/free ${pages().join("/")}, rows ${db.execute("SELECT COUNT(*) FROM kv").rows[0]![0]}, revision ${db.execute("SELECT revision FROM meta").rows[0]![0]} (wrote to ${rev}), integrity ${db.execute("PRAGMA integrity_check").rows[0]![0]}`);
console.log(`load ${(await Bun.file("/proc/loadavg").text()).trim()}`);
db.close();
if (!values.keep) for (const s of ["", "-wal", "-shm"]) rmSync(path + s, { force: true });
