// Runs Debian's etcdctl (v3 API) against a member. Endpoints are given as host:port without
// a scheme: etcdctl 3.4 sends an authority that HTTP/2 servers reject when it has http://.
import { spawn } from "node:child_process";
import { LineProcess } from "./line-process.ts";
import { ETCDCTL_BIN } from "./target.ts";
import { withTimeout } from "./wait.ts";

export interface CtlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface CtlOptions {
  stdin?: string | Uint8Array;
  /** Whole-command bound; etcdctl's own --command-timeout is 5 s. */
  timeoutMs?: number;
  cwd?: string;
}

/** A clean environment: no ETCDCTL_* from the caller leaks in; v3 API. */
export function ctlEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("ETCDCTL_")) env[k] = v;
  }
  env.ETCDCTL_API = "3";
  return env;
}

export function runEtcdctl(endpoint: string, args: string[], opts: CtlOptions = {}): Promise<CtlResult> {
  const child = spawn(ETCDCTL_BIN, [`--endpoints=${endpoint}`, ...args], {
    cwd: opts.cwd,
    env: ctlEnv(),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.on("data", (d: Buffer) => err.push(d));
  child.stdin.on("error", () => {}); // etcdctl may exit before reading all of stdin
  if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
  else child.stdin.end();
  const done = new Promise<CtlResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        code: code ?? (signal ? 128 : -1),
      }),
    );
  });
  const ms = opts.timeoutMs ?? 15_000;
  return withTimeout(done, ms, `etcdctl ${args.join(" ")}`).catch((e: unknown) => {
    child.kill("SIGKILL");
    throw e;
  });
}

/** Starts a long-running etcdctl (watch, lock, elect, lease keep-alive). */
export function spawnEtcdctl(endpoint: string, args: string[]): LineProcess {
  return new LineProcess(ETCDCTL_BIN, [`--endpoints=${endpoint}`, ...args], { env: ctlEnv() });
}

/** The `Error: ...` line etcdctl prints last on failure (clientv3 may log JSON lines first). */
export function errorLine(r: CtlResult): string | undefined {
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("Error: "));
  return lines.at(-1);
}

/** Binds runEtcdctl/spawnEtcdctl to one endpoint. */
export class Ctl {
  constructor(readonly endpoint: string) {}

  run(...args: string[]): Promise<CtlResult> {
    return runEtcdctl(this.endpoint, args);
  }

  runWith(opts: CtlOptions, ...args: string[]): Promise<CtlResult> {
    return runEtcdctl(this.endpoint, args, opts);
  }

  /** Runs and asserts exit code 0, returning stdout. */
  async ok(...args: string[]): Promise<string> {
    const r = await runEtcdctl(this.endpoint, args);
    if (r.code !== 0) {
      throw new Error(`etcdctl ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    }
    return r.stdout;
  }

  spawn(...args: string[]): LineProcess {
    return spawnEtcdctl(this.endpoint, args);
  }
}
