// Runs the cluster simulator over many seeds and checks each client history for
// linearizability. Rerun one seed with: SEED=<n> bun test test/sim/sim.test.ts
import { expect, test } from "bun:test";
import { Cluster } from "./cluster.ts";
import { checkKv } from "./linearizability.ts";

const only = process.env.SEED;
const seeds = only !== undefined ? [Number(only)] : Array.from({ length: Number(process.env.SEEDS ?? 200) }, (_, i) => i + 1);

test(`simulated clusters stay linearizable (${seeds.length} seeds)`, () => {
  const failures: string[] = [];
  const totals: Record<string, number> = {};
  for (const seed of seeds) {
    const lines: string[] = [];
    try {
      const { history, stats } = new Cluster({ seed, log: only !== undefined ? (l) => console.log(l) : (l) => lines.push(l) }).run();
      for (const [k, v] of Object.entries(stats)) totals[k] = (totals[k] ?? 0) + v;
      const bad = checkKv(history);
      if (bad.length > 0) failures.push(`seed ${seed}: history not linearizable for keys ${bad.join(",")}`);
      if (stats["leader-at-end"] !== 1) failures.push(`seed ${seed}: no leader after the quiet period`);
    } catch (e) {
      failures.push(`seed ${seed}: ${(e as Error).stack}\n${lines.slice(-20).join("\n")}`);
    }
  }
  if (only !== undefined || process.env.SIM_STATS) console.log(totals);
  if (failures.length > 0) {
    console.error(failures.join("\n\n"));
    console.error(`rerun one seed with: SEED=<n> node_modules/.bin/bun test test/sim/sim.test.ts`);
  }
  expect(failures).toEqual([]);
  // The run must have exercised the interesting paths, or it proves little.
  if (only === undefined && seeds.length >= 50) {
    for (const k of ["put-ok", "get-ok", "crash", "partition", "compact", "snapshot-installed", "transfer", "confchange-3"]) {
      expect(totals[k] ?? 0).toBeGreaterThan(0);
    }
  }
}, 120_000);
