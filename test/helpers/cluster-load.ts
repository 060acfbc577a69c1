// Concurrent writers against a cluster through the JSON gateway. Each attempt writes a fresh
// key, so an acknowledged write is unambiguous to look for afterwards. A writer that gets no
// answer (member killed, no leader, timeout) moves on to the next member.
import type { ClusterMember } from "./cluster.ts";
import { b64, type Gateway } from "./gateway.ts";
import { delay, withTimeout } from "./wait.ts";

export interface Ack {
  key: string;
  value: string;
  /** Revision from the response header: the write's mod revision. */
  revision: number;
  /** performance.now() when the request was sent and when its answer came. */
  sentAt: number;
  ackAt: number;
  member: string;
}

export interface WriteLoadOptions {
  writers: number;
  /** Key prefix; keys are `${prefix}w<writer>/<seq>`. */
  prefix: string;
  /** Bound on one request. */
  requestTimeoutMs?: number;
}

type Waiter = { pred: () => boolean; resolve: () => void };

export class WriteLoad {
  readonly acks: Ack[] = [];
  attempts = 0;
  failures = 0;
  /** The last few refusals, for failure messages. */
  readonly refusals: string[] = [];
  private stopping = false;
  private running: Promise<void>[] = [];
  private waiters: Waiter[] = [];

  constructor(
    private readonly members: () => ClusterMember[],
    private readonly opts: WriteLoadOptions,
  ) {}

  start(): void {
    if (this.running.length > 0) throw new Error("load already started");
    this.running = Array.from({ length: this.opts.writers }, (_, w) => this.writer(w));
  }

  /** Stops all writers and waits for their last requests. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  /** Resolves once `pred` holds (checked after every acknowledged write). */
  waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
    if (pred()) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push({ pred, resolve }));
    return withTimeout(p, ms, `${what} (${this.describe()})`);
  }

  waitAcks(n: number, ms: number): Promise<void> {
    return this.waitFor(() => this.acks.length >= n, ms, `${n} acknowledged writes`);
  }

  /** The first acknowledged write that was sent at or after `t` (performance.now()). */
  async firstAckSentAfter(t: number, ms: number): Promise<Ack> {
    const find = () => this.acks.find((a) => a.sentAt >= t);
    await this.waitFor(() => find() !== undefined, ms, "a write sent after the kill to be acknowledged");
    return find()!;
  }

  describe(): string {
    return `${this.attempts} attempts, ${this.acks.length} acknowledged, ${this.failures} failed; last refusals: ${this.refusals.join(" | ")}`;
  }

  private async writer(w: number): Promise<void> {
    let target = w;
    for (let seq = 0; !this.stopping; seq++) {
      const ms = this.members();
      const m = ms[target % ms.length]!;
      const key = `${this.opts.prefix}w${w}/${String(seq).padStart(6, "0")}`;
      const value = `${w}:${seq}`;
      this.attempts++;
      const sentAt = performance.now();
      let revision: number | undefined;
      try {
        const r = await m.gw.post("/v3/kv/put", { key: b64(key), value: b64(value) }, this.opts.requestTimeoutMs ?? 3000);
        if (r.status === 200) revision = Number(r.json.header.revision);
        else this.refuse(`${m.name}: ${r.status} ${r.text.slice(0, 120)}`);
      } catch (e) {
        this.refuse(`${m.name}: ${String(e).slice(0, 120)}`);
      }
      if (revision === undefined) {
        this.failures++;
        target++;
        // A refused connection answers at once; do not spin on a dead member.
        await delay(10);
        continue;
      }
      this.acks.push({ key, value, revision, sentAt, ackAt: performance.now(), member: m.name });
      this.notify();
    }
  }

  private refuse(s: string): void {
    this.refusals.push(s);
    if (this.refusals.length > 4) this.refusals.shift();
  }

  private notify(): void {
    const still: Waiter[] = [];
    for (const x of this.waiters) {
      if (x.pred()) x.resolve();
      else still.push(x);
    }
    this.waiters = still;
  }
}

/**
 * Checks that every acknowledged write is present with its value and revision in a
 * member's serializable view; returns a list of problems (empty when all is well).
 */
