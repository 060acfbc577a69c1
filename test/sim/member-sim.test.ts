// The seeded simulator on the real member code (test/sim/member): three members of the real
// server, raft loop, applier chain, MVCC and lease code on virtual time, through partitions,
// crashes with and without power loss, cluster-wide power failures and wall-clock jumps.
// Every seed's history is checked for linearizability and lease expiry, and the members for
// convergence. Rerun one seed with its event log printed:
//   MEMBER_SEED=<n> node_modules/.bin/bun test test/sim/member-sim.test.ts
// Nightly-sized run: MEMBER_SEEDS=3000 node_modules/.bin/bun test test/sim/member-sim.test.ts
import { expect, test } from "bun:test";
import { installFromEnv } from "./mutants.ts";
import { memberRerunHint, runMemberSeed } from "./member/run-member-seed.ts";

installFromEnv();

const only = process.env.MEMBER_SEED;
const seeds = only !== undefined ? [Number(only)] : Array.from({ length: Number(process.env.MEMBER_SEEDS ?? 60) }, (_, i) => i + 1);

/** The paths the seeds must have exercised, or the run proves little. */
const mustSee = ["put-ok", "get-ok", "crash-power", "crash-process", "restart", "partition", "clock-jump", "lease-renewed", "lease-expired"];

test(`the real member code stays linearizable under faults (${seeds.length} seeds)`, async () => {
  const failures: string[] = [];
  const totals: Record<string, number> = {};
  for (const seed of seeds) {
    const { failure, stats } = await runMemberSeed(seed, only !== undefined ? (l) => console.log(l) : undefined);
    for (const [k, v] of Object.entries(stats)) totals[k] = (totals[k] ?? 0) + v;
    if (failure !== undefined) failures.push(`member seed ${seed}: ${failure}`);
  }
  if (only !== undefined || process.env.SIM_STATS) console.log(totals);
  if (failures.length > 0) {
    console.error(failures.join("\n\n"));
    const first = Number(/seed (\d+)/.exec(failures[0]!)![1]);
    console.error(`failing seeds: ${failures.map((f) => /seed (\d+)/.exec(f)![1]).join(" ")}\nrerun one with: ${memberRerunHint(first)}`);
  }
  expect(failures).toEqual([]);
  if (only === undefined && seeds.length >= 30) for (const k of mustSee) expect(totals[k] ?? 0).toBeGreaterThan(0);
}, 600_000);
