// `conclave ctl check datascale` and the argument errors of both check commands beside
// etcdctl's, against the target member: the same lines (the memory figure is the member's own,
// and etcdctl draws its progress bar on stdout even in a pipe, where conclave ctl draws none),
// the written keys removed afterwards, the same exit codes.
import { expect, test } from "bun:test";
import { lastError, runConclaveCtl, runEtcdctlRaw } from "../helpers/conclave-ctl.ts";
import { useMember } from "../helpers/index.ts";

const env = useMember();
const ep = () => `--endpoints=${env().member.endpoint}`;

/** The lines that must match: the progress bar (etcdctl's "\r … / 10000 …" line) and the MB figure left out. */
const shape = (out: string) =>
  out
    .split("\n")
    .filter((l) => !l.includes("\r"))
    .map((l) => l.replace(/used : -?[\d.]+ MB/, "used : N MB").replace(/revision \d+/, "revision N"));

test("check datascale --auto-compact --auto-defrag: the start line, the verdict, the keys removed, the compaction and defrag lines", async () => {
  for (const extra of [["--auto-compact", "--auto-defrag"]]) {
    const a = await runEtcdctlRaw([ep(), "check", "datascale", ...extra], { timeoutMs: 120_000 });
    const b = await runConclaveCtl([ep(), "check", "datascale", ...extra], { timeoutMs: 120_000 });
    expect({ extra, code: b.code, stdout: shape(b.stdout), stderr: b.stderr }).toEqual({ extra, code: a.code, stdout: shape(a.stdout), stderr: a.stderr });
    expect(b.stdout).toMatch(/^Start data scale check for work load \[10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients\]\.\n/);
    expect(b.stdout).toMatch(/PASS: Approximate system memory used : -?\d+\.\d\d MB\.\n$/);
    const left = await runConclaveCtl([ep(), "get", "/etcdctl-check-datascale/", "--prefix", "--keys-only", "--limit", "1", "-w", "json"]);
    expect(left.code).toBe(0);
    expect(JSON.parse(left.stdout).count ?? 0).toBe(0);
    expect(b.stdout).toContain("Compacting with revision");
    expect(b.stdout).toContain(`Defragmented "${env().member.endpoint}"`);
  }
}, 300_000);

test("check errors: unknown loads, a prefix that holds keys, as etcdctl's", async () => {
  await runEtcdctlRaw([ep(), "put", "/busy/k", "v"]);
  for (const args of [
    ["check", "datascale", "--load", "huge"],
    ["check", "perf", "--load", "huge"],
    ["check", "datascale", "--prefix", "/busy/"],
    ["check", "perf", "--prefix", "/busy/"],
    ["check", "bogus"],
  ]) {
    const a = await runEtcdctlRaw([ep(), ...args]);
    const b = await runConclaveCtl([ep(), ...args]);
    expect({ args, code: b.code, err: lastError(b) }).toEqual({ args, code: a.code, err: lastError(a) });
  }
}, 60_000);
