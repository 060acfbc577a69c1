// One member process started with etcd's flags on loopback ports, for either target.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { LineProcess } from "./line-process.ts";
import { freePorts } from "./ports.ts";
import { memberBinary } from "./target.ts";
import { makeTempDir, removeDir } from "./temp-dir.ts";
import { delay } from "./wait.ts";

export interface MemberOptions {
  name?: string;
  /** Data dir; default a fresh temp dir removed by `cleanup()`. Null = pass no --data-dir. */
  dataDir?: string | null;
  /** Working directory of the process (the binary test runs it in an empty dir). */
  cwd?: string;
  /** Executable; default the current target's binary. */
  bin?: string;
  /** Extra flags, e.g. ["--max-txn-ops", "4"]. */
  extraArgs?: string[];
  /** Bound on the wait for /health after each start. */
  healthTimeoutMs?: number;
  /** Environment of the process; default this one's. */
  env?: Record<string, string>;
  /** Start under `ulimit -n` (open file descriptors, soft and hard). */
  fdLimit?: number;
  /**
   * Serve the client port over TLS (the server's own --cert-file flags go in extraArgs): the
   * client URL is https and /health is polled with these files (PEM contents).
   */
  clientTls?: { ca: string; cert?: string; key?: string };
}

export class Member {
  readonly name: string;
  readonly dataDir: string | null;
  private proc: LineProcess | undefined;
  private readonly ownsDataDir: boolean;
  /** Every process this member ran, for failure messages after a restart. */
  private readonly history: LineProcess[] = [];

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly opts: MemberOptions,
  ) {
    this.name = opts.name ?? "default";
    if (opts.dataDir === undefined) {
      this.dataDir = join(makeTempDir("e2e-member"), `${this.name}.data`);
      this.ownsDataDir = true;
    } else {
      this.dataDir = opts.dataDir;
      this.ownsDataDir = false;
    }
  }

  /** Allocates ports, starts the process and waits until /health reports healthy. */
  static async start(opts: MemberOptions = {}): Promise<Member> {
    const [client, peer] = await freePorts(2);
    const m = new Member(client!, peer!, opts);
    try {
      await m.launch();
    } catch (e) {
      // The caller never gets the member, so nothing else could clean up after it.
      await m.cleanup();
      throw e;
    }
    return m;
  }

  /** host:port for etcdctl (no scheme, see DESIGN.md). */
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get clientURL(): string {
    return `${this.opts.clientTls ? "https" : "http"}://127.0.0.1:${this.clientPort}`;
  }

  get peerURL(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }

  get process(): LineProcess {
    if (!this.proc) throw new Error("member not started");
    return this.proc;
  }

  get running(): boolean {
    return this.proc !== undefined && !this.proc.hasExited;
  }

  flags(): string[] {
    const f = [
      "--name",
      this.name,
      "--listen-client-urls",
      this.clientURL,
      "--advertise-client-urls",
      this.clientURL,
      "--listen-peer-urls",
      this.peerURL,
      "--initial-advertise-peer-urls",
      this.peerURL,
      "--initial-cluster",
      `${this.name}=${this.peerURL}`,
    ];
    if (this.dataDir !== null) f.push("--data-dir", this.dataDir);
    return [...f, ...(this.opts.extraArgs ?? [])];
  }

  /** Starts (or restarts, on the same data dir and ports) and waits for health. */
  async launch(): Promise<void> {
    if (this.running) throw new Error("member already running");
    const bin = this.opts.bin ?? memberBinary();
    if (!existsSync(bin)) throw new Error(`member binary ${bin} does not exist (build it with npm run build)`);
    const [cmd, args] = this.opts.fdLimit === undefined
      ? [bin, this.flags()]
      : ["/bin/sh", ["-c", `ulimit -n ${this.opts.fdLimit} && exec "$0" "$@"`, bin, ...this.flags()]];
    this.proc = new LineProcess(cmd, args, { cwd: this.opts.cwd, env: this.opts.env, maxLines: 2000 });
    this.history.push(this.proc);
    await this.waitHealthy(this.opts.healthTimeoutMs ?? 20_000);
  }

  /** Polls GET /health until it answers {"health":"true"}; fails with the log tail. */
  async waitHealthy(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let last = "no answer yet";
    while (Date.now() < deadline) {
      if (this.proc?.hasExited) {
        throw new Error(`member exited before becoming healthy\n${this.proc.describe()}`);
      }
      try {
        const t = this.opts.clientTls;
        const res = await fetch(`${this.clientURL}/health`, { signal: AbortSignal.timeout(1000), ...(t ? { tls: t } : {}) } as RequestInit);
        const body = await res.text();
        last = `${res.status} ${body}`;
        if (res.status === 200) {
          const parsed = JSON.parse(body) as { health?: unknown };
          if (parsed.health === "true") return;
        }
      } catch (e) {
        last = String(e);
      }
      await delay(25);
    }
    throw new Error(`member not healthy after ${ms} ms (last: ${last})\n${this.proc?.describe() ?? ""}`);
  }

  /** SIGTERM and wait for the exit (SIGKILL after `ms` if it hangs, and fail). */
  async stop(ms = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const p = this.process;
    p.signal("SIGTERM");
    const timer = setTimeout(() => p.signal("SIGKILL"), ms);
    const r = await p.exited;
    clearTimeout(timer);
    if (r.signal === "SIGKILL") throw new Error(`member ignored SIGTERM for ${ms} ms\n${p.describe()}`);
    return r;
  }

  /** SIGKILL: no chance to flush anything. */
  async kill(): Promise<void> {
    await this.process.kill();
  }

  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.launch();
  }

  logTail(n = 40): string {
    return this.proc ? this.proc.tail(n) : "(not started)";
  }

  /** Stops the process if needed and removes the data dir it created. */
  async cleanup(): Promise<void> {
    if (this.running) await this.process.kill();
    if (this.ownsDataDir && this.dataDir !== null) removeDir(join(this.dataDir, ".."));
  }
}
