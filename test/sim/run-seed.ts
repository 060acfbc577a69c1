// Runs one simulated cluster and checks it: the history must be linearizable, every index must
// commit the same entry everywhere (asserted inside the simulator), and a leader must emerge
// once faults stop. Returns a description of the failure, or undefined.

import { Cluster, type FaultProfile } from "./cluster.ts";
import { checkKv } from "./linearizability.ts";

export interface SeedOutcome {
  readonly failure: string | undefined;
  readonly stats: Record<string, number>;
}

export function runSeed(seed: number, profile: FaultProfile, log?: (line: string) => void): SeedOutcome {
  const lines: string[] = [];
  try {
    const { history, stats } = new Cluster({ seed, profile, log: log ?? ((l) => lines.push(l)) }).run();
    const bad = checkKv(history);
    if (bad.length > 0) return { failure: `history not linearizable for keys ${bad.join(",")}`, stats };
    if (stats["leader-at-end"] !== 1) return { failure: "no leader after the quiet period", stats };
    return { failure: undefined, stats };
  } catch (e) {
    return { failure: `${(e as Error).stack}\n${lines.slice(-20).join("\n")}`, stats: {} };
  }
}

/** How to rerun one seed of a profile on its own, with its event log printed. */
export function rerunHint(seed: number, profile: FaultProfile): string {
  return `SEED=${seed} PROFILE=${profile}${process.env.MUTANT ? ` MUTANT=${process.env.MUTANT}` : ""} node_modules/.bin/bun test test/sim/sim.test.ts`;
}
