// What a person sees on a terminal (run under a pseudo-terminal with util-linux `script`):
// hints naming the likely cause, progress bars, `member add`'s start command, shell completion,
// and --help for every command.
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { CONCLAVE_CTL_BIN, runConclaveCtl, runProgram } from "../helpers/conclave-ctl.ts";
import { useMember } from "../helpers/index.ts";

const env = useMember();

/** Runs a shell command line under a pseudo-terminal; returns what the terminal showed. */
async function onTerminal(cmdline: string): Promise<{ screen: string; code: number }> {
  const r = await runProgram("script", ["-qec", cmdline, "/dev/null"], { timeoutMs: 30_000 });
  return { screen: r.stdout.replace(/\r/g, ""), code: r.code };
}

const ctl = (args: string) => `${CONCLAVE_CTL_BIN} ctl ${args}`;

test("an unreachable endpoint on a terminal: the error, then a hint with the cause and the fix", async () => {
  const t = await onTerminal(ctl("--endpoints=127.0.0.1:1 --command-timeout=500ms --dial-timeout=200ms get k"));
  expect(t.code).toBe(1);
  expect(t.screen).toContain("Error: context deadline exceeded\n");
  expect(t.screen).toMatch(/hint: no endpoint of 127\.0\.0\.1:1 answered in time: check that a member listens there/);
}, 60_000);

test("an unknown command on a terminal suggests the nearest one", async () => {
  const t = await onTerminal(ctl("memebr list"));
  expect(t.code).toBe(1);
  expect(t.screen).toContain('Error: unknown command "memebr" for "conclave ctl"');
  expect(t.screen).toContain("hint: did you mean member?");
}, 60_000);

test("snapshot save shows a progress bar on a terminal and none in a pipe", async () => {
  const dir = mkdtempSync("/tmp/ctl-pty-");
  const t = await onTerminal(ctl(`--endpoints=${env().member.endpoint} snapshot save ${dir}/s.db`));
  expect(t.code).toBe(0);
  expect(t.screen).toMatch(/snapshot \[=+\] 100% [\d.]+ [kM]?B\/[\d.]+ [kM]?B/);
  expect(t.screen).toContain(`Snapshot saved at ${dir}/s.db`);
  const piped = await runConclaveCtl([`--endpoints=${env().member.endpoint}`, "snapshot", "save", `${dir}/p.db`]);
  expect(piped.stderr).toBe("");
}, 60_000);

test("snapshot restore on a terminal: a progress bar, then the restored member's start command and how to restore the others", async () => {
  const dir = mkdtempSync("/tmp/ctl-pty-restore-");
  expect((await runConclaveCtl([`--endpoints=${env().member.endpoint}`, "snapshot", "save", `${dir}/s.db`])).code).toBe(0);
  const cluster = "a=http://127.0.0.1:12380,b=http://127.0.0.1:22380";
  const t = await onTerminal(ctl(`snapshot restore ${dir}/s.db --name a --data-dir ${dir}/a --initial-cluster ${cluster} --initial-advertise-peer-urls http://127.0.0.1:12380 --initial-cluster-token tok`));
  expect(t.code).toBe(0);
  expect(t.screen).toMatch(/restore \[=+\] 100% [\d.]+ [kM]?B\/[\d.]+ [kM]?B/);
  expect(t.screen).toMatch(/restored member a \(ID [0-9a-f]+, cluster [0-9a-f]+\) into .*\/a at revision \d+/);
  expect(t.screen).toContain(`conclave --name a --data-dir ${dir}/a --initial-advertise-peer-urls http://127.0.0.1:12380 --listen-peer-urls http://127.0.0.1:12380`);
  expect(t.screen).toContain(`--initial-cluster ${cluster} --initial-cluster-token tok`);
  expect(t.screen).toContain(`conclave ctl snapshot restore ${dir}/s.db --name b --initial-advertise-peer-urls http://127.0.0.1:22380`);
}, 60_000);

