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
  type Member,
  type MemberAddResponse,
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
  MemberSchema,
  HashKVResponseSchema,
  MoveLeaderResponseSchema,
  CompactionRequestSchema,
} from "../gen/rpc_pb.ts";
import type { Entry } from "../raft/types.ts";
import { Errors } from "./errors.ts";
import { IdGenerator } from "./id-generator.ts";
import type { Logger } from "./logger.ts";
import { encodeRequest, peekRequestId, type RequestInit } from "./request-codec.ts";
import type { ConsensusNode, NodeReady } from "./solo-node.ts";
import type { StateMachine } from "./state-machine.ts";
import type { EtcdServer, RequestContext, WatchStream } from "./types.ts";
import * as validate from "./validate.ts";

/** What the loop needs from the durable log (src/storage/raft-log.ts). */
export interface DurableLog {
  append(entries: readonly Entry[]): void;
  setHardState(hs: { term: number; vote: bigint; commit: number }): void;
  sync(): Promise<void>;
}

export interface ServerOptions {
  clusterId: bigint;
  memberId: bigint;
  name: string;
  members: () => Member[];
  node: ConsensusNode;
  log: DurableLog;
  sm: StateMachine;
  logger: Logger;
  clock: () => number;
  maxRequestBytes: number;
  maxTxnOps: number;
  version: string;
  /** Periodic work: lease expiry checks and the auto-compaction schedule. */
  setInterval: (fn: () => void, ms: number) => { close(): void } | unknown;
  clearInterval: (h: unknown) => void;
  autoCompaction?: { mode: "periodic" | "revision"; retention: number };
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export const SERVER_VERSION = "3.4.23";

export class Server implements EtcdServer {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly maxRequestBytes: number;
  private readonly node: ConsensusNode;
  private readonly sm: StateMachine;
  private readonly ids: IdGenerator;
  private readonly waiters = new Map<bigint, Waiter>();
  private looping = false;
  private stopped = false;
  private readWaiters: { resolve(): void; reject(e: unknown): void }[] = [];
  private readCtx = 0;
  private readsInFlight = new Map<number, { resolve(): void; reject(e: unknown): void }[]>();
  private readsAwaitingApply: { index: number; waiters: { resolve(): void; reject(e: unknown): void }[] }[] = [];
  private timers: unknown[] = [];
  private loopIdle: Promise<void> = Promise.resolve();
  private fatal?: Error;
  // metrics
  private proposalsCommitted = 0;
  private proposalsApplied = 0;
  private proposalsFailed = 0;
  private fsyncCount = 0;
  private fsyncSeconds = 0;

  constructor(private readonly o: ServerOptions) {
    this.clusterId = o.clusterId;
    this.memberId = o.memberId;
    this.maxRequestBytes = o.maxRequestBytes;
    this.node = o.node;
    this.sm = o.sm;
    this.ids = new IdGenerator(o.memberId, o.clock());
  }

  /** Replays what the log holds beyond the state machine and starts periodic work. */
  async start(): Promise<void> {
    this.kick();
    await this.drain();
    this.timers.push(this.o.setInterval(() => this.expireLeases(), 500));
    if (this.o.autoCompaction && this.o.autoCompaction.retention > 0) this.startAutoCompaction(this.o.autoCompaction);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) this.o.clearInterval(t);
    await this.drain();
    for (const w of this.waiters.values()) w.reject(Errors.stopped);
    this.waiters.clear();
    for (const r of this.readWaiters) r.reject(Errors.stopped);
    this.readWaiters = [];
  }

  /** Resolves when the loop has nothing left to do. */
  async drain(): Promise<void> {
    while (this.looping || this.node.hasReady()) {
      if (!this.looping) this.kick();
      await this.loopIdle;
    }
  }

  header(revision = this.sm.revision): ResponseHeader {
    return create(ResponseHeaderSchema, {
      clusterId: this.clusterId,
      memberId: this.memberId,
      revision: BigInt(revision),
      raftTerm: BigInt(this.node.term()),
    });
  }

  // ---- the Ready loop -------------------------------------------------------------------

