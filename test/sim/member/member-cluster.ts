// The member simulator: three real members (src/server: Server, raft loop, applier chain,
// state machine on SQLite, MVCC, leases) on virtual time, wired to a simulated network and a
// simulated Raft-log device, driven through partitions, message loss, crashes (of a process, or
// with a power loss that drops what was not fsynced), cluster-wide power failures and wall-clock
// jumps, while clients write and read keys and keep leases alive. Every history is checked for
// linearizability, leases for early and missing expiry, and the members for convergence.
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { LeaseGrantRequestSchema, PutRequestSchema, RangeRequestSchema } from "../../../src/gen/rpc_pb.ts";
import { assembleMember, type AssembledMember } from "../../../src/server/assemble.ts";
import { planBootstrap, type BootstrapPlan, type Identity } from "../../../src/server/bootstrap.ts";
import type { Logger } from "../../../src/server/logger.ts";
import type { Server } from "../../../src/server/server.ts";
import type { KvOp } from "../linearizability.ts";
import type { Entry } from "../../../src/raft/types.ts";
import { chance, intn, pick, prng, type Rng } from "../prng.ts";
import { earlyExpiries, type LeaseEpoch, type LeaseRead } from "./lease-check.ts";
import { Scheduler } from "./scheduler.ts";
import { simFiles } from "./sim-files.ts";
import { SimDisk, SimLog } from "./sim-log.ts";
import { SimNet } from "./sim-net.ts";

const HEARTBEAT_MS = 100;
const ELECTION_MS = 1000;
const TOKEN = "sim";
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

interface Incarnation {
  readonly owner: object;
  alive: boolean;
  assembled?: AssembledMember;
  log: SimLog;
}

interface Node {
  readonly id: bigint;
  readonly name: string;
  readonly dir: string;
  readonly disk: SimDisk;
  readonly firstPlan: BootstrapPlan;
  identity: Identity;
  everStarted: boolean;
  /** Added to the virtual time for this member's wall clock (jumps move it). */
  wallOffset: number;
  inc?: Incarnation;
}

interface PendingOp {
  readonly key: string;
  readonly kind: "put" | "get";
  readonly value: string | undefined;
  readonly call: number;
  done: boolean;
}

export interface MemberSimOptions {
  readonly seed: number;
  /** Virtual ms with faults (default 15 000), then a quiet period. */
  readonly faultMs?: number;
  readonly log?: (line: string) => void;
}

export interface MemberSimResult {
  readonly history: KvOp[];
  readonly problems: string[];
  readonly stats: Record<string, number>;
}

export class MemberCluster {
  private readonly rng: Rng;
  readonly sched = new Scheduler();
  readonly net: SimNet;
  private readonly nodes: Node[] = [];
  private readonly root = mkdtempSync(join(existsShm() ? "/dev/shm" : tmpdir(), "conclave-sim-"));
  private clock = 0;
  private readonly history: KvOp[] = [];
  private readonly problems: string[] = [];
  readonly stats: Record<string, number> = {};
  private readonly log: (line: string) => void;
  private readonly p: { crash: number; powerLoss: number; blackout: number; partition: number; heal: number; jump: number; fsyncMax: number };
  private nextValue = 1;
  private readonly leaseReads: LeaseRead[] = [];
  /** What each log index was applied as, by whichever member applied it first. */
  private readonly appliedAt = new Map<number, string>();
  private finalEpoch: LeaseEpoch | undefined;
  private finalRead: { ret: number; value: string | undefined } | undefined;

  constructor(private readonly opts: MemberSimOptions) {
    this.rng = prng(opts.seed);
    this.log = opts.log ?? (() => {});
    const r = this.rng;
    this.p = {
      crash: r() * 0.02,
      powerLoss: 0.3 + r() * 0.6,
      blackout: r() * 0.004,
      partition: r() * 0.02,
      heal: 0.02 + r() * 0.05,
      jump: r() * 0.01,
      fsyncMax: 1 + intn(r, 30),
    };
    this.net = new SimNet(this.sched, prng(opts.seed * 7 + 3), { drop: r() * 0.08, dup: r() * 0.03, maxDelayMs: 1 + intn(r, 20) });
  }

