// The member: drives the consensus node's Ready loop (persist → send → apply → advance),
// batches proposals and linearizable reads, and implements the EtcdServer surface that the
// client adapters call. Every write is acknowledged only after its log entry is durable and
// applied; reads wait for a read index to be applied.
import { create } from "@bufbuild/protobuf";
import {
  type AlarmMember,
  AlarmRequest_AlarmAction,
  type AlarmRequest,
  type AlarmResponse,
  AlarmType,
  type CompactionRequest,
  type CompactionResponse,
  type DefragmentResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKVRequest,
  type HashKVResponse,
  type HashResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type MemberAddRequest,
  type MemberAddResponse,
  type MemberPromoteRequest,
  type MemberRemoveRequest,
  type MemberUpdateRequest,
  LeaseTimeToLiveRequestSchema,
  MemberListResponseSchema,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
  type MoveLeaderRequest,
  type MoveLeaderResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  ResponseHeaderSchema,
  type SnapshotResponse,
  StatusResponseSchema,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  type WatchResponse,
  AlarmResponseSchema,
  LeaseKeepAliveResponseSchema,
  HashResponseSchema,
  DefragmentResponseSchema,
  HashKVResponseSchema,
  MoveLeaderResponseSchema,
  CompactionRequestSchema,
} from "../gen/rpc_pb.ts";
import type { MembershipEvent } from "../membership/members.ts";
import type { Message } from "../raft/message.ts";
import { Role } from "../raft/raft.ts";
import type { PeerHandler, PeerMember } from "../transport/types.ts";
import { ClusterOps, toMember } from "./cluster-ops.ts";
import { Errors } from "../rpctypes/index.ts";
import { IdGenerator } from "./id-generator.ts";
import { RaftLoop, type RaftLoopOptions } from "./raft-loop.ts";
import { buildRequest, type RequestInit } from "./request-codec.ts";
import { txnHasPut } from "./apply-kv.ts";
import type { StateMachine } from "./state-machine.ts";
import { portableHasher, SimpleTokens, type PasswordHasher } from "../auth/index.ts";
import { AuthOps } from "./auth-ops.ts";
import { MemberAuth, type Tokens } from "./member-auth.ts";
import type { AuthServer, EtcdServer, RequestContext, WatchStream } from "./types.ts";
import type { DiskGuard } from "./disk-guard.ts";
import { buildV2Entry, type V2RequestFields } from "./v2-codec.ts";

/** What the server hands straight to its raft loop (documented on RaftLoopOptions). */
type LoopParts = "memberId" | "node" | "log" | "sm" | "reopenSm" | "reloadSm" | "members" | "transport" | "logger" | "clock" | "snapshotCount" | "removeFile";

export interface ServerOptions extends Pick<RaftLoopOptions, LoopParts> {
  clusterId: bigint;
  /** Monotonic ms for request deadlines (default: clock). */
  monotonic?: () => number;
  name: string;
  /** This member's advertised client URLs, published through the log after start. */
  clientURLs: string[];
  rng: () => number;
  maxRequestBytes: number;
  maxTxnOps: number;
  version: string;
  heartbeatMs: number;
  electionMs: number;
  /** Fast-forward election ticks at start (--initial-election-tick-advance). */
  initialElectionTickAdvance: boolean;
  /** Entries kept below a snapshot for slow followers (default 5000, as etcd). */
  catchUpEntries?: number;
  clusterToken: string;
  strictReconfigCheck: boolean;
  /** Periodic work: ticks, lease expiry and checkpoints, auto compaction. */
  setInterval: (fn: () => void, ms: number) => unknown;
  clearInterval: (h: unknown) => void;
  /** One-shot timers (waits with a deadline); the host's when not given. */
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (h: unknown) => void;
  /** The data dir's watch (free space, the dir still there): refuses writes when space is low. */
  disk?: DiskGuard;
  /** The member cannot go on (a disk fault it cannot wait out): the process should stop. */
  onFatal?: (err: Error) => void;
  /** Drive ticks from setInterval (default true; tests tick by hand). */
  autoTick?: boolean;
  autoCompaction?: { mode: "periodic" | "revision"; retention: number };
  /** This member was removed from the cluster: the process should stop. */
  onRemoved?: () => void;
  /** v3 auth: the token provider (--auth-token), bcrypt and its cost (default simple, 10). */
  auth?: { tokens?: Tokens; hasher?: PasswordHasher; bcryptCost?: number };
}

