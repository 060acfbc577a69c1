// The Ready loop that drives the Raft core (src/raft RawNode) for one member:
//   persist (snapshot, entries, hardState; ONE log sync) → send messages → apply committed
//   entries (normal ones through the state machine, conf changes into membership and the core)
//   → answer read states → advance.
// Proposals and linearizable reads are batched: whatever arrives while one Ready is being
// persisted joins the next. Every proposal and read has a deadline; ticks sweep them. The reads'
// bookkeeping is in read-index.ts, the snapshot images sent to peers in outgoing-images.ts.
import type { ServerMetrics } from "./server-metrics.ts";
import type { InStatement } from "../storage/sql-db.ts";
import type { InternalRaftRequest } from "../gen/internal_pb.ts";
import { assert } from "../raft/assert.ts";
import { decodeConfChange } from "../raft/codec.ts";
import { ConfChangeType, type ConfChange } from "../raft/conf-change.ts";
import { MessageType, type Message } from "../raft/message.ts";
import { ProposalDroppedError, Role, type SoftState } from "../raft/raft.ts";
import type { Ready, RawNode } from "../raft/raw-node.ts";
import { EntryType, type ConfState, type Entry, type HardState, type Snapshot, type SnapshotMeta } from "../raft/types.ts";
import type { MemberTable, MembershipEvent } from "../membership/members.ts";
import type { PeerTransport } from "../transport/types.ts";
import { Errors } from "../rpctypes/index.ts";
import type { Logger } from "./logger.ts";
import { RaftStats } from "./raft-stats.ts";
import { OutgoingImages } from "./outgoing-images.ts";
import { ReadIndexReads } from "./read-index.ts";
import { peekRequestId } from "./request-codec.ts";
import { ProposalQueue, type Waiter } from "./proposal-queue.ts";
import { ALREADY_APPLIED, type AppliedEntry, type StateMachine } from "./state-machine-types.ts";
import { diskFault } from "./disk-guard.ts";

/**
 * An inline fsync this slow (ms; half the default heartbeat interval) sends the next ones
 * through the thread pool ...
 */
const INLINE_SYNC_SLOW_MS = 50;
/** ... for this long (ms). */
const INLINE_SYNC_BACKOFF_MS = 5_000;

/** What the loop needs from the durable log (src/storage/raft-log.ts implements it). */
export interface ClusterLog {
  /** Entries in [lo, hi) (the store replays them after a reload). */
  entries(lo: number, hi: number): Entry[];
  append(entries: readonly Entry[]): void;
  setHardState(hs: HardState): void;
  /** `inline`: nothing else waits, fsync on this thread (Wal.sync). */
  sync(inline?: boolean): Promise<void>;
  applySnapshot(snap: Snapshot | SnapshotMeta): void;
  createSnapshot(index: number, confState: ConfState): SnapshotMeta;
  compact(index: number): void;
  snapshotMeta(): SnapshotMeta;
  firstIndex(): number;
  /** Bytes the WAL has written since open (/metrics); absent for logs kept in memory. */
  readonly walBytesWritten?: number;
}

