// Child process for crash.test.ts: appends batches to a RaftLog forever, printing each batch's
// last index once sync() has resolved. The parent SIGKILLs it at random moments.
// Usage: bun crash-child.ts <dir> <run> <seed>
import { openRaftLog } from "../../src/storage/index.ts";
import type { Entry } from "../../src/raft/types.ts";
import { rng } from "./helpers.ts";

const [dir, runArg, seedArg] = process.argv.slice(2);
const run = Number(runArg);
const rand = rng(Number(seedArg) * 1000 + run);
const enc = new TextEncoder();
const log = await openRaftLog(dir!, { segmentBytes: 8192, warn: (m) => process.stderr.write(`${m}\n`) });
const cs = { voters: [1n], learners: [] };
for (let batch = 0; ; batch++) {
  const start = log.lastIndex() + 1;
  const n = 1 + Math.floor(rand() * 20);
  const ents: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const pad = "x".repeat(Math.floor(rand() * 200));
    ents.push({ index: start + i, term: run, type: 0, data: enc.encode(`r${run}:${start + i}:${pad}`) });
  }
  log.append(ents);
  log.setHardState({ term: run, vote: 1n, commit: start + n - 1 });
  if (batch % 40 === 39) {
    // Exercise snapshot markers and segment release under crashes too.
    const snap = start + n - 1 - 30;
    if (snap > log.snapshotMeta().index) {
      log.createSnapshot(snap, cs);
      log.compact(snap - 10 > log.firstIndex() - 1 ? snap - 10 : snap);
    }
  }
  await log.sync();
  process.stdout.write(`${start + n - 1}\n`);
}