export const SERVER_VERSION = "3.4.23";

/** etcd's maxGapBetweenApplyAndCommitIndex. */
const MAX_APPLY_BACKLOG = 5000;

/** How often the leader checkpoints lease TTLs through the log (etcd: 5 min; ours is short). */
export const LEASE_CHECKPOINT_MS = 2000;

export class Server implements EtcdServer, PeerHandler {
  readonly auth: MemberAuth;
  readonly authServer: AuthServer;
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly maxRequestBytes: number;
  readonly loop: RaftLoop;
  private readonly ids: IdGenerator;
  private readonly ops: ClusterOps;
  private timers: unknown[] = [];
  private stopped = false;
  private published = false;
  private publishing = false;
  private removed = false;
  private readonly leaderWatchers = new Set<() => void>();
  /** Called once when the leader is lost (the pipeline ends hasleader streams with them). */
  private readonly leaderLost = new Set<() => void>();
  /** The request timeout: etcd's 5 s + 2 × election timeout. */
  readonly requestTimeoutMs: number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (h: unknown) => void;

  constructor(private readonly o: ServerOptions) {
    this.setTimer = o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = o.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.clusterId = o.clusterId;
    this.memberId = o.memberId;
    this.maxRequestBytes = o.maxRequestBytes;
    this.ids = new IdGenerator(o.memberId, o.clock());
    this.requestTimeoutMs = 5000 + 2 * o.electionMs;
    this.loop = new RaftLoop({
      memberId: o.memberId,
      node: o.node,
      log: o.log,
      sm: o.sm,
      reopenSm: o.reopenSm,
      reloadSm: o.reloadSm,
      setTimeout: this.setTimer,
      onStalled: (on) => o.disk?.setStalled(on),
      onFatal: (err) => o.onFatal?.(err),
      members: o.members,
      transport: o.transport,
      logger: o.logger,
      clock: o.monotonic ?? o.clock,
      snapshotCount: o.snapshotCount,
      catchUpEntries: o.catchUpEntries ?? 5000,
      requestTimeoutMs: this.requestTimeoutMs,
      onLeaderChange: (lead, prev) => this.leaderChanged(lead, prev),
      onRemoved: () => this.removedFromCluster(),
      onMembership: (ev) => this.membershipChanged(ev),
      onApplied: (index) => this.applied(index),
      removeFile: o.removeFile,
    });
    const tokens: Tokens = o.auth?.tokens ?? {
      kind: "simple",
      simple: new SimpleTokens(300_000, o.clock, { setInterval: o.setInterval, clearInterval: o.clearInterval }),
    };
    this.auth = new MemberAuth({
      store: () => this.sm.auth,
      tokens,
      appliedIndex: () => this.sm.appliedIndex,
      waitApplied: (index, ms, signal) => this.waitApplied(index, ms, signal),
      waitMs: this.requestTimeoutMs,
    });
    this.authServer = new AuthOps({
      store: () => this.sm.auth,
      tokens,
      hasher: o.auth?.hasher ?? portableHasher,
      bcryptCost: o.auth?.bcryptCost ?? 10,
      propose: (init, ctx) => this.propose(init, ctx),
      linearizableRead: () => this.linearizableRead(),
      header: () => this.header(),
      logger: o.logger,
    });
    this.ops = new ClusterOps({
      memberId: o.memberId,
      loop: this.loop,
      transport: o.transport,
      clusterToken: o.clusterToken,
      strictReconfigCheck: o.strictReconfigCheck,
      clock: o.clock,
      rng: o.rng,
      header: () => this.memberHeader(),
      waitFor: (pred, ms, err) => this.waitFor(pred, ms, err),
      electionMs: o.electionMs,
      requestTimeoutMs: this.requestTimeoutMs,
    });
  }

  private get sm(): StateMachine {
    return this.loop.sm;
  }

