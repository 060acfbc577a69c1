// The server's public surface: what api/ adapters call. Requests and responses are the
// generated etcd messages (src/gen), so adapters only decode, call, encode. The server
// fills every response header ({cluster_id, member_id, revision, raft_term}) itself,
// following etcd's per-RPC quirks (reference §3). Failures reject with EtcdError.
import type {
  AlarmRequest,
  AlarmResponse,
  CompactionRequest,
  CompactionResponse,
  DefragmentResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKVRequest,
  HashKVResponse,
  HashResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  MemberAddRequest,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  SnapshotResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchCreateRequest,
  WatchResponse,
} from "../gen/rpc_pb.ts";

/**
 * Backpressure on a streaming call's output, as its transport sees it (an HTTP/2 stream's
 * queue, an HTTP/1.1 response's buffer). A producer of many messages (the watch hub) checks
 * `writable` before sending; when it is false the client is not keeping up: stop sending to
 * this stream, remember where it stopped, and resume from there (catching up from history)
 * once `onWritable` calls back. Sends made while not writable are still delivered, but a
 * connection that stays over its bound is closed by the transport (src/api/h2/limits.ts).
 */
export interface StreamFlow {
  /** False while the stream's queued output is over its high-water mark. */
  readonly writable: boolean;
  /** Registers `fn` to be called each time the output drains after `writable` was false. */
  onWritable(fn: () => void): void;
}

/** Per-request facts an adapter passes down (from gRPC metadata or HTTP headers). */
export interface RequestContext {
  /** Auth token (gRPC metadata `token`, gateway `Authorization`), if any. */
  token?: string;
  /** gRPC metadata `hasleader: true`: fail with "etcdserver: no leader" when there is none. */
  requireLeader?: boolean;
  /** Aborted when the client goes away; long waits (lock, campaign) stop on it. */
  signal?: AbortSignal;
  /** Streaming calls: backpressure of this stream's output (see StreamFlow). */
  flow?: StreamFlow;
}

/**
 * One client Watch stream. Watch semantics (ids, created replies, history replay, compacted
 * cancel, filters, prev_kv, fragmenting, progress notify) live behind this interface; the
 * adapter only forwards requests and serialises `send`'s responses in order.
 */
export interface WatchStream {
  create(req: WatchCreateRequest): void;
  cancel(watchId: number): void;
  progress(): void;
  close(): void;
}

export interface EtcdServer {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  /** Header for responses that carry the current revision. */
  header(): ResponseHeader;

  // KV
  range(req: RangeRequest, ctx: RequestContext): Promise<RangeResponse>;
  put(req: PutRequest, ctx: RequestContext): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest, ctx: RequestContext): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest, ctx: RequestContext): Promise<TxnResponse>;
  compact(req: CompactionRequest, ctx: RequestContext): Promise<CompactionResponse>;

  // Watch: `send` is called in order; `close` ends the stream with an error (e.g. no leader).
  openWatchStream(
    send: (resp: WatchResponse) => void,
    ctx: RequestContext,
    close: (err: Error) => void,
  ): WatchStream;

  // Lease
  leaseGrant(req: LeaseGrantRequest, ctx: RequestContext): Promise<LeaseGrantResponse>;
  leaseRevoke(req: LeaseRevokeRequest, ctx: RequestContext): Promise<LeaseRevokeResponse>;
  /** One keepalive of a KeepAlive stream: TTL=0 for an unknown or expired lease. */
  leaseKeepAlive(id: bigint, ctx: RequestContext): Promise<LeaseKeepAliveResponse>;
  leaseTimeToLive(req: LeaseTimeToLiveRequest, ctx: RequestContext): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(ctx: RequestContext): Promise<LeaseLeasesResponse>;

  // Cluster
  memberList(ctx: RequestContext): Promise<MemberListResponse>;
  memberAdd(req: MemberAddRequest, ctx: RequestContext): Promise<MemberAddResponse>;
  memberRemove(req: MemberRemoveRequest, ctx: RequestContext): Promise<MemberRemoveResponse>;
  memberUpdate(req: MemberUpdateRequest, ctx: RequestContext): Promise<MemberUpdateResponse>;
  memberPromote(req: MemberPromoteRequest, ctx: RequestContext): Promise<MemberPromoteResponse>;

  // Maintenance
  alarm(req: AlarmRequest, ctx: RequestContext): Promise<AlarmResponse>;
  status(ctx: RequestContext): Promise<StatusResponse>;
  defragment(ctx: RequestContext): Promise<DefragmentResponse>;
  hash(ctx: RequestContext): Promise<HashResponse>;
  hashKV(req: HashKVRequest, ctx: RequestContext): Promise<HashKVResponse>;
  /** The snapshot stream: chunks then the final SHA-256 message (reference §5.8). */
  snapshot(ctx: RequestContext): AsyncIterable<SnapshotResponse>;
  moveLeader(req: MoveLeaderRequest, ctx: RequestContext): Promise<MoveLeaderResponse>;

  /** `/health`: true when the member has a leader, no alarm (minus `exclude`), and a read commits. */
  health(exclude: string[]): Promise<{ health: boolean; reason?: string }>;
  /** `/metrics` in Prometheus text format. */
  metrics(): string;
  /** etcd's limit; adapters reject larger requests with Errors.requestTooLarge. */
  readonly maxRequestBytes: number;
}
