// Runs `conclave ctl` (the compiled binary) and Debian's etcdctl with the same arguments, and
// normalizes what must differ between two runs (revisions, lease IDs, durations, log lines,
// the program's own name).
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { type CtlResult, ctlEnv } from "./etcdctl.ts";
import { ETCDCTL_BIN, REPO_ROOT } from "./target.ts";
import { withTimeout } from "./wait.ts";

export const CONCLAVE_CTL_BIN = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");

export interface RunOpts {
  stdin?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function runProgram(cmd: string, args: string[], opts: RunOpts = {}): Promise<CtlResult> {
  return spawnProgram(cmd, args, opts).done;
}

/** Starts a program; `done` resolves with its output once it exits; `child` to signal it. */
export function spawnProgram(cmd: string, args: string[], opts: RunOpts = {}): { child: ReturnType<typeof spawn>; done: Promise<CtlResult>; stdout: () => string } {
  const child = spawn(cmd, args, { env: { ...ctlEnv(), ...(opts.env ?? {}) }, stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.on("data", (d: Buffer) => err.push(d));
  child.stdin.on("error", () => {});
  child.stdin.end(opts.stdin ?? "");
  const done = new Promise<CtlResult>((res, rej) => {
    child.on("error", rej);
    child.on("close", (code, signal) =>
      res({ stdout: Buffer.concat(out).toString("latin1"), stderr: Buffer.concat(err).toString("utf8"), code: code ?? (signal ? 128 : -1) }),
    );
  });
  const bounded = withTimeout(done, opts.timeoutMs ?? 20_000, `${cmd} ${args.join(" ")}`).catch((e: unknown) => {
    child.kill("SIGKILL");
    throw e;
  });
  return { child, done: bounded, stdout: () => Buffer.concat(out).toString("latin1") };
}

export const runEtcdctlRaw = (args: string[], opts?: RunOpts) => runProgram(ETCDCTL_BIN, args, opts);
export const runConclaveCtl = (args: string[], opts?: RunOpts) => runProgram(CONCLAVE_CTL_BIN, ["ctl", ...args], opts);

/** What is allowed to differ between two runs of the same command. */
export function normalize(s: string): string {
  return s
    .split("\n")
    // clientv3's JSON warn lines and capnslog's timestamps are etcdctl's logging, not its output.
    .filter((l) => !l.startsWith('{"level":'))
    .map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} /, "<ts> "))
    .join("\n")
    .replace(/conclave ctl/g, "etcdctl")
    .replace(/"(revision|\w*_revision|raft_term|raftIndex|raftAppliedIndex|raftTerm|dbSize|dbSizeInUse|version|count|hash|compact_revision)":-?\d+/g, '"$1":N')
    .replace(/"(\w*Revision|RaftTerm|RaftIndex|RaftAppliedIndex|DBSize|Version|Count|Hash)" : -?\d+/g, '"$1" : N')
    .replace(/\b[0-9a-f]{16}\b/g, "<id16>")
    .replace(/"(ID|id)":\d+/g, '"$1":N')
    .replace(/"ID" : \d+/g, '"ID" : N')
    .replace(/\d+(\.\d+)?(ns|µs|ms|s)\b/g, "<dur>")
    .replace(/\d+(\.\d+)? (B|kB|MB)\b/g, "<size>");
}

/** Only protobuf output is binary; keep it comparable as latin1 text. */
export function sameResult(a: CtlResult, b: CtlResult): { stdout: [string, string]; stderr: [string, string]; code: [number, number] } {
  return {
    stdout: [normalize(a.stdout), normalize(b.stdout)],
    stderr: [normalize(a.stderr), normalize(b.stderr)],
    code: [a.code, b.code],
  };
}

/** The last "Error: …" line (etcdctl prints flag errors twice, with usage on stdout). */
export function lastError(r: CtlResult): string {
  return normalize(r.stderr).split("\n").filter((l) => l.startsWith("Error: ")).at(-1) ?? "";
}