  private count(k: string, n = 1): void {
    this.stats[k] = (this.stats[k] ?? 0) + n;
  }

  // ---- members --------------------------------------------------------------------------------

  private async setup(): Promise<void> {
    const names = ["m1", "m2", "m3"];
    const initial = new Map(names.map((n, i) => [n, [`http://10.0.0.${i + 1}:2380`]]));
    for (const name of names) {
      const plan = await planBootstrap({ name, initialCluster: initial, initialClusterState: "new", token: TOKEN, fetchMembers: async () => undefined });
      const dir = join(this.root, name);
      mkdirSync(join(dir, "member"), { recursive: true });
      const node: Node = { id: plan.identity.memberId, name, dir, disk: new SimDisk(), firstPlan: plan, identity: plan.identity, everStarted: false, wallOffset: 0 };
      this.nodes.push(node);
      this.net.nodes.set(node.id, { id: node.id, handler: undefined, dir: join(dir, "member") });
    }
    for (const n of this.nodes) this.start(n);
  }

  /** Starts a member's next incarnation (its start runs as the schedule goes on). */
  private start(n: Node): void {
    const owner = {};
    const inc: Incarnation = {
      owner,
      alive: true,
      log: new SimLog(n.disk, () => new Promise<void>((r) => this.sched.setTimeout(owner, r, intn(this.rng, this.p.fsyncMax)))),
    };
    n.inc = inc;
    const timers = this.sched.timersFor(owner);
    const plan: BootstrapPlan = n.everStarted ? { kind: "restart", identity: n.identity } : n.firstPlan;
    n.everStarted = true;
    const net = this.net.nodes.get(n.id)!;
    const alive = () => inc.alive;
    void (async () => {
      const a = await assembleMember({
        dataDir: n.dir,
        name: n.name,
        clientURLs: [`http://client-${n.name}:2379`],
        plan,
        transport: this.net.transport(n.id, alive),
        clusterToken: TOKEN,
        logger: quiet,
        clock: () => this.sched.now + n.wallOffset,
        monotonic: () => this.sched.now,
        rng: prng(this.opts.seed * 1009 + Number(n.id % 100000n) + this.sched.now),
        setInterval: timers.setInterval,
        clearInterval: timers.clearInterval,
        timers,
        files: simFiles,
        openLog: async () => inc.log,
        heartbeatMs: HEARTBEAT_MS,
        electionMs: ELECTION_MS,
        initialElectionTickAdvance: false,
        preVote: true,
        snapshotCount: 40,
        catchUpEntries: 10,
        strictReconfigCheck: true,
        maxRequestBytes: 1.5 * 1024 * 1024,
        maxTxnOps: 128,
        quotaBackendBytes: 2 * 1024 ** 3,
        progressNotifyIntervalMs: 0,
        unsafeNoFsync: true,
        onFatal: (err) => {
          if (inc.alive) this.problems.push(`${n.name} stopped on a fatal error: ${err.stack ?? err.message}`);
        },
      });
      if (!inc.alive) {
        closeAbruptly(a.server);
        return;
      }
      inc.assembled = a;
      this.watchApplies(n, a.server);
      net.handler = a.server;
      net.onUnreachable = (to) => a.server.loop.reportUnreachable(to);
      net.onSnapshotStatus = (to, ok) => a.server.loop.reportSnapshot(to, ok);
      await a.server.start();
    })().catch((err: unknown) => {
      if (inc.alive) this.problems.push(`${n.name} failed to start: ${(err as Error).stack ?? String(err)}`);
    });
  }

  /**
   * Every member must apply the same entry at each index (state machine safety, thesis §3.6.3):
   * the loop's applies are fingerprinted and compared across members and incarnations.
   */
  private watchApplies(n: Node, server: Server): void {
    const loop = server.loop as unknown as { apply(entries: readonly Entry[], replay?: boolean): Promise<void> };
    const orig = loop.apply.bind(loop);
    loop.apply = (entries, replay) => {
      for (const e of entries) {
        const f = `${e.term}/${e.type}/${Buffer.from(e.data).toString("base64")}`;
        const prior = this.appliedAt.get(e.index);
        if (prior === undefined) this.appliedAt.set(e.index, f);
        else if (prior !== f) this.problems.push(`${n.name} applied index ${e.index} as term/type ${f.split("/").slice(0, 2).join("/")}, another member applied ${prior.split("/").slice(0, 2).join("/")} with other data`);
      }
      return orig(entries, replay);
    };
  }