  private kick(): void {
    if (this.looping || this.fatal) return;
    this.looping = true;
    this.loopIdle = this.loop().catch((err: unknown) => this.die(err));
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        if (this.readWaiters.length > 0) {
          const ctx = ++this.readCtx;
          this.readsInFlight.set(ctx, this.readWaiters);
          this.readWaiters = [];
          this.node.readIndex(ctx);
        }
        if (!this.node.hasReady()) break;
        const rd = this.node.ready();
        await this.persist(rd);
        for (const rs of rd.readStates) {
          const ws = this.readsInFlight.get(rs.ctx);
          if (!ws) continue;
          this.readsInFlight.delete(rs.ctx);
          this.readsAwaitingApply.push({ index: rs.index, waiters: ws });
        }
        if (rd.committedEntries.length > 0) await this.apply(rd.committedEntries);
        this.node.advance(rd);
        this.releaseReads();
      }
    } finally {
      this.looping = false;
    }
    // Work that arrived while the last step was finishing.
    if (this.readWaiters.length > 0 || this.node.hasReady()) this.kick();
  }

  private async persist(rd: NodeReady): Promise<void> {
    if (rd.entries.length === 0 && !rd.hardState) return;
    if (rd.entries.length > 0) this.o.log.append(rd.entries);
    if (rd.hardState) this.o.log.setHardState(rd.hardState);
    const t0 = performance.now();
    await this.o.log.sync();
    this.fsyncCount++;
    this.fsyncSeconds += (performance.now() - t0) / 1000;
  }

  private async apply(entries: Entry[]): Promise<void> {
    const results = await this.sm.apply(entries.map((e) => ({ index: e.index, data: e.data })));
    this.proposalsCommitted += entries.length;
    this.proposalsApplied += entries.length;
    for (let i = 0; i < entries.length; i++) {
      const id = peekRequestId(entries[i]!.data);
      if (id === 0n) continue;
      const w = this.waiters.get(id);
      if (!w) continue;
      this.waiters.delete(id);
      const r = results[i];
      if (r instanceof Error) {
        this.proposalsFailed++;
        w.reject(r);
      } else w.resolve(r);
    }
  }

  private releaseReads(): void {
    const applied = this.sm.appliedIndex;
    while (this.readsAwaitingApply.length > 0 && this.readsAwaitingApply[0]!.index <= applied) {
      for (const w of this.readsAwaitingApply.shift()!.waiters) w.resolve();
    }
  }

  private die(err: unknown): void {
    // A failed fsync or apply leaves memory and disk out of step: stop serving rather than
    // acknowledge anything more (a crashed member is recoverable, a corrupt one is not).
    this.fatal = err instanceof Error ? err : new Error(String(err));
    this.o.logger.error("fatal error in the apply loop; stopping", { error: this.fatal.message });
    for (const w of this.waiters.values()) w.reject(Errors.stopped);
    this.waiters.clear();
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 10);
  }

  /** Proposes one request and resolves with its apply result. */
  private propose<T>(init: RequestInit): Promise<T> {
    if (this.stopped || this.fatal) return Promise.reject(Errors.stopped);
    const id = this.ids.next();
    init.ID = id;
    const data = encodeRequest(init);
    if (data.length > this.maxRequestBytes) return Promise.reject(Errors.requestTooLarge);
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.node.propose(data);
      this.kick();
    });
  }

  /** Resolves once every write acknowledged before the call is visible locally. */
  private linearizableRead(): Promise<void> {
    if (this.stopped || this.fatal) return Promise.reject(Errors.stopped);
    return new Promise((resolve, reject) => {
      this.readWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  private checkQuota(init: RequestInit): void {
    // The NOSPACE alarm is raised through the log so that every member sees it.
    if (!this.sm.quotaExceeded(init as never)) return;
    void this.propose({
      alarm: { action: AlarmRequest_AlarmAction.ACTIVATE, memberID: this.memberId, alarm: AlarmType.NOSPACE },
    }).catch(() => {});
    throw Errors.noSpace;
  }

  // ---- KV ---------------------------------------------------------------------------------

  async range(req: RangeRequest, _ctx: RequestContext): Promise<RangeResponse> {
    validate.validateRange(req);
    if (!req.serializable) await this.linearizableRead();
    return this.sm.range(req);
  }

  async put(req: PutRequest, _ctx: RequestContext): Promise<PutResponse> {
    validate.validatePut(req);
    const init: RequestInit = { put: req };
    this.checkQuota(init);
    return this.propose<PutResponse>(init);
  }

  async deleteRange(req: DeleteRangeRequest, _ctx: RequestContext): Promise<DeleteRangeResponse> {
    validate.validateDeleteRange(req);
    return this.propose<DeleteRangeResponse>({ deleteRange: req });
  }

  async txn(req: TxnRequest, _ctx: RequestContext): Promise<TxnResponse> {
    validate.validateTxn(req, this.o.maxTxnOps);
    const init: RequestInit = { txn: req };
    this.checkQuota(init);
    return this.propose<TxnResponse>(init);
  }

  async compact(req: CompactionRequest, _ctx: RequestContext): Promise<CompactionResponse> {
    return this.propose<CompactionResponse>({ compaction: req });
  }

  openWatchStream(
    send: (resp: WatchResponse) => void,
    _ctx: RequestContext,
    _close: (err: Error) => void,
  ): WatchStream {
    return this.sm.openWatchStream(send);
  }

  // ---- Lease ------------------------------------------------------------------------------

  async leaseGrant(req: LeaseGrantRequest, _ctx: RequestContext): Promise<LeaseGrantResponse> {
    const ID = req.ID === 0n ? this.ids.nextLeaseId() : req.ID;
    const init: RequestInit = { leaseGrant: { TTL: req.TTL, ID } };
    this.checkQuota(init);
    return this.propose<LeaseGrantResponse>(init);
  }

  async leaseRevoke(req: LeaseRevokeRequest, _ctx: RequestContext): Promise<LeaseRevokeResponse> {
    return this.propose<LeaseRevokeResponse>({ leaseRevoke: req });
  }

  async leaseKeepAlive(id: bigint, _ctx: RequestContext): Promise<LeaseKeepAliveResponse> {
    // Renewal happens on the leader, outside the log, as etcd does.
    await this.linearizableRead();
    const ttl = this.sm.leaseRenew(id);
    return create(LeaseKeepAliveResponseSchema, { header: this.header(), ID: id, TTL: BigInt(ttl) });
  }

  async leaseTimeToLive(req: LeaseTimeToLiveRequest, _ctx: RequestContext): Promise<LeaseTimeToLiveResponse> {
    await this.linearizableRead();
    return this.sm.leaseTimeToLive(req);
  }

  async leaseLeases(_ctx: RequestContext): Promise<LeaseLeasesResponse> {
    await this.linearizableRead();
    return this.sm.leaseLeases();
  }

  private expiring = false;
  private expireLeases(): void {
    if (this.expiring || this.stopped || this.node.leader() !== this.memberId) return;
    const ids = this.sm.expiredLeases(this.o.clock(), 1000);
    if (ids.length === 0) return;
    this.expiring = true;
    this.propose({ leaseExpire: { IDs: ids } })
      .catch((err: unknown) => this.o.logger.warn("failed to revoke expired leases", { error: String(err) }))
      .finally(() => {
        this.expiring = false;
      });
  }

  // ---- Cluster ----------------------------------------------------------------------------

  async memberList(_ctx: RequestContext): Promise<MemberListResponse> {
    const header = this.header();
    header.revision = 0n; // etcd 3.4 sends no revision in membership headers
    return create(MemberListResponseSchema, { header, members: this.o.members() });
  }

  memberAdd(): Promise<MemberAddResponse> {
    return Promise.reject(Errors.notCapable);
  }
  memberRemove(): Promise<MemberRemoveResponse> {
    return Promise.reject(Errors.notCapable);
  }
  memberUpdate(): Promise<MemberUpdateResponse> {
    return Promise.reject(Errors.notCapable);
  }
  memberPromote(): Promise<MemberPromoteResponse> {
    return Promise.reject(Errors.notCapable);
  }

  // ---- Maintenance ------------------------------------------------------------------------

  async alarm(req: AlarmRequest, _ctx: RequestContext): Promise<AlarmResponse> {
    if (req.action === AlarmRequest_AlarmAction.GET) {
      await this.linearizableRead();
      const alarms = this.sm
        .alarms()
        .filter((a: AlarmMember) => (req.memberID === 0n || a.memberID === req.memberID) && (req.alarm === AlarmType.NONE || a.alarm === req.alarm));
      return create(AlarmResponseSchema, { alarms }); // etcd 3.4 sends no header here
    }
    return this.propose<AlarmResponse>({ alarm: req });
  }

  async status(_ctx: RequestContext): Promise<StatusResponse> {
    const errors = this.sm.alarms().map((a) => `memberID:${a.memberID} alarm:${AlarmType[a.alarm]} `);
    return create(StatusResponseSchema, {
      header: this.header(),
      version: this.o.version,
      dbSize: BigInt(this.sm.dbSize()),
      dbSizeInUse: BigInt(this.sm.dbSizeInUse()),
      leader: this.node.leader(),
      raftIndex: BigInt(this.node.commitIndex()),
      raftTerm: BigInt(this.node.term()),
      raftAppliedIndex: BigInt(this.sm.appliedIndex),
      errors,
      isLearner: false,
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
    return this.sm.snapshot();
  }

  async moveLeader(req: MoveLeaderRequest, _ctx: RequestContext): Promise<MoveLeaderResponse> {
    if (this.node.leader() !== this.memberId) throw Errors.notLeader;
    if (req.targetID !== this.memberId && !this.o.members().some((m) => m.ID === req.targetID && !m.isLearner)) {
      throw Errors.badLeaderTransferee;
    }
    return create(MoveLeaderResponseSchema, {});
  }

  async health(exclude: string[]): Promise<{ health: boolean; reason?: string }> {
    const active = this.sm.alarms().filter((a) => !exclude.includes(AlarmType[a.alarm]));
    if (active.length > 0) return { health: false, reason: `ALARM ${AlarmType[active[0]!.alarm]}` };
    if (this.node.leader() === 0n) return { health: false, reason: "RAFT NO LEADER" };
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 1000));
    const ok = await Promise.race([this.linearizableRead().then(() => "ok" as const), timeout]).catch(() => "error" as const);
    return ok === "ok" ? { health: true } : { health: false, reason: "RAFT QGET FAILED" };
  }

  metrics(): string {
    const isLeader = this.node.leader() === this.memberId ? 1 : 0;
    const lines = [
      ["etcd_server_has_leader", "gauge", "Whether or not a leader exists. 1 is existence, 0 is not.", this.node.leader() === 0n ? 0 : 1],
      ["etcd_server_is_leader", "gauge", "Whether or not this member is a leader. 1 if is, 0 otherwise.", isLeader],
      ["etcd_server_proposals_committed_total", "gauge", "The total number of consensus proposals committed.", this.proposalsCommitted],
      ["etcd_server_proposals_applied_total", "gauge", "The total number of consensus proposals applied.", this.proposalsApplied],
      ["etcd_server_proposals_pending", "gauge", "The current number of pending proposals to commit.", this.waiters.size],
      ["etcd_server_proposals_failed_total", "counter", "The total number of failed proposals seen.", this.proposalsFailed],
      ["etcd_mvcc_db_total_size_in_bytes", "gauge", "Total size of the underlying database physically allocated in bytes.", this.sm.dbSize()],
      ["etcd_mvcc_db_total_size_in_use_in_bytes", "gauge", "Total size of the underlying database logically in use in bytes.", this.sm.dbSizeInUse()],
      ["etcd_debugging_mvcc_current_revision", "gauge", "The current revision of store.", this.sm.revision],
      ["etcd_debugging_mvcc_compact_revision", "gauge", "The revision of the last compaction in store.", this.sm.compactRevision],
    ] as const;
    let out = "";
    for (const [name, type, help, value] of lines) out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
    out += "# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.\n";
    out += "# TYPE etcd_disk_wal_fsync_duration_seconds summary\n";
    out += `etcd_disk_wal_fsync_duration_seconds_sum ${this.fsyncSeconds}\netcd_disk_wal_fsync_duration_seconds_count ${this.fsyncCount}\n`;
    return out;
  }

  // ---- auto compaction ----------------------------------------------------------------------

  private startAutoCompaction(ac: { mode: "periodic" | "revision"; retention: number }): void {
    if (ac.mode === "revision") {
      // Every 5 minutes keep the last `retention` revisions (etcd's revision compactor).
      this.timers.push(
        this.o.setInterval(() => {
          const target = this.sm.revision - ac.retention;
          if (target > this.sm.compactRevision && target > 0) void this.compactQuietly(target);
        }, 5 * 60_000),
      );
      return;
    }
    // Periodic: sample the revision every retention/10 and compact to the revision seen one
    // retention period ago (etcd's periodic compactor for retentions ≥ 1h uses the same idea).
    const interval = Math.max(1000, Math.floor(ac.retention / 10));
    const samples: number[] = [];
    this.timers.push(
      this.o.setInterval(() => {
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

export function memberOf(id: bigint, name: string, peerURLs: string[], clientURLs: string[], isLearner = false): Member {
  return create(MemberSchema, { ID: id, name, peerURLs, clientURLs, isLearner });
}
