// Runs every scripted interaction in test/raft/testdata. REWRITE=1 regenerates expected output.
// MUTANT=<name> runs them against a deliberately broken core (test/sim/mutants.ts).
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { runFile } from "./harness/datadriven.ts";
import { InteractionEnv } from "./harness/env.ts";
import { installFromEnv } from "../sim/mutants.ts";

installFromEnv();

const dir = join(import.meta.dir, "testdata");

for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
  test(`script ${file}`, () => {
    const env = new InteractionEnv();
    const { failures } = runFile(join(dir, file), (tc) => env.handle(tc));
    if (failures.length > 0) console.error(failures.join("\n\n"));
    expect(failures).toEqual([]);
  });
}