  /** The process dies; with `powerLoss` so does what its log had not made durable. */
  private crash(n: Node, powerLoss: boolean): void {
    const inc = n.inc;
    if (inc === undefined) return;
    this.log(`t=${this.sched.now} crash ${n.name}${powerLoss ? " (power loss)" : ""}`);
    this.count(powerLoss ? "crash-power" : "crash-process");
    inc.alive = false;
    n.inc = undefined;
    this.sched.cancelOwner(inc.owner);
    inc.log.fence();
    n.disk.crash(!powerLoss);
    const net = this.net.nodes.get(n.id)!;
    net.handler = undefined;
    net.onUnreachable = undefined;
    net.onSnapshotStatus = undefined;
    if (inc.assembled !== undefined) closeAbruptly(inc.assembled.server);
  }

  private running(): Server[] {
    return this.nodes.flatMap((n) => (n.inc?.assembled !== undefined ? [n.inc.assembled.server] : []));
  }

  private leader(): Server | undefined {
    let best: Server | undefined;
    for (const s of this.running()) if (s.loop.isLeader() && (best === undefined || s.loop.term() > best.loop.term())) best = s;
    return best;
  }

  // ---- clients --------------------------------------------------------------------------------

  /** A server for a client: the leader more often than not. */
  private target(): Server | undefined {
    const up = this.running();
    if (up.length === 0) return undefined;
    const l = this.leader();
    return l !== undefined && chance(this.rng, 0.6) ? l : pick(this.rng, up);
  }

  /** Issues one operation of client `c` unless it has one outstanding. */
  private clientStep(busy: (PendingOp | undefined)[], c: number): void {
    if (busy[c] !== undefined || !chance(this.rng, 0.4)) return;
    const s = this.target();
    if (s === undefined) return;
    const key = pick(this.rng, ["a", "b", "c"]);
    const kind = chance(this.rng, 0.5) ? "put" : "get";
    const value = kind === "put" ? `v${this.nextValue++}` : undefined;
    const op: PendingOp = { key, kind, value, call: ++this.clock, done: false };
    busy[c] = op;
    const finish = (ok: boolean, read?: string) => {
      if (op.done) return;
      op.done = true;
      busy[c] = undefined;
      if (ok) {
        this.history.push({ key, kind, value: kind === "put" ? value : read, call: op.call, ret: ++this.clock });
        this.count(`${kind}-ok`);
      } else if (kind === "put") {
        // Its entry may still commit: the outcome is unknown.
        this.history.push({ key, kind, value, call: op.call, ret: Infinity });
        this.count("put-unknown");
      } else this.count("get-failed");
    };
    const p =
      kind === "put"
        ? s.put(create(PutRequestSchema, { key: enc(key), value: enc(value!) }), {}).then(() => undefined)
        : s.range(create(RangeRequestSchema, { key: enc(key) }), {}).then((r) => (r.kvs[0] ? dec(r.kvs[0].value) : undefined));
    p.then(
      (v) => finish(true, v),
      () => finish(false),
    );
    this.sched.setTimeout(this, () => finish(false), 3000);
  }

  // ---- leases ---------------------------------------------------------------------------------

