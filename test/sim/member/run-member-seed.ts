// Runs one member-simulator seed and checks it: the history must be linearizable, leases must
// neither expire early nor outlive their TTL, and the members must converge with a leader.
import { checkKv } from "../linearizability.ts";
import { MemberCluster } from "./member-cluster.ts";

export interface MemberSeedOutcome {
  readonly failure: string | undefined;
  readonly stats: Record<string, number>;
}

export async function runMemberSeed(seed: number, log?: (line: string) => void): Promise<MemberSeedOutcome> {
  const lines: string[] = [];
  try {
    const { history, problems, stats } = await new MemberCluster({ seed, log: log ?? ((l) => lines.push(l)) }).run();
    const bad = checkKv(history);
    if (bad.length > 0) problems.unshift(`history not linearizable for keys ${bad.join(",")}`);
    if (problems.length > 0) return { failure: `${problems.join("\n")}\n${lines.slice(-15).join("\n")}`, stats };
    return { failure: undefined, stats };
  } catch (e) {
    return { failure: `${(e as Error).stack}\n${lines.slice(-15).join("\n")}`, stats: {} };
  }
}

/** How to rerun one seed on its own, with its event log printed. */
export function memberRerunHint(seed: number): string {
  return `MEMBER_SEED=${seed}${process.env.MUTANT ? ` MUTANT=${process.env.MUTANT}` : ""} node_modules/.bin/bun test test/sim/member-sim.test.ts`;
}