  /** Replays what the log holds beyond the state machine and starts periodic work. */
  async start(): Promise<void> {
    const node = this.o.node;
    for (const m of this.loop.members.list()) if (m.id !== this.memberId) this.o.transport.addPeer(m.id, m.peerURLs);
    await this.loop.drain();
    const electionTicks = Math.max(1, Math.round(this.o.electionMs / this.o.heartbeatMs));
    const voters = node.raft.prs.confState().voters;
    if (voters.length === 1 && voters[0] === this.memberId) {
      // A lone voter need not wait out an election timeout.
      if (node.raft.state !== Role.Leader) this.loop.withNode((n) => n.campaign());
      await this.loop.drain();
    } else if (this.o.initialElectionTickAdvance) {
      // etcd fast-forwards all but one election tick so a fresh cluster elects quickly.
      for (let i = 0; i < electionTicks - 1; i++) node.tick();
      this.loop.kick();
    }
    if (this.o.autoTick !== false) this.timers.push(this.o.setInterval(() => this.tick(), this.o.heartbeatMs));
    this.timers.push(this.o.setInterval(() => this.expireLeases(), 500));
    this.timers.push(this.o.setInterval(() => void this.checkpointLeases(), LEASE_CHECKPOINT_MS));
    if (this.o.autoCompaction && this.o.autoCompaction.retention > 0) this.startAutoCompaction(this.o.autoCompaction);
    this.publish();
  }

  /** One heartbeat interval (the timer calls it; tests may call it by hand). */
  tick(): void {
    if (this.stopped) return;
    this.loop.tick();
    if (!this.published) this.publish();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.auth.stop();
    for (const w of this.appliedWaiters.splice(0)) w.reject(Errors.stopped);
    for (const t of this.timers) this.o.clearInterval(t);
    await this.loop.stop();
    for (const w of this.leaderWatchers) w();
  }

  async drain(): Promise<void> {
    await this.loop.drain();
  }

  header(revision = this.sm.revision): ResponseHeader {
    return create(ResponseHeaderSchema, {
      clusterId: this.clusterId,
      memberId: this.memberId,
      revision: BigInt(revision),
      raftTerm: BigInt(this.loop.term()),
    });
  }

  private memberHeader(): ResponseHeader {
    const h = this.header();
    h.revision = 0n; // etcd 3.4 sends no revision in membership headers
    return h;
  }

  isLearner(): boolean {
    return this.loop.members.get(this.memberId)?.isLearner ?? false;
  }

  hasLeader(): boolean {
    return this.loop.leader() !== 0n;
  }

  get maxTxnOps(): number {
    return this.o.maxTxnOps;
  }

  /** etcd's maxGapBetweenApplyAndCommitIndex: proposals are refused beyond this backlog. */
  applyBacklogged(): boolean {
    return this.loop.commitIndex() > this.sm.appliedIndex + MAX_APPLY_BACKLOG;
  }

  onLeaderLost(fn: () => void): () => void {
    this.leaderLost.add(fn);
    return () => void this.leaderLost.delete(fn);
  }

  leaseKeys(id: bigint): Uint8Array[] {
    return this.sm.leaseKeys(id);
  }

  leaseIds(): bigint[] {
    return this.sm.leaseLeases().leases.map((l) => l.ID);
  }

  // ---- leader changes, publishing, removal ----------------------------------------------------

  private leaderChanged(lead: bigint, _prev: bigint): void {
    if (lead === this.memberId) {
      // A new leader restarts lease deadlines from the checkpointed remaining TTLs, extended by
      // an election timeout so keepalives sent to the old leader are not lost (etcd's Promote).
      this.sm.leasePromote(this.o.electionMs);
    }
    if (lead === 0n) {
      const fns = [...this.leaderLost];
      this.leaderLost.clear();
      for (const fn of fns) fn();
    }
    for (const w of this.leaderWatchers) w();
    if (lead !== 0n && !this.published) this.publish();
  }

  private membershipChanged(_ev: MembershipEvent): void {
    for (const w of this.leaderWatchers) w();
  }

  private readonly appliedWaiters: { index: number; resolve(): void; reject(e: unknown): void }[] = [];

