// The member: drives the consensus node's Ready loop (persist → send → apply → advance),
// batches proposals and linearizable reads, and implements the EtcdServer surface that the
// client adapters call. Every write is acknowledged only after its log entry is durable and
// applied; reads wait for a read index to be applied.
// The Lease, Cluster and Maintenance services' bodies are in lease-ops.ts, cluster-ops.ts and
// maintenance-ops.ts; publishing this member's attributes in member-publish.ts.
import { create } from "@bufbuild/protobuf";
import {
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
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  type WatchResponse,
  CompactionRequestSchema,
} from "../gen/rpc_pb.ts";
import type { MembershipEvent } from "../membership/members.ts";
import type { Message } from "../raft/message.ts";
import { Role } from "../raft/raft.ts";
import type { PeerHandler, PeerMember } from "../transport/types.ts";
import { ClusterOps, toMember } from "./cluster-ops.ts";
import { Errors } from "../rpctypes/index.ts";
import { IdGenerator } from "./id-generator.ts";
import { AppliedWaiters } from "./applied-waiters.ts";
import { LeaseOps } from "./lease-ops.ts";
import { type AutoCompaction, startCompactor } from "./compactor.ts";
import { ServerMetrics } from "./server-metrics.ts";
import { MaintenanceOps, type ProcessInfo } from "./maintenance-ops.ts";
import { MemberPublisher } from "./member-publish.ts";
import { RaftLoop, type RaftLoopOptions } from "./raft-loop.ts";
import { buildRequest, type RequestInit } from "./request-codec.ts";
import { txnHasPut } from "./apply-kv.ts";
import type { StateMachine } from "./state-machine-types.ts";
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
  /** Runs a function on the next turn of the event loop, after the I/O already waiting; the host's setImmediate when not given. */
  setImmediate?: (fn: () => void) => void;
  /** The data dir's watch (free space, the dir still there): refuses writes when space is low. */
  disk?: DiskGuard;
  /** The member cannot go on (a disk fault it cannot wait out): the process should stop. */
  onFatal?: (err: Error) => void;
  /** Drive ticks from setInterval (default true; tests tick by hand). */
  autoTick?: boolean;
  autoCompaction?: AutoCompaction;
  /** This member was removed from the cluster: the process should stop. */
  onRemoved?: () => void;
  /** v3 auth: the token provider (--auth-token), bcrypt and its cost (default simple, 10). */
  auth?: { tokens?: Tokens; hasher?: PasswordHasher; bcryptCost?: number };
  /** The process as /debug/vars shows it (src/runtime's readers; src/member.ts passes them). */
  processInfo?: ProcessInfo;
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
  private readonly leases: LeaseOps;
  private readonly maintenance: MaintenanceOps;
  private timers: unknown[] = [];
  private stopped = false;
  /** This member's name and client URLs, published through the log (etcd's publish). */
  private readonly publisher: MemberPublisher;
  private removed = false;
  private readonly leaderWatchers = new Set<() => void>();
  /** Called once when the leader is lost (the pipeline ends hasleader streams with them). */
  private readonly leaderLost = new Set<() => void>();
  /** The request timeout: etcd's 5 s + 2 × election timeout. */
  readonly requestTimeoutMs: number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (h: unknown) => void;
  private readonly appliedWaiters: AppliedWaiters;
  /** etcd's Prometheus families (/metrics). */
  readonly prom: ServerMetrics;

  constructor(private readonly o: ServerOptions) {
    this.setTimer = o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = o.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.clusterId = o.clusterId;
    this.memberId = o.memberId;
    this.maxRequestBytes = o.maxRequestBytes;
    this.ids = new IdGenerator(o.memberId, o.clock());
    this.requestTimeoutMs = 5000 + 2 * o.electionMs;
    this.appliedWaiters = new AppliedWaiters({ appliedIndex: () => this.sm.appliedIndex, setTimer: this.setTimer, clearTimer: this.clearTimer });
    this.prom = new ServerMetrics(o.sm.steps, o.sm.kvCounters, o.sm.leaseCounters);
    this.loop = new RaftLoop({
      metrics: this.prom,
      memberId: o.memberId,
      node: o.node,
      log: o.log,
      sm: o.sm,
      reopenSm: o.reopenSm,
      reloadSm: o.reloadSm,
      setTimeout: this.setTimer,
      defer: o.setImmediate ?? ((fn) => void setImmediate(fn)),
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
      onApplied: (index) => this.appliedWaiters.applied(index),
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
      waitApplied: (index, ms, signal) => this.appliedWaiters.wait(index, ms, signal),
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
    this.leases = new LeaseOps({
      memberId: o.memberId,
      loop: this.loop,
      transport: o.transport,
      logger: o.logger,
      now: o.monotonic ?? o.clock,
      stopped: () => this.stopped,
      nextLeaseId: () => this.ids.nextLeaseId(),
      header: () => this.header(),
      propose: (init, ctx) => this.propose(init, ctx),
      checkQuota: (init) => this.checkQuota(init),
      metrics: this.prom,
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
      metrics: this.prom,
    });
    this.publisher = new MemberPublisher({
      memberId: o.memberId,
      name: o.name,
      clientURLs: o.clientURLs,
      loop: this.loop,
      logger: o.logger,
      stopped: () => this.stopped,
      propose: (init) => this.propose(init),
    });
    this.maintenance = new MaintenanceOps({
      memberId: o.memberId,
      loop: this.loop,
      version: o.version,
      header: (revision) => this.header(revision),
      isLearner: () => this.isLearner(),
      propose: (init, ctx) => this.propose(init, ctx),
      linearizableRead: () => this.linearizableRead(),
      checkpointLeases: () => this.checkpointLeases(),
      moveLeader: (target) => this.ops.moveLeader(target),
      setTimer: this.setTimer,
      clearTimer: this.clearTimer,
      metrics: this.prom,
      processInfo: o.processInfo,
    });
    this.loop.raftStats.onHeartbeatSent = (to) => this.prom.heartbeatSent(to, performance.now(), o.heartbeatMs);
    this.loop.raftStats.onRoundTrip = (to, ms) => this.prom.peerRoundTripMs(to, ms);
    this.prom.bind({
      loop: () => this.loop,
      sm: () => this.sm,
      memberId: this.memberId,
      isLearner: () => this.isLearner(),
      transport: o.transport,
      quotaBackendBytes: () => this.sm.quotaBackendBytes,
      walBytesWritten: () => o.log.walBytesWritten ?? 0,
      serverVersion: o.version,
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
    this.timers.push(this.o.setInterval(() => this.leases.expire(), 500));
    this.timers.push(this.o.setInterval(() => void this.checkpointLeases(), LEASE_CHECKPOINT_MS));
    if (this.o.autoCompaction && this.o.autoCompaction.retention > 0) {
      this.timers.push(
        startCompactor(this.o.autoCompaction, {
          isLeader: () => this.loop.isLeader(),
          revision: () => this.sm.revision,
          compactRevision: () => this.sm.compactRevision,
          compact: (revision) => void this.compactQuietly(revision),
          setInterval: this.o.setInterval,
        }),
      );
    }
    this.publisher.publish();
  }

  /** One heartbeat interval (the timer calls it; tests may call it by hand). */
  tick(): void {
    if (this.stopped) return;
    this.loop.tick();
    if (!this.publisher.published) this.publisher.publish();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.auth.stop();
    this.appliedWaiters.stop();
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
      raftTerm: BigInt(this.loop.appliedTerm()),
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
    this.prom.leadershipChanged();
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
    if (lead !== 0n && !this.publisher.published) this.publisher.publish();
  }

  private membershipChanged(_ev: MembershipEvent): void {
    for (const w of this.leaderWatchers) w();
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

  peerBytesReceived(from: bigint, n: number): void {
    this.prom.peerBytesReceived(from, n);
  }

  peerBytesSent(to: bigint, n: number): void {
    this.prom.peerBytesSent(to, n);
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

  leaseRenew(id: bigint): Promise<number> {
    return this.leases.renew(id);
  }

  leaseRemaining(id: bigint): Promise<number> {
    return this.leases.remaining(id);
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
    return this.loop.propose(id, data, req, ctx?.cancelled) as Promise<T>;
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

  leaseGrant(req: LeaseGrantRequest, ctx: RequestContext): Promise<LeaseGrantResponse> {
    return this.leases.grant(req, ctx);
  }

  leaseRevoke(req: LeaseRevokeRequest, ctx: RequestContext): Promise<LeaseRevokeResponse> {
    return this.leases.revoke(req, ctx);
  }

  leaseKeepAlive(id: bigint, _ctx: RequestContext): Promise<LeaseKeepAliveResponse> {
    return this.leases.keepAlive(id);
  }

  leaseTimeToLive(req: LeaseTimeToLiveRequest, _ctx: RequestContext): Promise<LeaseTimeToLiveResponse> {
    return this.leases.timeToLive(req);
  }

  leaseLeases(_ctx: RequestContext): Promise<LeaseLeasesResponse> {
    return this.leases.leases();
  }

  /** The leader's lease checkpoint (also run before a leader transfer). */
  checkpointLeases(): Promise<void> {
    return this.leases.checkpoint();
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

  alarm(req: AlarmRequest, ctx: RequestContext): Promise<AlarmResponse> {
    return this.maintenance.alarm(req, ctx);
  }
  status(ctx: RequestContext): Promise<StatusResponse> {
    return this.maintenance.status(ctx);
  }
  defragment(ctx: RequestContext): Promise<DefragmentResponse> {
    return this.maintenance.defragment(ctx);
  }
  hash(ctx: RequestContext): Promise<HashResponse> {
    return this.maintenance.hash(ctx);
  }
  hashKV(req: HashKVRequest, ctx: RequestContext): Promise<HashKVResponse> {
    return this.maintenance.hashKV(req, ctx);
  }
  snapshot(ctx: RequestContext): AsyncIterable<SnapshotResponse> {
    return this.maintenance.snapshot(ctx);
  }
  moveLeader(req: MoveLeaderRequest, ctx: RequestContext): Promise<MoveLeaderResponse> {
    return this.maintenance.moveLeader(req, ctx);
  }
  health(exclude: string[]): Promise<{ health: boolean; reason?: string }> {
    return this.maintenance.health(exclude);
  }
  checkHealth(exclude: string[]): Promise<{ health: boolean; reason?: string }> {
    return this.maintenance.checkHealth(exclude);
  }

  metrics(): string {
    return this.prom.render();
  }

  debugVars(): string {
    return this.maintenance.debugVars();
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

  // ---- auto compaction (src/server/compactor.ts decides when) ------------------------------

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
