// What the replicated state machine offers the member and what it is built with: its interface,
// its options, the entries the Raft loop hands it. Apart from state-machine.ts, which implements
// it over one SQLite file, so the loop, the server and the metrics depend on the contract only.
import type { InStatement } from "../storage/sql-db.ts";
import type { InternalRaftRequest } from "../gen/internal_pb.ts";
import type {
  AlarmMember,
  LeaseLeasesResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  Member,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  SnapshotResponse,
  WatchResponse,
} from "../gen/rpc_pb.ts";
import type { MemberRow, MembershipEvent } from "../membership/members.ts";
import type { OpenCheckpointer } from "../storage/checkpointer.ts";
import type { StepDurations } from "./step-durations.ts";
import type { KvCounters } from "./kv-counters.ts";
import type { LeaseCounters } from "./lease-counters.ts";
import type { AuthStore } from "../auth/index.ts";
import type { EtcdError } from "../rpctypes/index.ts";
import type { StreamFlow, WatchStream } from "./types.ts";
import type { FileEffects, Timers } from "./effects.ts";
import type { WatchHub, WatchPermission } from "./watch.ts";
import type { V2Store, WatcherHub } from "../v2store/index.ts";

/** The apply result of an entry at or below the applied index: it was skipped. */
export const ALREADY_APPLIED: unique symbol = Symbol("already applied");

export interface StateMachineOptions {
  path: string; // SQLite file, e.g. <data-dir>/member/state.db (created if missing)
  clock: () => number; // ms, for lease deadlines only (a monotonic clock in a member)
  /** Wall-clock ms for v2 TTL expiration times, which clients read as dates (default: `clock`). */
  wallClock?: () => number;
  header: (revision: number) => ResponseHeader; // fills cluster_id/member_id/raft_term
  memberId: bigint;
  minLeaseTtl: number; // seconds; grants below are raised to it
  quotaBackendBytes: number; // effective bytes (2 GiB when flag is 0)
  maxRequestBytes: number; // watch fragment threshold is this + 512 KiB
  progressNotifyIntervalMs: number;
  compactionBatchLimit?: number;
  unsafeNoFsync?: boolean;
  /**
   * How long applied batches may wait to be committed together to the state file (ms; 0 =
   * commit every batch). The Raft log already holds them durably: a crash replays them.
   */
  groupCommitMs?: number;
  /** Timers: the group commit, compaction pauses and the watch progress ticker (default: the host's). */
  timers?: Timers;
  /** Snapshot image files (default: node:fs). */
  files?: FileEffects;
  /** A member published its attributes (InternalRaftRequest.member_attrs): write them into the batch. */
  onMemberAttrs?: (m: Member, out: InStatement[]) => void;
  /** The v2 store's watchers; pass the same hub to the machine that replaces this one. */
  v2Hub?: WatcherHub;
  /** A leader's first (empty) entry was applied: etcd decides the cluster version then. */
  onEmptyEntry?: () => void;
  /** A full garbage collection, asked for while streaming a snapshot (snapshot-responses.ts). */
  collectGarbage?: () => void;
  /** What the member learns from auth changes applied here (tokens to drop or register). */
  authEvents?: StateAuthEvents;
  /** Where the durations of the single-writer steps go; pass the same one to a replacing machine. */
  steps?: StepDurations;
  /** Where the mvcc operation counts go; pass the same one to a replacing machine. */
  kvCounters?: KvCounters;
  /** Where lease grants and revokes are counted; pass the same one to a replacing machine. */
  leaseCounters?: LeaseCounters;
  /**
   * Runs the state file's WAL checkpoints beside the writer (storage/checkpointer.ts); without
   * one, SQLite checkpoints inside commits on this thread.
   */
  openCheckpointer?: OpenCheckpointer;
}

/** Auth changes as the member outside the state machine must learn them. */
export interface StateAuthEvents {
  userInvalidated(name: string): void;
  enabledChanged(enabled: boolean): void;
  tokenIssued(token: string, user: string): void;
}

export interface AppliedEntry {
  index: number;
  data: Uint8Array; // InternalRaftRequest binary (empty = no-op)
  /** `data` decoded, when the proposer still holds it (its own entries). */
  req?: InternalRaftRequest;
  /** Applied instead of `data` (conf changes): pushes its writes into the entry's batch. */
  effect?: (out: InStatement[]) => void;
  /** What the conf change did to membership: mirrored into the v2 store ("/0"), as etcd does. */
  membership?: MembershipEvent;
}