export function missingAcks(acks: Ack[], kvs: Map<string, { value: string; modRevision: number }>): string[] {
  const problems: string[] = [];
  for (const a of acks) {
    const kv = kvs.get(a.key);
    if (!kv) problems.push(`${a.key}@${a.revision} missing`);
    else if (kv.value !== a.value || kv.modRevision !== a.revision) {
      problems.push(`${a.key}: want ${a.value}@${a.revision}, have ${kv.value}@${kv.modRevision}`);
    }
  }
  return problems;
}

/**
 * Failover time as a client sees it: from `since` (performance.now() at the kill) to the
 * first acknowledged write. A new probe write is sent every `everyMs` to the members in
 * turn, each with its own timeout, so the answer is not hidden behind one hung request.
 */
export async function measureFirstWrite(
  members: ClusterMember[],
  since: number,
  opts: { everyMs?: number; requestTimeoutMs?: number; limitMs?: number; prefix?: string } = {},
): Promise<{ ms: number; member: string }> {
  const every = opts.everyMs ?? 50;
  const limit = opts.limitMs ?? 20_000;
  let done: { ms: number; member: string } | undefined;
  const inflight: Promise<void>[] = [];
  for (let n = 0; done === undefined; n++) {
    if (performance.now() - since > limit) break;
    const m = members[n % members.length]!;
    const key = `${opts.prefix ?? "probe/"}${String(n).padStart(6, "0")}`;
    inflight.push(
      m.gw
        .post("/v3/kv/put", { key: b64(key), value: b64("p") }, opts.requestTimeoutMs ?? 2000)
        .then((r) => {
          if (r.status === 200 && done === undefined) done = { ms: performance.now() - since, member: m.name };
        })
        .catch(() => {}),
    );
    await delay(every);
  }
  await Promise.all(inflight);
  if (done === undefined) throw new Error(`no write acknowledged within ${limit} ms`);
  return done;
}

/**
 * Writes `n` keys `${prefix}<i>` = `v<i>` through one member's gateway with `concurrency`
 * requests in flight; every write must succeed. Returns the last revision seen.
 */
export async function writeKeys(member: ClusterMember, prefix: string, n: number, concurrency = 8, from = 0): Promise<number> {
  let next = from;
  n += from;
  let maxRev = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const key = `${prefix}${String(i).padStart(6, "0")}`;
      const r = await member.gw.ok("/v3/kv/put", { key: b64(key), value: b64(`v${i}`) });
      maxRev = Math.max(maxRev, Number(r.header.revision));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return maxRev;
}

/**
 * One client putting through the gateway, each put after the previous one answered, until
 * stop(): how many went through and the slowest one (the longest write stall) while a long
 * operation runs beside it.
 */
export class PacedWriter {
  puts = 0;
  slowestMs = 0;
  private writing = true;
  private readonly done: Promise<void>;

  constructor(gw: Gateway) {
    this.done = (async () => {
      while (this.writing) {
        const t0 = performance.now();
        await gw.ok("/v3/kv/put", { key: b64(`writer/${this.puts % 16}`), value: b64("w".repeat(256)) });
        this.slowestMs = Math.max(this.slowestMs, performance.now() - t0);
        this.puts++;
      }
    })();
  }

  /** Stops after the put in flight; rejects if a put failed. */
  stop(): Promise<void> {
    this.writing = false;
    return this.done;
  }
}

/**
 * One client putting a new key after another (`w/000000`, `w/000001`, …) until stopped, keeping
 * what the member acknowledged (key → value): a crash test kills the member under it and then
 * checks that every acknowledged write is there. A put that fails ends the writer (the member
 * is gone: not acknowledged).
 */
export class AckedWriter {
  readonly acked = new Map<string, string>();
  private writing = true;
  private readonly done: Promise<void>;

  /** `seq` numbers the first key (a later writer can go on where one stopped: `writer.seq`). */
  constructor(gw: Gateway, value: (key: string) => string = (key) => key, public seq = 0) {
    this.done = (async () => {
      while (this.writing) {
        const key = `w/${String(this.seq++).padStart(6, "0")}`;
        try {
          const res = await gw.post("/v3/kv/put", { key: b64(key), value: b64(value(key)) }, 5000);
          if (res.status === 200) this.acked.set(key, value(key));
        } catch {
          return;
        }
      }
    })();
  }

  /** Stops after the put in flight. */
  stop(): Promise<void> {
    this.writing = false;
    return this.done;
  }
}
