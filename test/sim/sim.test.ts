// Runs the cluster simulator over many seeds in two fault profiles and checks each client
// history for linearizability. Rerun one seed (its event log printed) with:
//   SEED=<n> PROFILE=<random|churn> node_modules/.bin/bun test test/sim/sim.test.ts
// MUTANT=<name> runs everything against a deliberately broken core (see mutants.ts): it must fail.
import { expect, test } from "bun:test";
import type { FaultProfile } from "./cluster.ts";
import { installFromEnv } from "./mutants.ts";
import { rerunHint, runSeed } from "./run-seed.ts";

installFromEnv();

const only = process.env.SEED;
const onlyProfile = process.env.PROFILE as FaultProfile | undefined;

function seedsFor(profile: FaultProfile, dflt: number): number[] {
  if (only !== undefined) return (onlyProfile ?? "random") === profile ? [Number(only)] : [];
  const n = Number(process.env[profile === "random" ? "SEEDS" : "CHURN_SEEDS"] ?? dflt);
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The paths each profile must have exercised, or the run proves little. */
const mustSee: Record<FaultProfile, string[]> = {
  random: ["put-ok", "get-ok", "crash", "partition", "compact", "snapshot-installed", "transfer", "confchange-3"],
  churn: ["put-ok", "get-ok", "isolate-leader", "rejoin", "pattern", "pattern-struck", "compact"],
};

for (const [profile, dflt] of [["random", 200], ["churn", 100]] as const) {
  const seeds = seedsFor(profile, dflt);
  if (seeds.length === 0) continue;
  test(`simulated clusters stay linearizable: ${profile} faults (${seeds.length} seeds)`, () => {
    const failures: string[] = [];
    const totals: Record<string, number> = {};
    for (const seed of seeds) {
      const { failure, stats } = runSeed(seed, profile, only !== undefined ? (l) => console.log(l) : undefined);
      for (const [k, v] of Object.entries(stats)) totals[k] = (totals[k] ?? 0) + v;
      if (failure !== undefined) failures.push(`${profile} seed ${seed}: ${failure}`);
    }
    if (only !== undefined || process.env.SIM_STATS) console.log(totals);
    if (failures.length > 0) {
      console.error(failures.join("\n\n"));
      const first = Number(/seed (\d+)/.exec(failures[0]!)![1]);
      console.error(`failing seeds: ${failures.map((f) => /seed (\d+)/.exec(f)![1]).join(" ")}\nrerun one with: ${rerunHint(first, profile)}`);
    }
    expect(failures).toEqual([]);
    if (only === undefined && seeds.length >= 50) {
      for (const k of mustSee[profile]) expect(totals[k] ?? 0).toBeGreaterThan(0);
    }
  }, 120_000);
}
