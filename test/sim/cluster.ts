// A seeded cluster simulator: RawNodes over MemoryStorage (the durable part), a KV state
// machine with a durable checkpoint and a volatile tail, a lossy reordering network that
// carries every message through the binary codec, and clients that record a history.
//
// Faults: partitions, drops, duplicates, reordering, crashes that lose everything not yet
// persisted (the RawNode's unstable entries, the state machine past its checkpoint, pending
// requests), restarts, leader transfers, membership changes (remove a voter; add a new node
// as learner, then promote it), log compaction with snapshots sent to lagging followers.
//
// Two fault profiles. "random" draws independent faults. "churn" adds the Nemesis
// (nemesis.ts), which aims at the windows where safety bugs show: isolated leaders with slow
// clocks and clients still reading from them, and the thesis's Figure 3.7 sequence. Churn seeds
// also send one entry per MsgApp (often with one message in flight), so a new leader's
// acknowledgements cover entries of earlier terms well before its own, and one client clings to
// its node and mostly reads.

import {
  assert, ConfChangeType, decodeConfChange, decodeMessage, encodeMessage, EntryType, MemoryStorage,
  MessageType, ProposalDroppedError, RawNode, Role, StepPeerNotFoundError,
  type ConfState, type Message, type Ready,
} from "../../src/raft/index.ts";
import type { KvOp } from "./linearizability.ts";
import { Nemesis, type NemesisHost } from "./nemesis.ts";
import { chance, intn, pick, prng, type Rng } from "./prng.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface KvImage {
  readonly data: Record<string, string>;
  readonly applied: number;
}

interface Command {
  readonly op: number;
  readonly key: string;
  readonly value: string;
}

interface PendingOp {
  readonly id: number;
  readonly client: number;
  readonly key: string;
  readonly kind: "put" | "get";
  readonly value: string | undefined;
  readonly call: number;
  readonly deadline: number;
  node: bigint;
}

class SimNode {
  raw: RawNode | undefined;
  readonly storage = new MemoryStorage();
  /** Volatile state machine. */
  data = new Map<string, string>();
  applied = 0;
  confState: ConfState = { voters: [], learners: [] };
  /** Durable state machine checkpoint: entries up to `applied` need not be re-applied. */
  checkpoint: KvImage = { data: {}, applied: 0 };
  /** Volatile: requests this node answers once applied (puts) or read (gets). */
  readonly waitingPuts = new Map<number, PendingOp>();
  readonly waitingReads = new Map<string, { op: PendingOp; index: number | undefined }>();
  removed = false;
  /** Steps per tick: this node's clock rate. */
  tickEvery = 3;
  /** The clock rate drawn at start; tickEvery differs while the nemesis slows this clock. */
  normalTickEvery = 3;

  constructor(readonly id: bigint) {}

  get up(): boolean {
    return this.raw !== undefined;
  }
}

interface InFlight {
  readonly bytes: Uint8Array;
  readonly from: bigint;
  readonly to: bigint;
  readonly isSnap: boolean;
  readonly at: number;
}

export type FaultProfile = "random" | "churn";

export interface SimOptions {
  readonly seed: number;
  /** Default "random". */
  readonly profile?: FaultProfile;
  readonly steps?: number;
  readonly log?: (line: string) => void;
}

export interface SimResult {
  readonly history: KvOp[];
  readonly stats: Record<string, number>;
}

export class Cluster {
  private readonly rng: Rng;
  private readonly nodes = new Map<bigint, SimNode>();
  private net: InFlight[] = [];
  /** Node → partition group (messages pass only within a group); undefined = fully connected. */
  private partition: Map<bigint, number> | undefined;
  private readonly nemesis: Nemesis | undefined;
  private now = 0;
  /** Logical clock for the history: strictly increasing per call/return event. */
  private clock = 0;
  private nextId = 1n;
  private nextOp = 1;
  private readonly history: KvOp[] = [];
  private readonly clientBusy: (PendingOp | undefined)[];
  /** Pipelined operations (client -1), by op ID. */
  private readonly detached = new Map<number, PendingOp>();
  private readonly clientNode: bigint[] = [];
  /** The entry each index committed to, as first applied anywhere: all nodes must agree. */
  private readonly appliedAt = new Map<number, string>();
  readonly stats: Record<string, number> = {};
  private readonly keys = ["a", "b", "c"];
  private readonly log: (line: string) => void;
  /** Probability knobs drawn per seed, so seeds differ in character, not just in detail. */
  private readonly p: { drop: number; dup: number; maxDelay: number; crash: number; partition: number; transfer: number; member: number };
  /** Message limits (the churn profile lowers them). */
  private readonly q = { maxSize: 256, maxInflight: 4 };
  /** Per client: the chance of staying with the node it used last. */
  private readonly sticky: number[] = [0.75, 0.75, 0.75];
  /** Per client: the share of reads among its operations. */
  private readonly reads: number[] = [0.5, 0.5, 0.5];
  private readonly profile: FaultProfile;