  /**
   * One lease epoch: grant, put a key of its own under it, keep it alive `renewals` times
   * (about every TTL/3), reading the key twice per renewal interval meanwhile and for a while
   * after the renewals stop.
   */
  private async leaseEpoch(key: string, renewals: number, final: boolean): Promise<LeaseEpoch | undefined> {
    const s = this.leader() ?? this.target();
    if (s === undefined) return undefined;
    const t0 = this.sched.now;
    let grant;
    try {
      grant = await this.withTimeout(s.leaseGrant(create(LeaseGrantRequestSchema, { TTL: 3n }), {}), 3000);
    } catch {
      return undefined;
    }
    const ttlMs = Number(grant.TTL) * 1000;
    const epoch: LeaseEpoch = { key, value: `lease-${this.nextValue++}`, ttlMs, putAck: undefined, protectedUntil: t0 + ttlMs };
    this.count("lease-granted");
    try {
      await this.withTimeout(s.put(create(PutRequestSchema, { key: enc(key), value: enc(epoch.value), lease: grant.ID }), {}), 3000);
      epoch.putAck = this.sched.now;
    } catch {
      return undefined; // unknown outcome: nothing to check
    }
    if (final) this.finalEpoch = epoch;
    let reading = true;
    void (async () => {
      while (reading) {
        await this.sleep(ttlMs / 6);
        void this.leaseRead(epoch);
      }
    })();
    for (let i = 0; i < renewals; i++) {
      await this.sleep(ttlMs / 3);
      const srv = this.target();
      if (srv === undefined) continue;
      const call = this.sched.now;
      try {
        const r = await this.withTimeout(srv.leaseKeepAlive(grant.ID, {}), 2000);
        if (r.TTL > 0n) {
          epoch.protectedUntil = Math.max(epoch.protectedUntil, call + Number(r.TTL) * 1000);
          this.count("lease-renewed");
        } else this.count("lease-renew-late");
      } catch {
        this.count("lease-renew-failed");
      }
    }
    // Reads go on for a while after the renewals stop (the early part still counts).
    await this.sleep(ttlMs);
    reading = false;
    return epoch;
  }

  private async leaseRead(epoch: LeaseEpoch): Promise<void> {
    const s = this.target();
    if (s === undefined) return;
    const call = this.sched.now;
    try {
      const r = await this.withTimeout(s.range(create(RangeRequestSchema, { key: enc(epoch.key) }), {}), 2000);
      this.leaseReads.push({ epoch, call, ret: this.sched.now, value: r.kvs[0] ? dec(r.kvs[0].value) : undefined });
    } catch {
      // no answer: no observation
    }
  }

  /** A lease client: epochs one after the other, each on a key of its own, until `until`. */
  private async leaseClient(name: string, until: number): Promise<void> {
    for (let i = 0; this.sched.now < until; i++) {
      const epoch = await this.leaseEpoch(`${name}/${i}`, intn(this.rng, 8), false);
      if (epoch === undefined) await this.sleep(300);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.sched.setTimeout(this, r, ms));
  }