test("check perf shows progress on a terminal and etcdctl's verdict lines", async () => {
  const t = await onTerminal(ctl(`--endpoints=${env().member.endpoint} check perf --duration 2`));
  expect(t.screen).toMatch(/check perf \[/);
  expect(t.screen).toMatch(/PASS: Slowest request took \d+\.\d{6}s/);
  expect(t.screen).toMatch(/(PASS|FAIL): Throughput (is|too low:) \d+ writes\/s/);
}, 30_000);

test("bash completion completes command words, subcommands and -w values", async () => {
  const script = (await runConclaveCtl(["completion", "bash"])).stdout;
  const dir = mkdtempSync("/tmp/ctl-comp-");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(`${dir}/c.bash`, script);
  const complete = async (words: string[]) => {
    const line = `source ${dir}/c.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _conclave_ctl; echo "[\${COMPREPLY[*]}]"`;
    writeFileSync(`${dir}/t.sh`, line);
    const t = await onTerminal(`bash ${dir}/t.sh`);
    return t.screen.trim();
  };
  expect(await complete(["conclave", "ctl", "mem"])).toBe("[member]");
  expect(await complete(["conclave", "ctl", "member", "p"])).toBe("[promote]");
  expect(await complete(["conclave", "ctl", "get", "--pre"])).toBe("[--prefix]");
  expect(await complete(["conclave", "ctl", "-w", "ta"])).toBe("[table]");
  for (const sh of ["zsh", "fish"]) {
    const s = (await runConclaveCtl(["completion", sh])).stdout;
    expect(s).toContain("member");
    expect(s).toContain("write-out");
  }
}, 60_000);

test("--help works for every command", async () => {
  const paths = [
    "get", "put", "del", "txn", "compaction", "watch", "lease grant", "lease keep-alive", "member add", "member list", "endpoint health",
    "endpoint status", "endpoint hashkv", "alarm list", "alarm disarm", "defrag", "snapshot save", "snapshot restore", "snapshot status",
    "move-leader", "lock", "elect", "make-mirror", "user add", "role grant-permission", "auth enable", "check perf", "version",
  ];
  for (const p of paths) {
    const r = await runConclaveCtl([...p.split(" "), "--help"]);
    expect({ p, code: r.code }).toEqual({ p, code: 0 });
    expect(r.stdout).toContain(`NAME:\n\t${p} - `);
    expect(r.stdout).toContain("GLOBAL OPTIONS:");
  }
  // The same text etcdctl prints for a command's help, but for the program's name.
  const a = await runProgram("/usr/bin/etcdctl", ["get", "--help"]);
  const b = await runConclaveCtl(["get", "--help"]);
  expect(b.stdout.replace(/conclave ctl/g, "etcdctl")).toBe(a.stdout);
}, 60_000);

test("member add on a terminal prints the complete start command for the new member", async () => {
  const t = await onTerminal(ctl(`--endpoints=${env().member.endpoint} member add m2 --learner --peer-urls=http://127.0.0.1:2390`));
  expect(t.code).toBe(0);
  expect(t.screen).toMatch(/Member +[0-9a-f]+ added to cluster +[0-9a-f]+/);
  expect(t.screen).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"');
  // --initial-cluster lists the members in the order MemberAdd returns them (by ID, as etcd),
  // and the new member's ID is derived from the time: either order is right.
  const start = /conclave --name m2 --initial-advertise-peer-urls http:\/\/127\.0\.0\.1:2390 --listen-peer-urls http:\/\/127\.0\.0\.1:2390 .*--initial-cluster (\S+) --initial-cluster-state existing/.exec(t.screen);
  expect(start).not.toBeNull();
  expect(start![1]!.split(",").sort()).toEqual([expect.stringMatching(/^default=http:\/\/127\.0\.0\.1:\d+$/), "m2=http://127.0.0.1:2390"]);
  expect(t.screen).toContain("Then promote it once it has caught up: conclave ctl member promote");
}, 60_000);