export interface RaftLoopOptions {
  memberId: bigint;
  /** etcd's Prometheus families the loop feeds (fsync latency, leader changes, read indexes). */
  metrics: Pick<ServerMetrics, "walFsync" | "leaderChanges" | "slowReadIndexes" | "snapshotApplyInProgress" | "snapshotReceived" | "snapshotSent">;
  node: RawNode;
  log: ClusterLog;
  sm: StateMachine;
  /** Closes the current state machine, puts the image file in its place and opens it again. */
  reopenSm: (imagePath: string) => Promise<StateMachine>;
  members: MemberTable;
  transport: PeerTransport;
  logger: Logger;
  clock: () => number;
  /** Applied entries between two snapshots (--snapshot-count). */
  snapshotCount: number;
  /** Entries kept below a snapshot for slow followers (etcd: 5000). */
  catchUpEntries: number;
  /** A proposal or read not answered within this fails with "request timed out". */
  requestTimeoutMs: number;
  onLeaderChange: (lead: bigint, prev: bigint) => void;
  /** This member was removed from the cluster. */
  onRemoved: () => void;
  /** A member left or joined: peers to add/remove are handled here, callers may refresh caches. */
  onMembership?: (ev: MembershipEvent) => void;
  /** Entries up to `index` are applied (waits for an index, e.g. a simple token's, end here). */
  onApplied?: (index: number) => void;
  /** Removes a file (a received image that was not installed); no error if it is gone. */
  removeFile: (path: string) => Promise<void>;
  /**
   * Closes the state machine without committing what it holds and opens it again from its file
   * (after a write to it failed for lack of space; the loop then replays the log after it).
   */
  reloadSm: () => Promise<StateMachine>;
  /** Waits between attempts of a write that ran out of space. */
  setTimeout: (fn: () => void, ms: number) => unknown;
  /** Runs a function on the next turn of the event loop, after the I/O already waiting (setImmediate). */
  defer: (fn: () => void) => void;
  /** Writes wait for disk space (true) or go through again (false). */
  onStalled?: (stalled: boolean) => void;
  /** The loop stopped on an error it cannot wait out (see disk-guard.ts). */
  onFatal?: (err: Error) => void;
}

const EMPTY = new Uint8Array(0);

export class RaftLoop {
  readonly node: RawNode;
  private smRef: StateMachine;
  members: MemberTable;
  private readonly waiters = new Map<bigint, Waiter>();
  /** Proposals of this turn, not yet handed to the core. */
  private readonly queued = new ProposalQueue();
  private readonly ccWaiters = new Map<bigint, Waiter>();
  /** Entries per synced Ready, averaged (persist: whether the fsync runs inline). */
  private entriesPerSync = 1;
  /** performance.now() before which syncs go through the pool: an inline one was slow. */
  private inlineOffUntil = 0;
  /** Linearizable reads: waiting, asked for a read index, or waiting for the apply. */
  private readonly reads: ReadIndexReads;
  private tasks: (() => Promise<void>)[] = [];
  private looping = false;
  /** A proposal asked for the loop to start on the next turn (kickSoon). */
  private kickPending = false;
  private loopIdle: Promise<void> = Promise.resolve();
  private fatal?: Error;
  private stopped = false;
  /** A write waits for disk space. */
  private stalledNow = false;
  /** The state machine failed a write: reload it from its file before applying more. */
  private needReload = false;
  private lead = 0n;
  private lastSnapshotIndex: number;
  /** Snapshot images being streamed to peers. */
  private readonly images: OutgoingImages;
  // metrics
  proposalsCommitted = 0;
  proposalsApplied = 0;
  proposalsFailed = 0;
  snapshotsReceived = 0;
  snapshotsSent = 0;
  snapshotsSendFailed = 0;
  /** Append requests and heartbeat round trips (/v2/stats/self and /v2/stats/leader). */
  readonly raftStats = new RaftStats();
  private appliedTermNow: number;

  constructor(private readonly o: RaftLoopOptions) {
    this.node = o.node;
    this.smRef = o.sm;
    this.members = o.members;
    this.images = new OutgoingImages({ node: o.node, transport: o.transport, logger: o.logger });
    this.reads = new ReadIndexReads({ memberId: o.memberId, node: o.node, clock: o.clock, requestTimeoutMs: o.requestTimeoutMs, metrics: o.metrics });
    this.lastSnapshotIndex = o.log.snapshotMeta().index;
    const applied = o.sm.appliedIndex;
    this.appliedTermNow = this.node.raft.raftLog.zeroTermOnCompacted(applied) || (applied === o.log.snapshotMeta().index ? o.log.snapshotMeta().term : 0);
  }

  get sm(): StateMachine {
    return this.smRef;
  }
  get failed(): Error | undefined {
    return this.fatal;
  }
  /** Writes wait for disk space: proposals are refused meanwhile. */
  get stalled(): boolean {
    return this.stalledNow;
  }
  get pendingProposals(): number {
    return this.waiters.size + this.queued.length;
  }

