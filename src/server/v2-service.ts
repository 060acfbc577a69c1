// The member's v2 side (etcd's EtcdServer.Do and its v2 stats): writes go through the log as
// InternalRaftRequest.v2 and are answered once applied; plain reads and watches are served from
// the local store; quorum reads wait for a read index first. The leader proposes SYNC requests
// that expire TTL nodes (etcd: every 500 ms while TTL nodes exist; here only when one is due)
// and, after its first entry, the cluster version under /0/version as etcd does.
import type { Request as V2Request } from "../gen/etcdserver_pb.ts";
import { hexId } from "../membership/ids.ts";
import { V2Code, V2Error } from "../rpctypes/v2.ts";
import type { PeerMember } from "../transport/types.ts";
import { rfc3339Nano, type V2Event, type V2Store, type V2Watcher, type WatcherHub } from "../v2store/index.ts";
import type { Logger } from "./logger.ts";
import type { Server } from "./server.ts";
import { STORE_VERSION } from "./v2-applier.ts";

export { Action, eventJson, goString, isCreated, rfc3339Nano, type V2Event, V2Watcher } from "../v2store/index.ts";

/** A keys request after parsing (etcd's etcdserverpb.Request); path is a store path. */
export interface V2KeyRequest {
  readonly method: string;
  readonly path: string;
  readonly val: string;
  readonly dir: boolean;
  readonly prevValue: string;
  readonly prevIndex: bigint;
  readonly prevExist?: boolean;
  /** Unix ns; 0n = no TTL. */
  readonly expiration: bigint;
  readonly wait: boolean;
  readonly since: bigint;
  readonly recursive: boolean;
  readonly sorted: boolean;
  readonly quorum: boolean;
  readonly stream: boolean;
  readonly refresh?: boolean;
}

/** What a keys request got: an event or a watcher, with the Raft term and commit index. */
export interface V2Answer {
  readonly event?: V2Event;
  readonly watcher?: V2Watcher;
  readonly term: number;
  readonly index: number;
}

export interface V2ServiceOptions {
  readonly server: Server;
  /** Unix ms. */
  readonly clock: () => number;
  readonly setInterval: (fn: () => void, ms: number) => unknown;
  readonly clearInterval: (h: unknown) => void;
  readonly logger: Logger;
  /** The hub the state machines' v2 stores share (ended when the member stops). */
  readonly hub: WatcherHub;
  /** The cluster version proposed when none is set. */
  readonly clusterVersion?: string;
}

/** How often the leader looks for TTL nodes that are due (etcd's SYNC ticker). */
export const SYNC_INTERVAL_MS = 500;

/** etcd's unknown method error. */
const unknownMethod = (): Error => new Error("etcdserver: unknown method");

export class V2Service {
  private timer: unknown;
  private syncing = false;
  private versioning = false;
  private readonly startTime: number;
  private leaderSeen = 0n;
  private leaderSince = 0;
  private stopped = false;

  constructor(private readonly o: V2ServiceOptions) {
    this.startTime = o.clock();
  }

  get clusterId(): bigint {
    return this.o.server.clusterId;
  }

  get memberId(): bigint {
    return this.o.server.memberId;
  }

  private get store(): V2Store {
    return this.o.server.loop.sm.v2;
  }

  start(): void {
    this.timer = this.o.setInterval(() => this.tick(), SYNC_INTERVAL_MS);
  }

  /** Ends every v2 watcher and the periodic work. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clearInterval(this.timer);
    this.o.hub.closeAll();
  }

  /** Serves a keys request the way etcd's Do does. */
  async do(r: V2KeyRequest): Promise<V2Answer> {
    let event: V2Event | undefined;
    let watcher: V2Watcher | undefined;
    const method = r.method === "GET" && r.quorum ? "QGET" : r.method;
    switch (method) {
      case "POST":
      case "PUT":
      case "DELETE":
        event = (await this.o.server.proposeV2(toRequest(r))) as V2Event | undefined;
        break;
      case "QGET":
        // A read index instead of a log entry: the same linearizable answer without a write.
        await this.o.server.loop.linearizableRead();
        event = this.store.get(r.path, r.recursive, r.sorted);
        break;
      case "GET":
        if (r.wait) watcher = this.store.watch(r.path, r.recursive, r.stream, Number(r.since));
        else event = this.store.get(r.path, r.recursive, r.sorted);
        break;
      case "HEAD":
        event = this.store.get(r.path, r.recursive, r.sorted);
        break;
      default:
        throw unknownMethod();
    }
    const st = this.o.server.raftStatus();
    return { event, watcher, term: st.term, index: st.commit };
  }

  /** A plain local read of a store path (etcd's v2 auth reads its records this way). */
  get(path: string, quorum: boolean): Promise<V2Answer> {
    return this.do({ ...EMPTY_REQUEST, method: "GET", path, quorum });
  }

  /** A file's value from the local store (counted as a get), undefined when absent. */
  peekValue(path: string): string | undefined {
    return this.store.peekValue(path);
  }

  /** A replicated write of a store path (v2 auth records). */
  put(path: string, val: string, opts: { dir?: boolean; prevExist?: boolean } = {}): Promise<V2Answer> {
    return this.do({ ...EMPTY_REQUEST, method: "PUT", path, val, dir: opts.dir ?? false, prevExist: opts.prevExist });
  }

  delete(path: string, prevExist?: boolean): Promise<V2Answer> {
    return this.do({ ...EMPTY_REQUEST, method: "DELETE", path, prevExist });
  }

