// Proves the simulators would notice each kind of safety bug: every mutant of the Raft core
// (mutants.ts) must make some churn seed of the core simulator fail within a bounded number of
// seeds, and every mutant of the member (a broken apply, broken leases) some seed of the member
// simulator on the real server code. If a mutant survives, a simulator has lost the fault
// schedule that exposes it.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { runFile } from "../raft/harness/datadriven.ts";
import { InteractionEnv } from "../raft/harness/env.ts";
import { install, mutants, withMutant, type MutantName } from "./mutants.ts";
import { runSeed } from "./run-seed.ts";
import { runMemberSeed } from "./member/run-member-seed.ts";

/** Seeds tried per mutant; the first failure ends the search. */
const BOUND = 60;
const MEMBER_BOUND = 200;

const names = Object.keys(mutants) as MutantName[];

for (const name of names.filter((n) => mutants[n].sim === "core")) {
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

/** Member mutants: which seed caught each (the unbroken member is run on it afterwards). */
const caughtBy = new Map<MutantName, number>();

for (const name of names.filter((n) => mutants[n].sim === "member")) {
  test(`mutant ${name} (${mutants[name].breaks}) is caught within ${MEMBER_BOUND} member seeds`, async () => {
    const restore = install(name);
    let caught: { seed: number; failure: string } | undefined;
    try {
      for (let seed = 1; seed <= MEMBER_BOUND && caught === undefined; seed++) {
        const { failure } = await runMemberSeed(seed);
        if (failure !== undefined) caught = { seed, failure: failure.split("\n")[0]! };
      }
    } finally {
      restore();
    }
    if (caught) {
      console.log(`mutant ${name}: caught by member seed ${caught.seed}: ${caught.failure}`);
      caughtBy.set(name, caught.seed);
    }
    expect(caught).toBeDefined();
  }, 300_000);
}

test("member mutants are removed after use: the unbroken member passes the seeds that caught them", async () => {
  for (const seed of new Set(caughtBy.values())) expect((await runMemberSeed(seed)).failure).toBeUndefined();
});

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