  private withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = this.sched.setTimeout(this, () => reject(new Error("client timeout")), ms);
      p.then(
        (v) => {
          this.sched.clear(t);
          resolve(v);
        },
        (e: unknown) => {
          this.sched.clear(t);
          reject(e);
        },
      );
    });
  }

  // ---- faults ---------------------------------------------------------------------------------

  private faults(): void {
    const r = this.rng;
    const up = this.nodes.filter((n) => n.inc !== undefined);
    const down = this.nodes.filter((n) => n.inc === undefined);
    if (up.length > 0 && chance(r, this.p.crash)) this.crash(pick(r, up), chance(r, this.p.powerLoss));
    if (up.length > 0 && chance(r, this.p.blackout)) {
      this.log(`t=${this.sched.now} power failure of the whole cluster`);
      this.count("blackout");
      for (const n of up) this.crash(n, true);
    }
    if (down.length > 0 && chance(r, 0.08)) {
      const n = pick(r, down);
      this.log(`t=${this.sched.now} restart ${n.name}`);
      this.count("restart");
      this.start(n);
    }
    if (this.net.groups === undefined && chance(r, this.p.partition)) {
      this.net.groups = new Map(this.nodes.map((n) => [n.id, intn(r, 2)]));
      this.log(`t=${this.sched.now} partition ${[...this.net.groups.values()].join("")}`);
      this.count("partition");
    } else if (this.net.groups !== undefined && chance(r, this.p.heal)) {
      this.net.groups = undefined;
      this.log(`t=${this.sched.now} heal`);
    }
    if (chance(r, this.p.jump)) {
      const n = pick(r, this.nodes);
      n.wallOffset += (chance(r, 0.5) ? 1 : -1) * (1000 + intn(r, 600_000));
      this.log(`t=${this.sched.now} wall clock of ${n.name} jumps to offset ${n.wallOffset}`);
      this.count("clock-jump");
    }
  }

  // ---- run ------------------------------------------------------------------------------------

  async run(): Promise<MemberSimResult> {
    try {
      await this.setup();
      const faultMs = this.opts.faultMs ?? 15_000;
      const warm = 2000;
      const end = warm + faultMs;
      const busy: (PendingOp | undefined)[] = [undefined, undefined, undefined];
      // Lease epochs run into the quiet period by up to ~10 s (renewals, then the lapse).
      const leases = Promise.all([this.leaseClient("L1", end - 6000), this.leaseClient("L2", end - 6000)]);
      for (let t = 50; t <= end; t += 50) {
        if (t > warm) this.faults();
        for (let c = 0; c < busy.length; c++) this.clientStep(busy, c);
        await this.sched.runUntil(t);
      }
      // Quiet period: healed, everyone up; the last operations finish, leases lapse.
      this.net.groups = undefined;
      for (const n of this.nodes) if (n.inc === undefined) this.start(n);
      await this.sched.runUntil(end + 3000);
      void (async () => {
        // After the lease client's last epoch has lapsed: one lease nobody keeps alive.
        await leases;
        const epoch = await this.leaseEpoch("Lfinal", 0, true);
        if (epoch === undefined) return;
        await this.sleep(6000);
        const s = this.leader() ?? this.target();
        if (s === undefined) return;
        const r = await s.range(create(RangeRequestSchema, { key: enc("Lfinal") }), {});
        this.finalRead = { ret: this.sched.now, value: r.kvs[0] ? dec(r.kvs[0].value) : undefined };
      })();
      for (let t = end + 3050; t <= end + 25_000 && this.finalRead === undefined; t += 50) {
        for (let c = 0; c < busy.length; c++) if (t < end + 10_000) this.clientStep(busy, c);
        await this.sched.runUntil(t);
      }
      await this.sched.runUntil(this.sched.now + 3000); // the last client operations finish
      await this.check();
      return { history: this.history, problems: this.problems, stats: this.stats };
    } finally {
      for (const n of this.nodes) this.crash(n, false);
      rmSync(this.root, { recursive: true, force: true });
    }
  }

  private async check(): Promise<void> {
    const up = this.running();
    if (up.length !== 3) this.problems.push(`${up.length} members running at the end`);
    const l = this.leader();
    if (l === undefined) this.problems.push("no leader after the quiet period");
    // Every member applied the same history.
    const revs = new Set(up.map((s) => s.loop.sm.revision));
    if (revs.size > 1) this.problems.push(`members disagree on the revision: ${[...revs].join(", ")}`);
    else if (up.length > 0) {
      const hashes = new Set<number>();
      for (const s of up) hashes.add((await s.loop.sm.hashKV(0)).hash);
      if (hashes.size > 1) this.problems.push("members disagree on the key-value history (hashKV)");
    }
    for (const e of earlyExpiries(this.leaseReads)) this.problems.push(`lease expired early: ${e}`);
    this.count("lease-reads", this.leaseReads.length);
    if (this.finalEpoch !== undefined) {
      if (this.finalRead === undefined) this.problems.push("the final lease read did not answer");
      else if (this.finalRead.value === this.finalEpoch.value) {
        this.problems.push(`lease never expired: ${this.finalEpoch.value} still there ${this.finalRead.ret - this.finalEpoch.protectedUntil} ms after its TTL`);
      } else this.count("lease-expired");
    }
  }
}

/** A crash: the member's state file handle goes without a commit (its open group is lost). */
function closeAbruptly(server: Server): void {
  const sm = server.loop.sm as unknown as { db?: { close(): void } };
  try {
    sm.db?.close();
  } catch {
    // already closed
  }
}

function existsShm(): boolean {
  try {
    return statSync("/dev/shm").isDirectory();
  } catch {
    return false;
  }
}