  constructor(private readonly opts: SimOptions) {
    this.rng = prng(opts.seed);
    this.log = opts.log ?? (() => {});
    this.p = {
      drop: this.rng() * 0.1,
      dup: this.rng() * 0.05,
      maxDelay: 1 + intn(this.rng, 4),
      crash: this.rng() * 0.01,
      partition: this.rng() * 0.01,
      transfer: this.rng() * 0.005,
      member: this.rng() * 0.006,
    };
    this.profile = opts.profile ?? "random";
    if (this.profile === "churn") {
      this.p.partition /= 4;
      this.p.crash /= 2;
      // One client clings to its node (a deposed leader, often); the others follow the leader.
      this.sticky[0] = 0.9 + this.rng() * 0.1;
      this.sticky[1] = this.sticky[2] = 0.3 + this.rng() * 0.4;
      // The clinging client mostly reads: a put to an isolated node blocks it until it gives up.
      this.reads[0] = 0.8 + this.rng() * 0.2;
      this.q.maxSize = chance(this.rng, 0.8) ? 1 : 256;
      // With one entry per message and one message in flight, a new leader's log reaches a
      // follower one round trip per entry: acknowledgements of old-term entries come well before
      // those of the leader's own entries.
      this.q.maxInflight = chance(this.rng, 0.6) ? 1 : 4;
    }
    this.nemesis = this.profile === "churn" ? new Nemesis(this.nemesisHost(), prng(opts.seed * 31 + 17)) : undefined;
    const n = this.profile === "churn" ? (chance(this.rng, 0.8) ? 5 : 3) : chance(this.rng, 0.5) ? 3 : 5;
    const voters: bigint[] = [];
    for (let i = 0; i < n; i++) voters.push(this.nextId++);
    for (const id of voters) {
      const node = new SimNode(id);
      node.storage.applySnapshot({ meta: { index: 1, term: 1, confState: { voters, learners: [] } }, data: encodeImage({ data: {}, applied: 1 }) });
      this.nodes.set(id, node);
      this.start(node);
    }
    this.clientBusy = new Array(3).fill(undefined);
  }

  private count(k: string): void {
    this.stats[k] = (this.stats[k] ?? 0) + 1;
  }

  private start(n: SimNode): void {
    const snap = n.storage.snapshot();
    // The state machine restarts from its checkpoint, or from the snapshot if that is newer.
    const img = snap.meta.index > n.checkpoint.applied ? decodeImage(snap.data) : n.checkpoint;
    n.data = new Map(Object.entries(img.data));
    n.applied = img.applied;
    n.confState = snap.meta.confState;
    n.tickEvery = n.normalTickEvery = 2 + intn(this.rng, 4);
    n.raw = new RawNode({
      id: n.id, electionTick: 10, heartbeatTick: 2, storage: n.storage,
      // Raft replays from the snapshot so conf changes after it are applied to raft again.
      applied: snap.meta.index,
      maxSizePerMsg: this.q.maxSize, maxInflightMsgs: this.q.maxInflight,
      rng: prng(this.opts.seed * 7919 + Number(n.id) * 104729 + this.now),
    });
  }

  private crash(n: SimNode): void {
    this.log(`t=${this.now} crash ${n.id}`);
    this.count("crash");
    n.raw = undefined;
    n.waitingPuts.clear();
    n.waitingReads.clear();
  }

  // ---- network -------------------------------------------------------------------------------

  private cut(from: bigint, to: bigint): boolean {
    return this.partition !== undefined && this.partition.get(from) !== this.partition.get(to);
  }