  /** Members sorted by ID (etcd's cluster.Members()). */
  members(): PeerMember[] {
    return this.o.server.members();
  }

  leader(): bigint {
    return this.o.server.loop.leader();
  }

  isRemoved(id: bigint): boolean {
    return this.o.server.isRemoved(id);
  }

  // ---- stats ------------------------------------------------------------------------------------

  /** /v2/stats/store. */
  storeStats(): string {
    return this.store.stats.json(this.o.hub.count);
  }

  /** /v2/stats/self (etcd's ServerStats; the send/receive rates are not measured). */
  selfStats(): string {
    this.noteLeader();
    const now = this.o.clock();
    const self = this.members().find((m) => m.id === this.memberId);
    const rs = this.o.server.loop.raftStats;
    return JSON.stringify({
      name: self?.name ?? "",
      id: hexId(this.memberId),
      state: this.o.server.loop.node.raft.state,
      startTime: goTime(this.startTime),
      leaderInfo: {
        leader: this.leaderSeen === 0n ? "" : hexId(this.leaderSeen),
        // etcd measures from Go's zero time when no leader was seen: the largest duration.
        uptime: this.leaderSeen === 0n ? "2562047h47m16.854775807s" : goDuration(now - this.leaderSince),
        startTime: goTime(this.leaderSeen === 0n ? 0 : this.leaderSince),
      },
      recvAppendRequestCnt: rs.recvAppendRequestCnt,
      sendAppendRequestCnt: rs.sendAppendRequestCnt,
    });
  }

  /** /v2/stats/leader, or undefined when this member is not the leader. */
  leaderStats(): string | undefined {
    const loop = this.o.server.loop;
    if (!loop.isLeader()) return undefined;
    const ids = this.members().map((m) => m.id).filter((id) => id !== this.memberId);
    const followers: Record<string, unknown> = {};
    for (const [id, st] of loop.raftStats.followerStats(ids)) followers[hexId(id)] = st;
    return JSON.stringify({ leader: hexId(this.memberId), followers });
  }

  // ---- leader duties ------------------------------------------------------------------------------

  /** The leader's first entry was applied: set the cluster version if none is (etcd's forceVersionC). */
  leaderEntryApplied(): void {
    // Outside the apply that called us: proposing re-enters the raft loop.
    queueMicrotask(() => this.ensureVersion());
  }

  private tick(): void {
    if (this.stopped) return;
    this.noteLeader();
    if (!this.o.server.loop.isLeader()) return;
    this.ensureVersion();
    const due = this.store.nextExpiry;
    if (due === undefined || due > this.o.clock() || this.syncing) return;
    this.syncing = true;
    const time = BigInt(this.o.clock()) * 1_000_000n;
    this.o.server
      .proposeV2({ method: "SYNC", time })
      .catch((err: unknown) => this.o.logger.warn("failed to expire v2 TTL keys", { error: String(err) }))
      .finally(() => {
        this.syncing = false;
      });
  }

  private ensureVersion(): void {
    if (this.stopped || this.versioning || !this.o.server.loop.isLeader() || this.store.exists(STORE_VERSION)) return;
    this.versioning = true;
    const ver = this.o.clusterVersion ?? "3.4.0";
    this.o.server
      .proposeV2({ method: "PUT", path: STORE_VERSION, val: ver })
      .then(() => this.o.logger.info("set initial cluster version", { "cluster-version": ver.slice(0, 3) }))
      .catch((err: unknown) => this.o.logger.warn("failed to set the cluster version", { error: String(err) }))
      .finally(() => {
        this.versioning = false;
      });
  }

  private noteLeader(): void {
    const lead = this.o.server.loop.leader();
    if (lead !== this.leaderSeen) {
      this.leaderSeen = lead;
      this.leaderSince = this.o.clock();
    }
  }
}

const EMPTY_REQUEST: V2KeyRequest = {
  method: "GET",
  path: "/",
  val: "",
  dir: false,
  prevValue: "",
  prevIndex: 0n,
  expiration: 0n,
  wait: false,
  since: 0n,
  recursive: false,
  sorted: false,
  quorum: false,
  stream: false,
};

type V2RequestInit = Omit<Partial<V2Request>, "$typeName">;

function toRequest(r: V2KeyRequest): V2RequestInit {
  const out: V2RequestInit = {
    method: r.method,
    path: r.path,
    val: r.val,
    dir: r.dir,
    prevValue: r.prevValue,
    prevIndex: r.prevIndex,
    expiration: r.expiration,
    recursive: r.recursive,
    sorted: r.sorted,
  };
  if (r.prevExist !== undefined) out.prevExist = r.prevExist;
  if (r.refresh !== undefined) out.refresh = r.refresh;
  return out;
}

/** Go's time.Time JSON, UTC; Go's zero time for 0. */
function goTime(ms: number): string {
  return ms === 0 ? "0001-01-01T00:00:00Z" : rfc3339Nano(ms);
}

/** Go's time.Duration.String() for a duration in ms, e.g. "1m1.286s", "500ms", "0s". */
export function goDuration(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${trimFloat(ms)}ms`;
  let s = ms / 1000;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  let out = "";
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  return `${out}${trimFloat(Math.round(s * 1000) / 1000)}s`;
}

function trimFloat(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}

/** True when an error came from the v2 store (its own code), not from the server. */
export function isV2Error(e: unknown): e is V2Error {
  return e instanceof V2Error;
}

export { V2Code, V2Error };
