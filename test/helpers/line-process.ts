// A child process whose stdout and stderr are read line by line, with bounded waits for
// lines to appear. Used for long-running etcdctl commands (watch, lock, elect, keep-alive)
// and for a member's log.
import { type ChildProcess, spawn } from "node:child_process";
import { withTimeout } from "./wait.ts";

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Keep at most this many lines per stream (a member's log can be long). */
  maxLines?: number;
}

type Waiter = { pred: () => boolean; resolve: () => void };

export class LineProcess {
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  /** Resolves with the exit code, or 128+signal number style `signal` name when killed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly partial = { stdout: "", stderr: "" };
  private waiters: Waiter[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly maxLines: number;

  constructor(
    readonly command: string,
    readonly args: string[],
    opts: SpawnOptions = {},
  ) {
    this.maxLines = opts.maxLines ?? 100_000;
    this.child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? (process.env as Record<string, string>),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.setEncoding("utf8");
    this.child.stderr!.setEncoding("utf8");
    this.child.stdout!.on("data", (d: string) => this.onData("stdout", d));
    this.child.stderr!.on("data", (d: string) => this.onData("stderr", d));
    this.exited = new Promise((resolve) => {
      this.child.on("error", (err) => {
        this.stderrLines.push(`spawn error: ${err.message}`);
        this.exitInfo = { code: -1, signal: null };
        this.notify();
        resolve(this.exitInfo);
      });
      this.child.on("close", (code, signal) => {
        this.flush();
        this.exitInfo = { code, signal };
        this.notify();
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Sends a signal if the process still runs. */
  signal(sig: NodeJS.Signals): void {
    if (!this.hasExited) this.child.kill(sig);
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }

  /** Resolves once `pred` holds (checked on every new line and at exit). */
  waitUntil(pred: () => boolean, ms: number, what: string): Promise<void> {
    if (pred()) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push({ pred, resolve }));
    return withTimeout(p, ms, `${what}\n${this.describe()}`);
  }

  /** Waits until stdout has at least `n` lines; returns the first `n`. */
  async stdoutAtLeast(n: number, ms: number): Promise<string[]> {
    await this.waitUntil(
      () => this.stdoutLines.length >= n || this.hasExited,
      ms,
      `expected ${n} stdout lines from ${this.command} ${this.args.join(" ")}`,
    );
    if (this.stdoutLines.length < n) {
      throw new Error(`process exited before printing ${n} lines\n${this.describe()}`);
    }
    return this.stdoutLines.slice(0, n);
  }

  /** Waits for a stdout or stderr line matching `re`. */
  async lineMatching(re: RegExp, ms: number, stream: "stdout" | "stderr" | "any" = "any"): Promise<string> {
    const find = () => {
      const pools =
        stream === "stdout" ? [this.stdoutLines] : stream === "stderr" ? [this.stderrLines] : [this.stdoutLines, this.stderrLines];
      for (const pool of pools) for (const l of pool) if (re.test(l)) return l;
      return undefined;
    };
    await this.waitUntil(() => find() !== undefined || this.hasExited, ms, `expected a line matching ${re}`);
    const l = find();
    if (l === undefined) throw new Error(`process exited without a line matching ${re}\n${this.describe()}`);
    return l;
  }

  /** The last lines of both streams, for failure messages. */
  tail(n = 30): string {
    const out = this.stdoutLines.slice(-n).join("\n");
    const err = this.stderrLines.slice(-n).join("\n");
    return `--- stdout (last ${n}) ---\n${out}\n--- stderr (last ${n}) ---\n${err}`;
  }

  describe(): string {
    const state = this.exitInfo ? `exited code=${this.exitInfo.code} signal=${this.exitInfo.signal}` : "running";
    return `[${this.command} ${this.args.join(" ")}] ${state}\n${this.tail()}`;
  }

  private onData(stream: "stdout" | "stderr", chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split("\n");
    this.partial[stream] = parts.pop() ?? "";
    const lines = stream === "stdout" ? this.stdoutLines : this.stderrLines;
    for (const p of parts) lines.push(p);
    if (lines.length > this.maxLines) lines.splice(0, lines.length - this.maxLines);
    this.notify();
  }

  private flush(): void {
    for (const s of ["stdout", "stderr"] as const) {
      if (this.partial[s] !== "") {
        (s === "stdout" ? this.stdoutLines : this.stderrLines).push(this.partial[s]);
        this.partial[s] = "";
      }
    }
  }

  private notify(): void {
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.pred()) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