  private send(m: Message): void {
    if (this.cut(m.from, m.to) || chance(this.rng, this.p.drop)) {
      this.dropped(m.from, m.to, m.type === MessageType.MsgSnap);
      return;
    }
    const bytes = encodeMessage(m);
    const copies = chance(this.rng, this.p.dup) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.net.push({ bytes, from: m.from, to: m.to, isSnap: m.type === MessageType.MsgSnap, at: this.now + intn(this.rng, this.p.maxDelay) });
    }
  }

  private dropped(from: bigint, to: bigint, isSnap: boolean): void {
    this.count("drop");
    // The transport reports a failed snapshot send so the leader probes again.
    if (isSnap) this.nodes.get(from)?.raw?.reportSnapshot(to, false);
  }

  private deliverDue(): void {
    const due = this.net.filter((f) => f.at <= this.now);
    this.net = this.net.filter((f) => f.at > this.now);
    // Random order among due messages: reordering.
    for (let i = due.length - 1; i > 0; i--) {
      const j = intn(this.rng, i + 1);
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    for (const f of due) {
      const to = this.nodes.get(f.to);
      if (!to?.raw || this.cut(f.from, f.to)) {
        this.dropped(f.from, f.to, f.isSnap);
        continue;
      }
      const m = decodeMessage(f.bytes);
      try {
        to.raw.step(m);
      } catch (e) {
        // A response from a member no longer in our configuration.
        if (!(e instanceof StepPeerNotFoundError)) throw e;
      }
      if (f.isSnap) this.nodes.get(f.from)?.raw?.reportSnapshot(f.to, true);
    }
  }

  // ---- ready handling ------------------------------------------------------------------------

  private handleReady(n: SimNode): void {
    const raw = n.raw!;
    const rd: Ready = raw.ready();
    // 1. persist (atomically here; a crash before this point loses the whole Ready)
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
      const img = decodeImage(rd.snapshot.data);
      n.data = new Map(Object.entries(img.data));
      n.applied = img.applied;
      assert(img.applied === rd.snapshot.meta.index, "snapshot image index mismatch");
      n.checkpoint = img;
      n.confState = rd.snapshot.meta.confState;
      this.count("snapshot-installed");
    }
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    // 2. send
    for (const m of rd.messages) this.send(m);
    // 3. apply
    for (const rs of rd.readStates) {
      const w = n.waitingReads.get(dec.decode(rs.requestCtx));
      if (w) w.index = rs.index;
    }
    for (const e of rd.committedEntries) {
      const fingerprint = `${e.term}/${e.type}/${dec.decode(e.data)}`;
      const prior = this.appliedAt.get(e.index);
      assert(prior === undefined || prior === fingerprint, () => `node ${n.id} applied ${fingerprint} at ${e.index}, another node applied ${prior}`);
      this.appliedAt.set(e.index, fingerprint);
      if (e.type === EntryType.ConfChange) {
        n.confState = raw.applyConfChange(decodeConfChange(e.data));
      } else if (e.data.length > 0 && e.index > n.applied) {
        const cmd = JSON.parse(dec.decode(e.data)) as Command;
        n.data.set(cmd.key, cmd.value);
        const w = n.waitingPuts.get(cmd.op);
        if (w) {
          n.waitingPuts.delete(cmd.op);
          this.complete(w, cmd.value);
        }
      }
      n.applied = Math.max(n.applied, e.index);
    }
    raw.advance(rd);
    // Serve reads whose read index has been applied.
    for (const [ctx, w] of n.waitingReads) {
      if (w.index !== undefined && n.applied >= w.index) {
        n.waitingReads.delete(ctx);
        this.complete(w.op, n.data.get(w.op.key));
      }
    }
    // Checkpoint the state machine now and then (a batch commit, like the real backend).
    if (n.applied - n.checkpoint.applied >= 1 + intn(this.rng, 8)) {
      n.checkpoint = { data: Object.fromEntries(n.data), applied: n.applied };
    }
    // Compact the log behind the checkpoint.
    if (n.checkpoint.applied - n.storage.firstIndex() > 20 && n.checkpoint.applied === n.applied && chance(this.rng, 0.3)) {
      n.storage.createSnapshot(n.applied, n.confState, encodeImage(n.checkpoint));
      n.storage.compact(n.applied);
      this.count("compact");
    }
  }

  // ---- clients -------------------------------------------------------------------------------

  private complete(op: PendingOp, value: string | undefined): void {
    if (op.client < 0) {
      if (!this.detached.delete(op.id)) return; // abandoned already
    } else {
      if (this.clientBusy[op.client]?.id !== op.id) return; // abandoned already
      this.clientBusy[op.client] = undefined;
    }
    this.history.push({ key: op.key, kind: op.kind, value: op.kind === "put" ? op.value : value, call: op.call, ret: ++this.clock });
    this.count(`${op.kind}-ok`);
  }

  private abandon(op: PendingOp): void {
    if (op.client < 0) this.detached.delete(op.id);
    else this.clientBusy[op.client] = undefined;
    // A put may still take effect: unknown outcome. A get that never answered had no effect.
    if (op.kind === "put") this.history.push({ key: op.key, kind: "put", value: op.value, call: op.call, ret: Infinity });
    this.count(`${op.kind}-timeout`);
  }

  private clientStep(client: number): void {
    const busy = this.clientBusy[client];
    if (busy) {
      if (this.now >= busy.deadline) this.abandon(busy);
      return;
    }
    if (!chance(this.rng, 0.3)) return;
    const candidates = [...this.nodes.values()].filter((n) => n.up && !n.removed);
    if (candidates.length === 0) return;
    // Clients stick to the node they used last (possibly a deposed leader), now and then
    // looking up the current leader or picking any node.
    let n = this.nodes.get(this.clientNode[client] ?? 0n);
    if (!n?.up || n.removed || chance(this.rng, 1 - this.sticky[client]!)) {
      const leader = this.leader();
      n = leader && chance(this.rng, 0.7) ? leader : pick(this.rng, candidates);
    }
    this.clientNode[client] = n.id;
    const id = this.nextOp++;
    const key = pick(this.rng, this.keys);
    const kind = chance(this.rng, 1 - this.reads[client]!) ? "put" : "get";
    const value = kind === "put" ? `v${id}` : undefined;
    const op: PendingOp = { id, client, key, kind, value, call: ++this.clock, deadline: this.now + 60, node: n.id };
    this.clientBusy[client] = op;
    if (!this.submit(n, op)) this.clientBusy[client] = undefined;
  }

  /**
   * A put that does not wait for earlier ones (a pipelining client): each is its own process in
   * the history. The nemesis uses it to grow an isolated leader's uncommitted tail.
   */
  private pipelinedPut(n: SimNode): void {
    if (!n.up || n.removed) return;
    const id = this.nextOp++;
    const key = pick(this.rng, this.keys);
    const op: PendingOp = { id, client: -1, key, kind: "put", value: `v${id}`, call: ++this.clock, deadline: this.now + 60, node: n.id };
    this.detached.set(id, op);
    if (!this.submit(n, op)) this.detached.delete(id);
  }

  /** Hands an operation to a node; false if it was dropped at once (it did not happen). */
  private submit(n: SimNode, op: PendingOp): boolean {
    const { id, key, kind, value } = op;
    try {
      if (kind === "put") {
        n.waitingPuts.set(id, op);
        n.raw!.propose(enc.encode(JSON.stringify({ op: id, key, value: value! } satisfies Command)));
      } else {
        n.waitingReads.set(String(id), { op, index: undefined });
        n.raw!.readIndex(enc.encode(String(id)));
      }
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      // Definitely not in any log: the operation did not happen.
      n.waitingPuts.delete(id);
      this.count("dropped-proposal");
      return false;
    }
    return true;
  }

  // ---- faults --------------------------------------------------------------------------------

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (!n.raw || n.removed) continue;
      const st = n.raw.status();
      if (st.role === Role.Leader && (!best || st.term > best.raw!.status().term)) best = n;
    }
    return best;
  }

  private faults(): void {
    const r = this.rng;
    if (this.nemesis?.busy) {
      this.nemesis.step();
      return;
    }
    const live = [...this.nodes.values()].filter((n) => !n.removed);
    if (chance(r, this.p.crash)) {
      const up = live.filter((n) => n.up);
      if (up.length > 0) this.crash(pick(r, up));
    }
    const down = live.filter((n) => !n.up);
    if (down.length > 0 && chance(r, 0.05)) {
      const n = pick(r, down);
      this.log(`t=${this.now} restart ${n.id}`);
      this.count("restart");
      this.start(n);
    }
    if (this.partition === undefined && chance(r, this.p.partition)) {
      this.partition = new Map(live.map((n) => [n.id, intn(r, 2)]));
      this.log(`t=${this.now} partition ${[...this.partition].map(([k, v]) => `${k}:${v}`).join(" ")}`);
      this.count("partition");
    } else if (this.partition !== undefined && this.profile === "random" && chance(r, 0.008)) {
      this.heal();
    }
    this.nemesis?.step();
    const leader = this.leader();
    if (leader && chance(r, this.p.transfer)) {
      const to = pick(r, leader.confState.voters);
      this.log(`t=${this.now} transfer ${leader.id} -> ${to}`);
      this.count("transfer");
      leader.raw!.transferLeader(to);
    }
    if (leader && chance(r, this.p.member)) this.membership(leader);
  }

  private nemesisHost(): NemesisHost {
    const self = this;
    const running = () => [...this.nodes.values()].filter((n) => n.up && !n.removed);
    return {
      get now() {
        return self.now;
      },
      leader: () => {
        const l = this.leader();
        if (!l) return undefined;
        const r = l.raw!.raft;
        return { id: l.id, term: r.term, established: r.raftLog.zeroTermOnCompacted(r.raftLog.committed) === r.term };
      },
      voters: () => running().filter((n) => n.raw!.status().config.voters.includes(n.id)).map((n) => n.id),
      members: () => [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id),
      groups: () => this.partition,
      setGroups: (g) => {
        this.partition = g;
      },
      slowClock: (id, factor) => {
        const n = this.nodes.get(id);
        if (n) n.tickEvery = n.normalTickEvery * factor;
      },
      put: (id) => {
        const n = this.nodes.get(id);
        if (n) this.pipelinedPut(n);
      },
      log: (l) => this.log(l),
      count: (k) => this.count(k),
    };
  }

  private heal(): void {
    this.partition = undefined;
    for (const n of this.nodes.values()) n.tickEvery = n.normalTickEvery;
    this.log(`t=${this.now} heal`);
  }

  private membership(leader: SimNode): void {
    const cs = leader.raw!.status().config;
    const propose = (type: ConfChangeType, nodeId: bigint) => {
      try {
        leader.raw!.proposeConfChange({ type, nodeId, id: 0n, context: new Uint8Array(0) });
        this.count(`confchange-${type}`);
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e;
      }
    };
    const learner = cs.learners[0];
    if (learner !== undefined) {
      // Promote once the learner has caught up.
      const pr = leader.raw!.status().progress.get(learner);
      if (pr && pr.match >= leader.raw!.status().commit) {
        this.log(`t=${this.now} promote ${learner}`);
        propose(ConfChangeType.AddNode, learner);
      }
      return;
    }
    if (cs.voters.length > 3 && chance(this.rng, 0.5)) {
      const victim = pick(this.rng, cs.voters);
      this.log(`t=${this.now} remove ${victim}`);
      propose(ConfChangeType.RemoveNode, victim);
      return;
    }
    if (cs.voters.length < 5) {
      // A brand-new member (IDs are never reused) with an empty log and no configuration.
      const id = this.nextId++;
      const n = new SimNode(id);
      this.nodes.set(id, n);
      this.start(n);
      this.log(`t=${this.now} add learner ${id}`);
      propose(ConfChangeType.AddLearnerNode, id);
    }
  }

  /** Stops members that the leader's applied configuration no longer includes. */
  private reapRemoved(): void {
    const leader = this.leader();
    if (!leader) return;
    const cs = leader.confState;
    for (const n of this.nodes.values()) {
      if (n.removed || cs.voters.includes(n.id) || cs.learners.includes(n.id)) continue;
      // A node added but not yet in the applied config is not removed: skip IDs above the
      // highest configured one that the leader may still be adding.
      if (leader.raw!.status().config.voters.includes(n.id) || leader.raw!.status().config.learners.includes(n.id)) continue;
      if (n.id >= this.nextId - 1n && !n.raw?.status().config.voters.length) continue;
      this.log(`t=${this.now} reap ${n.id}`);
      n.removed = true;
      if (n.raw) this.crash(n);
    }
  }

  // ---- main loop -----------------------------------------------------------------------------

  private step(faulty: boolean): void {
    this.now++;
    if (faulty) this.faults();
    // Clocks run at different rates per node (skew), so leases are not implicitly in sync.
    for (const n of this.nodes.values()) if (n.raw && this.now % n.tickEvery === 0) n.raw.tick();
    for (let c = 0; c < this.clientBusy.length; c++) this.clientStep(c);
    for (const op of this.detached.values()) if (this.now >= op.deadline) this.abandon(op);
    this.deliverDue();
    for (const n of this.nodes.values()) if (n.raw && n.raw.hasReady()) this.handleReady(n);
    if (this.now % 50 === 0) this.reapRemoved();
  }

  run(): SimResult {
    const steps = this.opts.steps ?? 1500;
    for (let i = 0; i < steps; i++) this.step(true);
    // Quiet period: heal, restart everyone, let pending work finish.
    this.heal();
    for (const n of this.nodes.values()) if (!n.up && !n.removed) this.start(n);
    for (let i = 0; i < 400; i++) this.step(false);
    for (let c = 0; c < this.clientBusy.length; c++) {
      const op = this.clientBusy[c];
      if (op) this.abandon(op);
    }
    for (const op of this.detached.values()) this.abandon(op);
    this.stats["leader-at-end"] = this.leader() ? 1 : 0;
    return { history: this.history, stats: this.stats };
  }
}

function encodeImage(img: KvImage): Uint8Array {
  return enc.encode(JSON.stringify(img));
}

function decodeImage(b: Uint8Array): KvImage {
  return JSON.parse(dec.decode(b)) as KvImage;
}
