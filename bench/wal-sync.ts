// The WAL's append + sync cycle alone, as a lone client's put makes it (one 300-byte entry and a
// hardState per sync), with segments preallocated or growing, fsync inline or through the pool.
// Prints microseconds per cycle for 4 rounds and their median. The directory is under /tmp
// unless WAL_BENCH_DIR names another file system.
//   bun bench/wal-sync.ts
import { openWal } from "../src/storage/index.ts";
import { mkdtempSync, rmSync } from "node:fs";
const n = 2000;
const data = new Uint8Array(300).fill(7);
async function run(prealloc: boolean, inline: boolean): Promise<number> {
  const dir = mkdtempSync(`${process.env.WAL_BENCH_DIR ?? "/tmp"}/wal-bench-`);
  const { wal } = await openWal(dir, { preallocate: prealloc });
  const t0 = performance.now();
  for (let i = 1; i <= n; i++) {
    wal.append([{ index: i, term: 1, type: 0, data }]);
    wal.setHardState({ term: 1, vote: 1n, commit: i });
    await wal.sync(inline);
  }
  const us = ((performance.now() - t0) * 1000) / n;
  await wal.close();
  rmSync(dir, { recursive: true, force: true });
  return us;
}
const res: Record<string, number[]> = {};
for (let r = 0; r < 4; r++) for (const p of [false, true]) for (const inl of [true, false]) (res[`prealloc=${p} inline=${inl}`] ??= []).push(await run(p, inl));
for (const [k, v] of Object.entries(res)) console.log(k, v.map((x) => x.toFixed(0)).join(" "), "median", v.sort((a, b) => a - b)[2]!.toFixed(0));
