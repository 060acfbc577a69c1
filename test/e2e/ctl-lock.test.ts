// Two `conclave ctl lock` loops and one `etcdctl lock` loop on the same name: every critical
// section (exec form) appends "start <who>" then "end <who>" to one file; they never overlap.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { CONCLAVE_CTL_BIN, runProgram } from "../helpers/conclave-ctl.ts";
import { ETCDCTL_BIN, useMember } from "../helpers/index.ts";

const env = useMember();
const ROUNDS = 8;

test("lock: conclave ctl and etcdctl exclude each other over many rounds", async () => {
  const dir = mkdtempSync("/tmp/ctl-lock-");
  const log = `${dir}/log`;
  const ep = `--endpoints=${env().member.endpoint}`;
  const body = (who: string) => `echo start ${who} >> ${log}; sleep 0.05; echo end ${who} >> ${log}`;
  const loop = (who: string, bin: string[]) =>
    runProgram("sh", ["-c", `for i in $(seq ${ROUNDS}); do ${bin.join(" ")} ${ep} lock excl -- sh -c '${body(who)}' || exit 1; done`], { timeoutMs: 90_000 });
  const results = await Promise.all([
    loop("c1", [CONCLAVE_CTL_BIN, "ctl"]),
    loop("c2", [CONCLAVE_CTL_BIN, "ctl"]),
    loop("e1", [ETCDCTL_BIN]),
  ]);
  for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  const lines = readFileSync(log, "utf8").trimEnd().split("\n");
  expect(lines.length).toBe(3 * ROUNDS * 2);
  for (let i = 0; i < lines.length; i += 2) {
    const who = lines[i]!.split(" ")[1];
    expect([lines[i], lines[i + 1]]).toEqual([`start ${who}`, `end ${who}`]);
  }
}, 120_000);

test("lock without a command prints the owner key <name>/<lease id>, held until SIGINT", async () => {
  const { spawnProgram } = await import("../helpers/conclave-ctl.ts");
  const ep = `--endpoints=${env().member.endpoint}`;
  const p = spawnProgram(CONCLAVE_CTL_BIN, ["ctl", ep, "lock", "held"]);
  const { pollUntil } = await import("../helpers/index.ts");
  await pollUntil(() => (p.stdout().includes("\n") ? true : undefined), 15_000, "lock key printed");
  const key = p.stdout().split("\n")[0]!;
  expect(key).toMatch(/^held\/[0-9a-f]+$/);
  const held = await env().ctl.ok("get", key);
  expect(held).toBe(`${key}\n\n`);
  p.child.kill("SIGINT");
  const r = await p.done;
  expect(r.code).toBe(0);
  expect(await env().ctl.ok("get", key)).toBe("");
}, 60_000);