  private applied(index: number): void {
    if (this.appliedWaiters.length === 0) return;
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const w = this.appliedWaiters[i]!;
      if (w.index <= index) {
        this.appliedWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves once `index` is applied here; rejects after `ms`, on abort or at stop. */
  private waitApplied(index: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (index <= this.sm.appliedIndex) return Promise.resolve();
    if (this.stopped) return Promise.reject(Errors.stopped);
    return new Promise((resolve, reject) => {
      const timer = this.setTimer(() => done(Errors.timeout), ms);
      const onAbort = () => done(Errors.timeout);
      const w = {
        index,
        resolve: () => done(undefined),
        reject: (e: unknown) => done(e),
      };
      let settled = false;
      const done = (err: unknown) => {
        if (settled) return;
        settled = true;
        this.clearTimer(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = this.appliedWaiters.indexOf(w);
        if (i >= 0) this.appliedWaiters.splice(i, 1);
        if (err === undefined) resolve();
        else reject(err);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.appliedWaiters.push(w);
    });
  }

  /** Resolves once pred() holds (checked after every leader or membership change and tick). */
  private waitFor(pred: () => boolean, ms: number, err: Error): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const now = this.o.monotonic ?? this.o.clock;
      const deadline = now() + ms;
      const check = () => {
        if (pred()) {
          this.leaderWatchers.delete(check);
          resolve();
        } else if (this.stopped || now() >= deadline) {
          this.leaderWatchers.delete(check);
          reject(this.stopped ? Errors.stopped : err);
        }
      };
      this.leaderWatchers.add(check);
      const t = this.o.setInterval(() => {
        check();
        if (!this.leaderWatchers.has(check)) this.o.clearInterval(t);
      }, Math.max(10, this.o.heartbeatMs));
    });
  }

  /** Proposes this member's name and client URLs once a leader exists (etcd's publish). */
  private publish(): void {
    if (this.published || this.publishing || this.stopped || this.loop.leader() === 0n) return;
    const cur = this.loop.members.get(this.memberId);
    if (cur === undefined) return; // not (yet) in the member table: joining, wait for the log
    if (cur.name === this.o.name && sameList(cur.clientURLs, this.o.clientURLs)) {
      this.published = true;
      return;
    }
    this.publishing = true;
    this.propose({
      memberAttrs: { ID: this.memberId, name: this.o.name, clientURLs: this.o.clientURLs, peerURLs: [...cur.peerURLs], isLearner: cur.isLearner },
    })
      .then(() => {
        this.published = true;
        this.o.logger.info("published local member to cluster through raft", { name: this.o.name });
      })
      .catch((err: unknown) => this.o.logger.warn("failed to publish local member; will retry", { error: String(err) }))
      .finally(() => {
        this.publishing = false;
      });
  }

  private removedFromCluster(): void {
    if (this.removed) return;
    this.removed = true;
    this.o.logger.warn("the member has been permanently removed from the cluster");
    this.o.onRemoved?.();
  }

  // ---- PeerHandler -----------------------------------------------------------------------------

  receive(msgs: Message[]): void {
    this.loop.receive(msgs);
  }

  receiveSnapshot(m: Message, imagePath: string): Promise<void> {
    return this.loop.installSnapshot(m, imagePath);
  }

  isRemoved(id: bigint): boolean {
    return this.loop.members.isRemoved(id);
  }

  members(): PeerMember[] {
    return this.loop.members.list().map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner }));
  }

  raftStatus(): { term: number; commit: number; applied: number; leader: bigint } {
    return { term: this.loop.term(), commit: this.loop.commitIndex(), applied: this.sm.appliedIndex, leader: this.loop.leader() };
  }

  async leaseRenew(id: bigint): Promise<number> {
    if (!this.loop.isLeader()) throw Errors.notLeader;
    await this.loop.linearizableRead();
    const checkpointed = this.sm.leaseCheckpointed(id);
    const ttl = this.sm.leaseRenew(id);
    if (ttl > 0 && checkpointed) {
      // A checkpoint holds an older remaining TTL: a leader elected now would restart the lease
      // from it, before the deadline this renewal promises. Clear it through the log before
      // answering (etcd's Renew does the same), so the next leader counts the full TTL.
      await this.propose({ leaseCheckpoint: { checkpoints: [{ ID: id, remainingTTL: 0n }] } });
    }
    return ttl;
  }

  async leaseRemaining(id: bigint): Promise<number> {
    if (!this.loop.isLeader()) throw Errors.notLeader;
    return Number(this.sm.leaseTimeToLive(create(LeaseTimeToLiveRequestSchema, { ID: id })).TTL);
  }

  /** MemberPromote forwarded by a follower: only the leader decides. */
  promoteMember(id: bigint): Promise<PeerMember[]> {
    return this.ops.promoteOnLeader(id);
  }

  // ---- proposals --------------------------------------------------------------------------------

  /**
   * Proposes one request and resolves with its apply result. The header carries the caller's
   * identity (etcd's RequestHeader): the auth applier checks the request against it at the
   * entry's log position, the same on every member.
   */
  private propose<T>(init: RequestInit, ctx?: RequestContext): Promise<T> {
    if (this.stopped) return Promise.reject(Errors.stopped);
    // Writes wait for disk space: a new proposal would only wait behind them (disk-guard.ts).
    if (this.loop.stalled) return Promise.reject(Errors.noSpace);
    const id = this.ids.next();
    init.ID = id;
    const ai = ctx?.auth;
    if (ai !== undefined) init.header = { ID: id, username: ai.username, authRevision: BigInt(ai.revision) };
    const { req, data } = buildRequest(init);
    if (data.length > this.maxRequestBytes) return Promise.reject(Errors.requestTooLarge);
    return this.loop.propose(id, data, req) as Promise<T>;
  }

  private linearizableRead(): Promise<void> {
    return this.loop.linearizableRead();
  }

  private checkQuota(init: RequestInit): void {
    // The disk itself is almost full: refused here, on this member only, until space returns
    // (no alarm: it would outlive the condition and need a disarm).
    if (this.o.disk?.low === true && addsData(init)) throw Errors.noSpace;
    // The NOSPACE alarm is raised through the log so that every member sees it.
    if (!this.sm.quotaExceeded(init as never)) return;
    void this.propose({
      alarm: { action: AlarmRequest_AlarmAction.ACTIVATE, memberID: this.memberId, alarm: AlarmType.NOSPACE },
    }).catch(() => {});
    throw Errors.noSpace;
  }

  // ---- KV ---------------------------------------------------------------------------------

  // Requests arrive checked: the request pipeline (src/api/pipeline) validated them, applied
  // the learner and hasleader rules and authorized them (or the auth applier will, at apply).

  async range(req: RangeRequest, _ctx: RequestContext): Promise<RangeResponse> {
    if (!req.serializable) await this.linearizableRead();
    return this.sm.range(req);
  }

  async put(req: PutRequest, ctx: RequestContext): Promise<PutResponse> {
    const init: RequestInit = { put: req };
    this.checkQuota(init);
    return this.propose<PutResponse>(init, ctx);
  }

  async deleteRange(req: DeleteRangeRequest, ctx: RequestContext): Promise<DeleteRangeResponse> {
    return this.propose<DeleteRangeResponse>({ deleteRange: req }, ctx);
  }

  async txn(req: TxnRequest, ctx: RequestContext): Promise<TxnResponse> {
    const init: RequestInit = { txn: req };
    this.checkQuota(init);
    return this.propose<TxnResponse>(init, ctx);
  }

  async compact(req: CompactionRequest, ctx: RequestContext): Promise<CompactionResponse> {
    const res = await this.propose<CompactionResponse>({ compaction: req }, ctx);
    // `physical`: answer once this member has deleted the compacted revisions (etcd waits on
    // the compaction's done channel), so a defrag right after it reclaims their space.
    if (req.physical) await this.sm.compactionDone();
    return res;
  }

  openWatchStream(
    send: (resp: WatchResponse) => void,
    ctx: RequestContext,
    _close: (err: Error) => void,
  ): WatchStream {
    return this.sm.openWatchStream(send, ctx.watchPermission, ctx.flow);
  }

  // ---- Lease ------------------------------------------------------------------------------

  async leaseGrant(req: LeaseGrantRequest, ctx: RequestContext): Promise<LeaseGrantResponse> {
    const ID = req.ID === 0n ? this.ids.nextLeaseId() : req.ID;
    const init: RequestInit = { leaseGrant: { TTL: req.TTL, ID } };
    this.checkQuota(init);
    return this.propose<LeaseGrantResponse>(init, ctx);
  }

  async leaseRevoke(req: LeaseRevokeRequest, ctx: RequestContext): Promise<LeaseRevokeResponse> {
    return this.propose<LeaseRevokeResponse>({ leaseRevoke: req }, ctx);
  }

  /** The leader's ID, or "no leader". */
  private requireLeader(): bigint {
    const lead = this.loop.leader();
    if (lead === 0n) throw Errors.noLeader;
    return lead;
  }

  async leaseKeepAlive(id: bigint, _ctx: RequestContext): Promise<LeaseKeepAliveResponse> {
    // Renewal happens on the leader, outside the log, as etcd does; followers forward it.
    const lead = this.requireLeader();
    const ttl = lead === this.memberId ? await this.leaseRenew(id) : await this.o.transport.leaseRenew(lead, id);
    return create(LeaseKeepAliveResponseSchema, { header: this.header(), ID: id, TTL: BigInt(ttl) });
  }

  async leaseTimeToLive(req: LeaseTimeToLiveRequest, _ctx: RequestContext): Promise<LeaseTimeToLiveResponse> {
    await this.linearizableRead();
    const res = this.sm.leaseTimeToLive(req);
    const lead = this.loop.leader();
    if (res.TTL >= 0n && lead !== this.memberId && lead !== 0n) {
      // Only the leader's deadlines count; a follower asks it for the remaining TTL.
      const remaining = await this.o.transport.leaseRemaining(lead, req.ID);
      if (remaining < 0) return this.sm.leaseTimeToLive({ ...req, ID: 0n });
      res.TTL = BigInt(remaining);
    }
    return res;
  }

  async leaseLeases(_ctx: RequestContext): Promise<LeaseLeasesResponse> {
    await this.linearizableRead();
    return this.sm.leaseLeases();
  }

  private expiring = false;
  private expireLeases(): void {
    if (this.expiring || this.stopped || !this.loop.isLeader()) return;
    const ids = this.sm.expiredLeases((this.o.monotonic ?? this.o.clock)(), 1000);
    if (ids.length === 0) return;
    this.expiring = true;
    this.propose({ leaseExpire: { IDs: ids } })
      .catch((err: unknown) => this.o.logger.warn("failed to revoke expired leases", { error: String(err) }))
      .finally(() => {
        this.expiring = false;
      });
  }

  private checkpointing = false;
  /**
   * The leader writes every lease's remaining TTL into the log, so that a new leader restarts
   * each deadline where it was (etcd resets them to the full TTL on a leader change).
   */
  async checkpointLeases(): Promise<void> {
    if (this.checkpointing || this.stopped || !this.loop.isLeader() || this.loop.members.size < 2) return;
    // Rounded up, as etcd does: a checkpoint must never shorten a lease.
    const checkpoints = this.sm.leaseCheckpoints(1000);
    if (checkpoints.length === 0) return;
    this.checkpointing = true;
    try {
      await this.propose({ leaseCheckpoint: { checkpoints } });
    } catch (err) {
      this.o.logger.warn("failed to checkpoint leases", { error: String(err) });
    } finally {
      this.checkpointing = false;
    }
  }

  // ---- Cluster ----------------------------------------------------------------------------

  async memberList(_ctx: RequestContext): Promise<MemberListResponse> {
    return create(MemberListResponseSchema, { header: this.memberHeader(), members: this.loop.members.list().map(toMember) });
  }

  memberAdd(req: MemberAddRequest, _ctx: RequestContext): Promise<MemberAddResponse> {
    return this.ops.add(req);
  }
  memberRemove(req: MemberRemoveRequest, _ctx: RequestContext): Promise<MemberRemoveResponse> {
    return this.ops.remove(req);
  }
  memberUpdate(req: MemberUpdateRequest, _ctx: RequestContext): Promise<MemberUpdateResponse> {
    return this.ops.update(req);
  }
  memberPromote(req: MemberPromoteRequest, _ctx: RequestContext): Promise<MemberPromoteResponse> {
    return this.ops.promote(req);
  }

  // ---- Maintenance ------------------------------------------------------------------------

  async alarm(req: AlarmRequest, ctx: RequestContext): Promise<AlarmResponse> {
    if (req.action === AlarmRequest_AlarmAction.GET) {
      await this.linearizableRead();
      const alarms = this.sm
        .alarms()
        .filter((a: AlarmMember) => (req.memberID === 0n || a.memberID === req.memberID) && (req.alarm === AlarmType.NONE || a.alarm === req.alarm));
      return create(AlarmResponseSchema, { alarms }); // etcd 3.4 sends no header here
    }
    return this.propose<AlarmResponse>({ alarm: req }, ctx);
  }

  async status(_ctx: RequestContext): Promise<StatusResponse> {
    const errors = this.sm.alarms().map((a) => `memberID:${a.memberID} alarm:${AlarmType[a.alarm]} `);
    return create(StatusResponseSchema, {
      header: this.header(),
      version: this.o.version,
      dbSize: BigInt(this.sm.dbSize()),
      dbSizeInUse: BigInt(this.sm.dbSizeInUse()),
      leader: this.loop.leader(),
      raftIndex: BigInt(this.loop.commitIndex()),
      raftTerm: BigInt(this.loop.term()),
      raftAppliedIndex: BigInt(this.sm.appliedIndex),
      errors,
      isLearner: this.isLearner(),
    });
  }

  async defragment(_ctx: RequestContext): Promise<DefragmentResponse> {
    await this.sm.defragment();
    return create(DefragmentResponseSchema, {});
  }

  async hash(_ctx: RequestContext): Promise<HashResponse> {
    await this.linearizableRead();
    return create(HashResponseSchema, { header: this.header(), hash: await this.sm.hash() });
  }

  async hashKV(req: HashKVRequest, _ctx: RequestContext): Promise<HashKVResponse> {
    await this.linearizableRead();
    const r = await this.sm.hashKV(Number(req.revision));
    return create(HashKVResponseSchema, { header: this.header(r.revision), hash: r.hash, compactRevision: BigInt(r.compactRevision) });
  }

  snapshot(_ctx: RequestContext): AsyncIterable<SnapshotResponse> {
    return this.sm.etcdSnapshot();
  }

  async moveLeader(req: MoveLeaderRequest, _ctx: RequestContext): Promise<MoveLeaderResponse> {
    if (this.loop.isLeader() && req.targetID !== this.memberId) {
      // Hand the lease deadlines over as they are before leadership moves.
      await this.checkpointLeases();
    }
    await this.ops.moveLeader(req.targetID);
    return create(MoveLeaderResponseSchema, { header: this.header() });
  }

  async health(exclude: string[]): Promise<{ health: boolean; reason?: string }> {
    const active = this.sm.alarms().filter((a) => !exclude.includes(AlarmType[a.alarm]));
    if (active.length > 0) return { health: false, reason: `ALARM ${AlarmType[active[0]!.alarm]}` };
    if (this.loop.leader() === 0n) return { health: false, reason: "RAFT NO LEADER" };
    let timer: unknown;
    const timeout = new Promise<"timeout">((r) => {
      timer = this.setTimer(() => r("timeout"), 1000);
    });
    const ok = await Promise.race([this.linearizableRead().then(() => "ok" as const), timeout]).catch(() => "error" as const);
    this.clearTimer(timer);
    return ok === "ok" ? { health: true } : { health: false, reason: "RAFT QGET FAILED" };
  }

  metrics(): string {
    const l = this.loop;
    const isLeader = l.isLeader() ? 1 : 0;
    const lines = [
      ["etcd_server_has_leader", "gauge", "Whether or not a leader exists. 1 is existence, 0 is not.", l.leader() === 0n ? 0 : 1],
      ["etcd_server_is_leader", "gauge", "Whether or not this member is a leader. 1 if is, 0 otherwise.", isLeader],
      ["etcd_server_is_learner", "gauge", "Whether or not this member is a learner. 1 if is, 0 otherwise.", this.isLearner() ? 1 : 0],
      ["etcd_server_proposals_committed_total", "gauge", "The total number of consensus proposals committed.", l.proposalsCommitted],
      ["etcd_server_proposals_applied_total", "gauge", "The total number of consensus proposals applied.", l.proposalsApplied],
      ["etcd_server_proposals_pending", "gauge", "The current number of pending proposals to commit.", l.pendingProposals],
      ["etcd_server_proposals_failed_total", "counter", "The total number of failed proposals seen.", l.proposalsFailed],
      ["etcd_network_snapshot_receive_success", "counter", "Total number of successful snapshot receives", l.snapshotsReceived],
      ["etcd_network_snapshot_send_success", "counter", "Total number of successful snapshot sends", l.snapshotsSent],
      ["etcd_network_snapshot_send_failures", "counter", "Total number of snapshot send failures", l.snapshotsSendFailed],
      ["etcd_mvcc_db_total_size_in_bytes", "gauge", "Total size of the underlying database physically allocated in bytes.", this.sm.dbSize()],
      ["etcd_mvcc_db_total_size_in_use_in_bytes", "gauge", "Total size of the underlying database logically in use in bytes.", this.sm.dbSizeInUse()],
      ["etcd_debugging_mvcc_current_revision", "gauge", "The current revision of store.", this.sm.revision],
      ["etcd_debugging_mvcc_compact_revision", "gauge", "The revision of the last compaction in store.", this.sm.compactRevision],
      ["etcd_debugging_auth_revision", "gauge", "The current revision of auth store.", this.sm.auth.revision],
    ] as const;
    let out = "";
    for (const [name, type, help, value] of lines) out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
    // Prometheus' process collector (Go's client exports it for etcd): `etcdctl check datascale`
    // reads the resident memory before and after its writes.
    out += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n";
    out += `process_resident_memory_bytes ${process.memoryUsage().rss}\n`;
    // etcd's rafthttp gauge: 1 while the message stream to a peer is up. Operators (and the
    // strict reconfiguration check's 5 s of connection) read it per Remote.
    out += "# HELP etcd_network_active_peers The current number of active peer connections.\n# TYPE etcd_network_active_peers gauge\n";
    const local = this.memberId.toString(16);
    for (const m of this.loop.members.list()) {
      if (m.id === this.memberId) continue;
      const up = this.o.transport.connectedFor(m.id) === undefined ? 0 : 1;
      out += `etcd_network_active_peers{Local="${local}",Remote="${m.id.toString(16)}"} ${up}\n`;
    }
    out += "# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.\n";
    out += "# TYPE etcd_disk_wal_fsync_duration_seconds summary\n";
    out += `etcd_disk_wal_fsync_duration_seconds_sum ${l.fsyncSeconds}\netcd_disk_wal_fsync_duration_seconds_count ${l.fsyncCount}\n`;
    out += this.sm.steps.render();
    return out;
  }

  // ---- v2 store (src/server/v2-service.ts serves it) --------------------------------------------

  /** Proposes a v2 store request; resolves with its apply result (a V2Error rejects). */
  proposeV2(v2: V2RequestFields): Promise<unknown> {
    if (this.stopped) return Promise.reject(Errors.stopped);
    const id = this.ids.next();
    const { req, data } = buildV2Entry(id, v2);
    if (data.length > this.maxRequestBytes) return Promise.reject(Errors.requestTooLarge);
    return this.loop.propose(id, data, req);
  }

  // ---- auto compaction ----------------------------------------------------------------------

  private startAutoCompaction(ac: { mode: "periodic" | "revision"; retention: number }): void {
    if (ac.mode === "revision") {
      // Every 5 minutes keep the last `retention` revisions (etcd's revision compactor).
      this.timers.push(
        this.o.setInterval(() => {
          if (!this.loop.isLeader()) return; // only the leader compacts, as etcd
          const target = this.sm.revision - ac.retention;
          if (target > this.sm.compactRevision && target > 0) void this.compactQuietly(target);
        }, 5 * 60_000),
      );
      return;
    }
    // Periodic: sample the revision every retention/10 and compact to the revision seen one
    // retention period ago (etcd's periodic compactor keeps the same window). Only the leader
    // compacts; a member that becomes leader starts with an empty window.
    const interval = Math.max(100, Math.floor(ac.retention / 10));
    const samples: number[] = [];
    this.timers.push(
      this.o.setInterval(() => {
        if (!this.loop.isLeader()) {
          samples.length = 0;
          return;
        }
        samples.push(this.sm.revision);
        if (samples.length > 10) {
          const target = samples.shift()!;
          if (target > this.sm.compactRevision) void this.compactQuietly(target);
        }
      }, interval),
    );
  }

  private async compactQuietly(revision: number): Promise<void> {
    try {
      await this.compact(create(CompactionRequestSchema, { revision: BigInt(revision) }), {});
      this.o.logger.info("compacted", { revision });
    } catch (err) {
      this.o.logger.warn("auto compaction failed", { revision, error: String(err) });
    }
  }
}

/** etcd's quota rule: the requests that add data (Put, Txn with a put, LeaseGrant). */
function addsData(init: RequestInit): boolean {
  if (init.put !== undefined || init.leaseGrant !== undefined) return true;
  return init.txn !== undefined && txnHasPut(init.txn as never);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
