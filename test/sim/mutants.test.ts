// Proves the simulator would notice each kind of safety bug: every mutant of the Raft core
// (mutants.ts) must make some churn seed fail within a bounded number of seeds. If a mutant
// survives, the simulator has lost the fault schedule that exposes it.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { runFile } from "../raft/harness/datadriven.ts";
import { InteractionEnv } from "../raft/harness/env.ts";
import { mutants, withMutant, type MutantName } from "./mutants.ts";
import { runSeed } from "./run-seed.ts";

/** Seeds tried per mutant; the first failure ends the search. */
const BOUND = 60;

for (const name of Object.keys(mutants) as MutantName[]) {
  test(`mutant ${name} (${mutants[name].breaks}) is caught within ${BOUND} churn seeds`, () => {
    const caught = withMutant(name, () => {
      for (let seed = 1; seed <= BOUND; seed++) {
        const { failure } = runSeed(seed, "churn");
        if (failure !== undefined) return { seed, failure: failure.split("\n")[0]! };
      }
      return undefined;
    });
    if (caught) console.log(`mutant ${name}: caught by churn seed ${caught.seed}: ${caught.failure}`);
    expect(caught).toBeDefined();
  }, 60_000);
}

test("mutants are removed after use: the unbroken core passes the seeds that caught them", () => {
  for (const seed of [1, 17]) expect(runSeed(seed, "churn").failure).toBeUndefined();
});

test("the scripted Figure 3.7 scenario fails under commit-old-term and passes without it", () => {
  const file = join(import.meta.dir, "../raft/testdata/commit_old_term.txt");
  const run = () => {
    const env = new InteractionEnv();
    return runFile(file, (tc) => env.handle(tc)).failures.length;
  };
  expect(run()).toBe(0);
  expect(withMutant("commit-old-term", run)).toBeGreaterThan(0);
});