  leader(): bigint {
    return this.node.raft.lead;
  }
  term(): number {
    return this.node.raft.term;
  }
  /**
   * The term of the last applied entry: what etcd puts in response headers and Status as
   * raft_term (its server's Term() is set as each entry applies, not when an election starts).
   */
  appliedTerm(): number {
    return this.appliedTermNow;
  }
  commitIndex(): number {
    return this.node.raft.raftLog.committed;
  }
  isLeader(): boolean {
    return this.node.raft.state === Role.Leader;
  }

  // ---- driving ---------------------------------------------------------------------------

  /** One heartbeat interval passed. */
  tick(): void {
    if (this.stopped || this.fatal) return;
    this.node.tick();
    this.sweep(this.o.clock());
    this.kick();
  }

  /** Messages from peers. */
  receive(msgs: readonly Message[]): void {
    if (this.stopped || this.fatal) return;
    this.raftStats.received(msgs);
    for (const m of msgs) {
      if (m.type === MessageType.MsgSnap) continue; // snapshots come through installSnapshot
      try {
        this.node.step(m);
      } catch (err) {
        // A message from a peer the core no longer tracks (removed member) is dropped.
        this.o.logger.debug("dropped raft message", { error: String(err) });
      }
    }
    this.kick();
  }

  /**
   * A MsgSnap with its image on disk, handled between two Readies. The message goes to the core
   * first: only if the core restores the snapshot (not a stale term, newer than the commit index,
   * this member in its configuration, not already in the log) does the image replace the state
   * machine, before the Ready that persists the snapshot and acknowledges it. A failure to
   * install it after the core took it stops the member (the core and the store would disagree).
   */
  installSnapshot(m: Message, imagePath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.tasks.push(async () => {
        let failure: unknown;
        try {
          await this.install(m, imagePath);
        } catch (err) {
          failure = err;
        } finally {
          await this.o.removeFile(imagePath).catch(() => {});
        }
        if (failure === undefined) return resolve();
        reject(failure);
        throw failure;
      });
      this.kick();
    });
  }

  private async install(m: Message, imagePath: string): Promise<void> {
    const snap = m.snapshot;
    assert(snap !== undefined, "MsgSnap without a snapshot");
    const log = this.node.raft.raftLog;
    const before = log.unstable.snapshot;
    this.node.step(m);
    const restored = log.unstable.snapshot;
    if (restored === before || restored === undefined || restored.meta.index !== snap.meta.index || restored.meta.term !== snap.meta.term) {
      this.o.logger.info("ignored a snapshot the raft log does not need", { index: snap.meta.index, term: snap.meta.term, commit: log.committed });
      return;
    }
    this.o.logger.info("installing snapshot from the leader", { index: snap.meta.index, term: snap.meta.term });
    this.o.metrics.snapshotApplyInProgress.set(1);
    try {
      await this.replaceSm(() => this.o.reopenSm(imagePath));
    } finally {
      this.o.metrics.snapshotApplyInProgress.set(0);
    }
    for (const mem of this.members.list()) {
      if (mem.id !== this.o.memberId) this.o.transport.addPeer(mem.id, mem.peerURLs);
    }
    this.snapshotsReceived++;
    this.o.metrics.snapshotReceived(m.from);
  }

  reportUnreachable(id: bigint): void {
    if (this.stopped || this.fatal) return;
    this.raftStats.unreachable(id);
    this.node.reportUnreachable(id);
    this.kick();
  }

  reportSnapshot(id: bigint, ok: boolean): void {
    this.images.close(id);
    if (ok) this.snapshotsSent++;
    else this.snapshotsSendFailed++;
    this.o.metrics.snapshotSent(id, ok);
    if (this.stopped || this.fatal) return;
    this.node.reportSnapshot(id, ok);
    this.kick();
  }

  /** Runs `fn` on the core between Readies, then drives the loop. */
  withNode(fn: (n: RawNode) => void): void {
    fn(this.node);
    this.kick();
  }

  kick(): void {
    if (this.looping || this.fatal) return;
    this.looping = true;
    this.loopIdle = this.loop().catch((err: unknown) => this.die(err));
  }

  /**
   * Starts the loop for a new proposal on the next turn of the event loop rather than at once, so
   * that the requests other connections sent in the same turn are read first and go into the
   * same Ready and the same fsync. Started at once, each connection's request was a Ready of its
   * own, which looks like a lone client (one entry, one waiter) and got the inline fsync: 100
   * HTTP/1 connections were then served one fdatasync at a time (v2 set at 0.10x etcd).
   */
  private kickSoon(): void {
    if (this.looping || this.kickPending) return;
    this.kickPending = true;
    this.o.defer(() => {
      this.kickPending = false;
      this.kick();
    });
  }

  /** Resolves when the loop has nothing left to do. */
  async drain(): Promise<void> {
    while (!this.fatal && (this.looping || this.node.hasReady() || this.tasks.length > 0 || this.queued.length > 0)) {
      if (!this.looping) this.kick();
      await this.loopIdle;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.drain();
    this.images.closeAll();
    this.failAll(Errors.stopped);
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        while (this.tasks.length > 0) await this.tasks.shift()!();
        this.queued.flush(
          (data) => this.node.propose(data),
          (p) => this.waiters.set(p.id, { resolve: p.resolve, reject: p.reject, deadline: p.deadline, req: p.req }),
        );
        this.reads.issue();
        if (!this.node.hasReady()) break;
        const rd = this.node.ready();
        if (rd.softState) this.softStateChanged(rd.softState);
        // A leader replicates while it writes its own disk (Raft thesis §10.2.1, as etcd does).
        // Safe because Readies are handled one at a time: a commit learned from followers' acks
        // is applied, acknowledged or sent on only in a later Ready, after this one is durable.
        // Everyone else sends only what is durable (votes, acks).
        const early = this.isLeader();
        if (early) await this.send(rd.messages);
        await this.persist(rd);
        if (!early) await this.send(rd.messages);
        this.reads.answered(rd.readStates);
        if (rd.committedEntries.length > 0) await this.untilSpace(() => this.applyCommitted(rd.committedEntries));
        this.node.advance(rd);
        this.reads.release(this.smRef.appliedIndex);
        this.maybeSnapshot();
      }
    } finally {
      this.looping = false;
    }
    if (this.reads.pending || this.node.hasReady() || this.tasks.length > 0 || this.queued.length > 0) this.kick();
  }

  private softStateChanged(ss: SoftState): void {
    const prev = this.lead;
    this.lead = ss.lead;
    if (prev !== ss.lead) {
      if (ss.lead !== 0n) this.o.metrics.leaderChanges.inc();
      this.o.logger.info(ss.lead === 0n ? "raft lost leader" : "raft elected leader", {
        leader: ss.lead.toString(16),
        term: this.node.raft.term,
      });
      // Reads sent to a leader that is gone are lost: ask the new one.
      if (ss.lead !== 0n) this.reads.resend();
      this.o.onLeaderChange(ss.lead, prev);
    }
  }

  private async persist(rd: Ready): Promise<void> {
    if (!rd.snapshot && rd.entries.length === 0 && !rd.hardState) return;
    if (rd.snapshot) this.o.log.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.o.log.append(rd.entries);
    if (rd.hardState) this.o.log.setHardState(rd.hardState);
    // Only new entries or a new term/vote must be durable before we go on; a commit index that
    // moved rides along with the next sync (a lost one is learned again from the leader).
    if (!rd.mustSync) return;
    const t0 = performance.now();
    // A lone client (one entry per sync for a while, the only proposal waiting) is answered
    // sooner with the fsync on this thread (measured: the thread pool's two hand-offs cost ~90 µs
    // of a ~190 µs fdatasync; put at 1 client 0.80x etcd's throughput, 1.03x inline). With more
    // clients the pool's fsync overlaps their requests' work, and blocking would hold them up
    // (inline whenever a batch was small: 0.44x at 100 clients, 0.65x at 10). The average batch
    // tells the two apart: while syncs run inline, several clients' requests pile up into the
    // next batch and the average rises at once.
    this.entriesPerSync = this.entriesPerSync * 0.9 + rd.entries.length * 0.1;
    const inline = rd.entries.length <= 1 && this.entriesPerSync < 1.25 && this.waiters.size <= 1 && !this.reads.pending && t0 >= this.inlineOffUntil;
    // Only the sync is tried again: the WAL keeps what it could not write (wal.ts).
    await this.untilSpace(() => this.o.log.sync(inline));
    // A slow disk (a flush of 50 ms or more) would hold timers, heartbeats and every socket of
    // this member for that long: its syncs go through the pool for the next 5 s.
    if (inline && performance.now() - t0 >= INLINE_SYNC_SLOW_MS) this.inlineOffUntil = performance.now() + INLINE_SYNC_BACKOFF_MS;
    this.o.metrics.walFsync.observe((performance.now() - t0) / 1000);
  }

  private async send(msgs: readonly Message[]): Promise<void> {
    if (msgs.length === 0) return;
    this.raftStats.sent(msgs);
    let plain: Message[] | undefined;
    for (const m of msgs) {
      if (m.type === MessageType.MsgSnap) await this.sendSnapshot(m);
      else (plain ??= []).push(m);
    }
    if (plain) this.o.transport.send(plain);
  }

  /** A MsgSnap goes out with an image of the state machine as applied now (outgoing-images.ts). */
  private async sendSnapshot(m: Message): Promise<void> {
    if (await this.images.send(m, this.smRef)) return;
    this.snapshotsSendFailed++;
    this.o.metrics.snapshotSent(m.to, false);
    this.node.reportSnapshot(m.to, false);
  }

  private async apply(entries: readonly Entry[], replay = false): Promise<void> {
    const batch: AppliedEntry[] = [];
    const after: (() => void)[] = [];
    for (const e of entries) {
      if (e.type !== EntryType.ConfChange) {
        // An ID names one proposal of this member, so a waiter's request is this entry's.
        const id = peekRequestId(e.data);
        const req = id === 0n ? undefined : this.waiters.get(id)?.req;
        batch.push(req === undefined ? { index: e.index, data: e.data } : { index: e.index, data: e.data, req });
        continue;
      }
      const cc = decodeConfChange(e.data);
      const out: InStatement[] = [];
      const ev = this.members.applyConfChange(cc, out);
      batch.push({ index: e.index, data: EMPTY, effect: (stmts) => stmts.push(...out), membership: ev });
      if (!replay) after.push(() => this.confChangeApplied(cc, ev));
    }
    const results = await this.smRef.apply(batch);
    if (entries.length > 0) this.appliedTermNow = entries[entries.length - 1]!.term;
    this.proposalsCommitted += entries.length;
    this.proposalsApplied += entries.length;
    for (let i = 0; i < batch.length; i++) {
      const b = batch[i]!;
      if (b.effect) continue;
      const id = peekRequestId(b.data);
      if (id === 0n) continue;
      const w = this.waiters.get(id);
      if (!w) continue;
      this.waiters.delete(id);
      const r = results[i];
      if (r === ALREADY_APPLIED) {
        this.proposalsFailed++;
        this.o.logger.warn("a proposal's entry was skipped as already applied", { index: b.index });
        w.reject(Errors.timeout);
      } else if (r instanceof Error) {
        this.proposalsFailed++;
        w.reject(r);
      } else w.resolve(r);
    }
    for (const f of after) f();
    this.o.onApplied?.(this.smRef.appliedIndex);
  }

  /** Applies committed entries, reloading the store first if an earlier write to it failed. */
  private async applyCommitted(entries: readonly Entry[]): Promise<void> {
    if (this.needReload) await this.reload(entries[0]!.index);
    try {
      await this.apply(entries);
    } catch (err) {
      if (diskFault(err) === "full") this.needReload = true;
      throw err;
    }
  }

  /**
   * Swaps the state machine for the one `open` returns and reads the member table back from it.
   * Client watch streams outlive the state machine: the hub is paused while the store is
   * replaced, then every watcher re-syncs from the new one.
   */
  private async replaceSm(open: () => Promise<StateMachine>): Promise<void> {
    const hub = this.smRef.detachWatchHub();
    try {
      this.smRef = await open();
    } catch (err) {
      hub.close();
      throw err;
    }
    this.smRef.attachWatchHub(hub);
    const { MemberTable } = await import("../membership/members.ts");
    this.members = MemberTable.fromRows(await this.smRef.members());
  }

  /**
   * The state machine failed a write (out of space): what it held beyond its file is gone from
   * the file, though applied in memory. Reload it from the file and replay, from the log, every
   * entry after the file's applied index up to `upTo` (exclusive). Those entries were answered
   * already; conf changes among them are in the core and the member table already, so only the
   * table's rows are written again (the table itself is read back from the file first).
   */
  private async reload(upTo: number): Promise<void> {
    this.o.logger.warn("reloading the state machine from its file after a failed write");
    await this.replaceSm(() => this.o.reloadSm());
    const from = this.smRef.appliedIndex + 1;
    if (from < upTo) await this.apply(this.o.log.entries(from, upTo), true);
    this.needReload = false;
  }

  /**
   * Runs a write, waiting out lack of disk space: tried again with a backoff up to 1 s for as
   * long as it fails with ENOSPC/SQLITE_FULL (proposals are refused meanwhile). Any other
   * failure goes up (and stops the member).
   */
  private async untilSpace(op: () => Promise<void>): Promise<void> {
    let wait = 50;
    for (;;) {
      try {
        await op();
        if (this.stalledNow) {
          this.stalledNow = false;
          this.o.onStalled?.(false);
        }
        return;
      } catch (err) {
        if (diskFault(err) !== "full" || this.stopped) throw err;
        if (!this.stalledNow) {
          this.stalledNow = true;
          this.o.logger.warn("out of disk space; waiting for space to write", { error: (err as Error).message });
          this.o.onStalled?.(true);
        }
        await new Promise<void>((r) => this.o.setTimeout(r, wait));
        wait = Math.min(wait * 2, 1000);
      }
    }
  }

  private confChangeApplied(cc: ConfChange, ev: MembershipEvent): void {
    this.node.applyConfChange(cc);
    const t = this.o.transport;
    switch (ev.kind) {
      case "added":
        if (ev.member.id !== this.o.memberId) t.addPeer(ev.member.id, ev.member.peerURLs);
        break;
      case "updated":
        if (ev.member.id !== this.o.memberId) t.updatePeer(ev.member.id, ev.member.peerURLs);
        break;
      case "removed":
        if (ev.id !== this.o.memberId) t.removePeer(ev.id);
        break;
      default:
        break;
    }
    this.o.onMembership?.(ev);
    const w = this.ccWaiters.get(cc.id);
    if (w) {
      this.ccWaiters.delete(cc.id);
      w.resolve(undefined);
    }
    if (ev.kind === "removed" && ev.id === this.o.memberId) this.o.onRemoved();
    else if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.o.memberId) this.o.onRemoved();
  }

  private maybeSnapshot(): void {
    if (this.smRef.appliedIndex - this.lastSnapshotIndex < this.o.snapshotCount) return;
    // The log is cut behind the snapshot index: everything applied must be on disk in the state
    // file first (a power loss included), or a restart would find entries it needs gone.
    if (this.needReload) return;
    try {
      this.smRef.syncToDisk();
    } catch (err) {
      if (diskFault(err) !== "full") throw err;
      // The group it held is gone from the file: reloaded before the next apply; no cut now.
      this.needReload = true;
      return;
    }
    const applied = this.smRef.durableIndex;
    const idx = Math.min(applied, this.node.raft.raftLog.committed);
    if (idx <= this.o.log.snapshotMeta().index) return;
    this.o.log.createSnapshot(idx, this.node.raft.prs.confState());
    this.lastSnapshotIndex = idx;
    const compactTo = idx - this.o.catchUpEntries;
    if (compactTo >= this.o.log.firstIndex()) this.o.log.compact(compactTo);
    this.o.logger.info("saved snapshot", { index: idx, "compacted-to": Math.max(0, compactTo) });
  }

  private die(err: unknown): void {
    // A failed fsync or apply leaves memory and disk out of step: stop serving rather than
    // acknowledge anything more (a crashed member is recoverable, a corrupt one is not).
    this.fatal = err instanceof Error ? err : new Error(String(err));
    if (this.stopped && diskFault(err) === "full") {
      this.failAll(Errors.stopped); // stopped while waiting for space: nothing more to say
      return;
    }
    this.o.logger.error("fatal error in the apply loop; stopping", { error: this.fatal.message, stack: this.fatal.stack });
    this.failAll(Errors.stopped);
    this.o.onFatal?.(this.fatal);
  }

  private failAll(err: unknown): void {
    this.queued.failAll(err);
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    for (const w of this.ccWaiters.values()) w.reject(err);
    this.ccWaiters.clear();
    this.reads.failAll(err);
  }

  /** Fails what passed its deadline (insertion order is deadline order). */
  private sweep(now: number): void {
    for (const map of [this.waiters, this.ccWaiters]) {
      for (const [id, w] of map) {
        if (w.deadline > now) break;
        map.delete(id);
        this.proposalsFailed++;
        w.reject(Errors.timeout);
      }
    }
    this.reads.sweep(now);
  }

  // ---- proposals and reads ------------------------------------------------------------------

  private checkUsable(): void {
    if (this.stopped || this.fatal) throw Errors.stopped;
  }

  /** Why a proposal cannot be taken now ("server stopped", "no leader"), or undefined. */
  private refusal(): unknown {
    if (this.stopped || this.fatal) return Errors.stopped;
    if (this.node.raft.lead === 0n) return Errors.noLeader;
    return undefined;
  }

  /**
   * Proposes an encoded request carrying `id`; resolves with its apply result. It reaches the
   * core when the loop next runs, with the others of this turn (proposal-queue.ts); `cancelled`
   * says whether its caller has given up by then.
   */
  propose(id: bigint, data: Uint8Array, req?: InternalRaftRequest, cancelled?: () => boolean): Promise<unknown> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.queued.push({ id, data, cancelled, resolve, reject, deadline: this.o.clock() + this.o.requestTimeoutMs, req });
      this.kickSoon();
    });
  }

  /** Proposes a membership change; resolves once it is applied here. */
  async proposeConfChange(cc: ConfChange): Promise<void> {
    await this.submit(
      () => this.node.proposeConfChange(cc),
      (resolve, reject) =>
        this.ccWaiters.set(cc.id, { resolve: () => resolve(undefined), reject, deadline: this.o.clock() + this.o.requestTimeoutMs }),
    );
  }

  /**
   * Hands a proposal to the core and registers its waiter: "no leader" when none is known,
   * "leader changed" when the core drops it (e.g. during a leader transfer).
   */
  private submit(
    proposeToCore: () => void,
    register: (resolve: (v: unknown) => void, reject: (e: unknown) => void) => void,
  ): Promise<unknown> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      try {
        proposeToCore();
      } catch (err) {
        if (err instanceof ProposalDroppedError) reject(Errors.leaderChanged);
        else reject(err);
        return;
      }
      register(resolve, reject);
      this.kickSoon();
    });
  }

  /** Resolves once every write acknowledged before the call is visible locally. */
  linearizableRead(): Promise<void> {
    try {
      this.checkUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.reads.add(resolve, reject);
      this.kick();
    });
  }
}