export interface StateMachine {
  readonly appliedIndex: number;
  /** The v3 auth store (users, roles, permissions), as applied so far. */
  readonly auth: AuthStore;
  /**
   * The applied index the state file holds durably. Applied batches are committed to it in
   * groups (`groupCommitMs`), so it trails appliedIndex by a few ms; a restart resumes from it
   * and the Raft log must keep every entry after it.
   */
  readonly durableIndex: number;
  /** Commits applied batches now (durableIndex = appliedIndex). */
  commitGroup(): void;
  /** commitGroup, then makes the state file survive a power loss (before the log is cut). */
  syncToDisk(): void;
  readonly revision: number;
  readonly compactRevision: number;
  /** The v2 store (etcd's v2store: "/0" members, "/1" keys, "/2" v2 auth), applied in log order. */
  readonly v2: V2Store;
  apply(entries: AppliedEntry[]): Promise<Array<unknown | EtcdError>>;
  range(req: RangeRequest): Promise<RangeResponse>;
  /**
   * A client watch stream; `permission` is asked at create and on every auth change; `flow` is
   * the transport's backpressure (a stream that stops reading is caught up from history later).
   */
  openWatchStream(send: (r: WatchResponse) => void, permission?: WatchPermission, flow?: StreamFlow): WatchStream;
  /** Keys attached to a lease (empty for an unknown one). */
  leaseKeys(id: bigint): Uint8Array[];
  leaseRenew(id: bigint): number;
  /** The lease carries a checkpointed remaining TTL (see Lessor.checkpointed). */
  leaseCheckpointed(id: bigint): boolean;
  /** The remaining TTL of up to `limit` leases, rounded up, for a checkpoint. */
  leaseCheckpoints(limit: number): { ID: bigint; remainingTTL: bigint }[];
  leaseTimeToLive(req: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse;
  leaseLeases(): LeaseLeasesResponse;
  expiredLeases(now: number, limit: number): bigint[];
  leaseIdExists(id: bigint): boolean;
  /** On becoming leader: restart lease deadlines (now + TTL + extendMs), as etcd's Promote. */
  leasePromote(extendMs: number): void;
  alarms(): AlarmMember[];
  quotaExceeded(req: InternalRaftRequest): boolean;
  hash(): Promise<number>;
  hashKV(rev: number): Promise<{ hash: number; compactRevision: number; revision: number }>;
  /** The internal image (a SQLite copy) that lagging followers install; ends with its SHA-256. */
  snapshot(): AsyncIterable<SnapshotResponse>;
  /**
   * Maintenance.Snapshot: etcd's format (a bbolt image of the state at this moment, then its
   * SHA-256), streamed from a consistent read view while applying goes on.
   */
  etcdSnapshot(): AsyncIterable<SnapshotResponse>;
  dbSize(): number;
  dbSizeInUse(): number;
  /** How long each step of the single-writer chain took (/metrics). */
  readonly steps: StepDurations;
  /** The store's range, put, delete and txn counts (/metrics). */
  readonly kvCounters: KvCounters;
  readonly leaseCounters: LeaseCounters;
  /** Keys the store holds now. */
  keyCount(): number;
  /** Open watch streams and their watchers (/metrics). */
  watchCounts(): { streams: number; watchers: number };
  /** The backend quota in effect, bytes. */
  readonly quotaBackendBytes: number;
  /** Resolves once the physical deletion of the latest compaction is done (`physical`). */
  compactionDone(): Promise<void>;
  /** Sends progress notifications now (the timer calls this too). */
  progressTick(): void;
  defragment(): Promise<void>;
  /** The members table (membership's durable copy). */
  members(): Promise<MemberRow[]>;
  /**
   * Before a snapshot install closes this machine: suspends the watch hub and gives it up, so
   * close() leaves its streams open (watches opened meanwhile join the same hub).
   */
  detachWatchHub(): WatchHub;
  /** Takes over the hub of the machine this one replaced: its watchers re-sync from this store. */
  attachWatchHub(hub: WatchHub): void;
  close(): Promise<void>;
}
