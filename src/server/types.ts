// The server's public surface: what api/ adapters call. Requests and responses are the
// generated etcd messages (src/gen), so adapters only decode, call, encode. The server
// fills every response header ({cluster_id, member_id, revision, raft_term}) itself,
// following etcd's per-RPC quirks (reference §3). Failures reject with EtcdError.
import type { EtcdError } from "../rpctypes/index.ts";
import type {
  AlarmRequest,
  AuthDisableRequest,
  AuthDisableResponse,
  AuthEnableRequest,
  AuthEnableResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  AuthRoleAddRequest,
  AuthRoleAddResponse,
  AuthRoleDeleteRequest,
  AuthRoleDeleteResponse,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest,
  AuthRoleGrantPermissionResponse,
  AuthRoleListResponse,
  AuthRoleRevokePermissionRequest,
  AuthRoleRevokePermissionResponse,
  AuthStatusResponse,
  AuthUserAddRequest,
  AuthUserAddResponse,
  AuthUserChangePasswordRequest,
  AuthUserChangePasswordResponse,
  AuthUserDeleteRequest,
  AuthUserDeleteResponse,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserGrantRoleRequest,
  AuthUserGrantRoleResponse,
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  AuthUserRevokeRoleResponse,
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

/** Who a request acts for: etcd's AuthInfo (user name, auth revision its credentials carry). */
export interface AuthInfo {
  readonly username: string;
  /** The auth revision the identity was resolved at (a JWT's claim; current for the others). */
  readonly revision: number;
}

/**
 * Per-request facts, built once by the request pipeline (src/api/pipeline) from the transport's
 * metadata. Server methods trust it: authorization has been decided before they are called,
 * or is decided at apply time from the identity copied into the proposal's header.
 */
export interface RequestContext {
  /** Auth token (gRPC metadata `token` or `authorization`, gateway `Authorization`), if any. */
  token?: string;
  /** The verified client certificate's common name (gRPC over TLS with --client-cert-auth). */
  commonName?: string;
  /** gRPC metadata `hasleader: true`: fail with "etcdserver: no leader" when there is none. */
  requireLeader?: boolean;
  /** Aborted when the client goes away; long waits (lock, campaign) stop on it. */
  signal?: AbortSignal;
  /**
   * True once the client gave up on the call (its stream reset or its connection gone). A write
   * whose caller is gone before its proposal reaches Raft is not proposed (etcd's Propose
   * returns the context's error then too). Cheaper than `signal`: unary calls have no signal.
   */
  cancelled?: () => boolean;
  /** Streaming calls: backpressure of this stream's output (see StreamFlow). */
  flow?: StreamFlow;
  /** The identity, when auth is on and credentials were given (resolved by the pipeline). */
  auth?: AuthInfo;
  /**
   * Watch permission for this caller (set by the pipeline for Watch streams): undefined when
   * [key, end) may be read, else the error. Called at create (`recheck` false) and again for
   * every open watcher whenever the auth store changes (`recheck` true).
   */
  watchPermission?: (key: Uint8Array, end: Uint8Array, recheck: boolean) => EtcdError | undefined;
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

/** Read or write permission on keys (authpb.Permission types READ and WRITE). */
export type Perm = "read" | "write";

/**
 * The auth store as the request pipeline sees it: identity resolution and etcd's permission
 * checks (auth/store.go isOpPermitted, IsAdminPermitted). Every check throws etcd's mapped
 * error and passes when auth is off.
 */
export interface AuthGate {
  /** Auth is on (a field read: the hot path asks it on every request). */
  enabled(): boolean;
  /** The auth store's revision. */
  revision(): number;
  /**
   * The identity of a token, or of a certificate CN when no token is given. Undefined when
   * auth is off or neither is given; throws invalidAuthToken for a token no provider accepts.
   * A simple token issued at a log index this member has not applied yet waits for it.
   */
  identify(token: string | undefined, commonName: string | undefined, signal?: AbortSignal): AuthInfo | undefined | Promise<AuthInfo | undefined>;
  /** etcd's isOpPermitted: the identity may read (or write) every key of [key, end). */
  checkKeys(ai: AuthInfo | undefined, key: Uint8Array, end: Uint8Array, perm: Perm): void;
  /** etcd's IsAdminPermitted: the identity holds role root. */
  checkAdmin(ai: AuthInfo | undefined): void;
  /** etcd's requireAuthInfo: any identity. */
  checkUser(ai: AuthInfo | undefined): void;
  /** True when the user holds role `role` (RoleGet by a holder). */
  hasRole(username: string, role: string): boolean;
}

/** The Auth service (etcdserverpb.Auth): typed, one method per RPC. */
export interface AuthServer {
  authEnable(req: AuthEnableRequest, ctx: RequestContext): Promise<AuthEnableResponse>;
  authDisable(req: AuthDisableRequest, ctx: RequestContext): Promise<AuthDisableResponse>;
  authStatus(ctx: RequestContext): Promise<AuthStatusResponse>;
  authenticate(req: AuthenticateRequest, ctx: RequestContext): Promise<AuthenticateResponse>;
  userAdd(req: AuthUserAddRequest, ctx: RequestContext): Promise<AuthUserAddResponse>;
  userGet(req: AuthUserGetRequest, ctx: RequestContext): Promise<AuthUserGetResponse>;
  userList(ctx: RequestContext): Promise<AuthUserListResponse>;
  userDelete(req: AuthUserDeleteRequest, ctx: RequestContext): Promise<AuthUserDeleteResponse>;
  userChangePassword(req: AuthUserChangePasswordRequest, ctx: RequestContext): Promise<AuthUserChangePasswordResponse>;
  userGrantRole(req: AuthUserGrantRoleRequest, ctx: RequestContext): Promise<AuthUserGrantRoleResponse>;
  userRevokeRole(req: AuthUserRevokeRoleRequest, ctx: RequestContext): Promise<AuthUserRevokeRoleResponse>;
  roleAdd(req: AuthRoleAddRequest, ctx: RequestContext): Promise<AuthRoleAddResponse>;
  roleGet(req: AuthRoleGetRequest, ctx: RequestContext): Promise<AuthRoleGetResponse>;
  roleList(ctx: RequestContext): Promise<AuthRoleListResponse>;
  roleDelete(req: AuthRoleDeleteRequest, ctx: RequestContext): Promise<AuthRoleDeleteResponse>;
  roleGrantPermission(req: AuthRoleGrantPermissionRequest, ctx: RequestContext): Promise<AuthRoleGrantPermissionResponse>;
  roleRevokePermission(req: AuthRoleRevokePermissionRequest, ctx: RequestContext): Promise<AuthRoleRevokePermissionResponse>;
}

export interface EtcdServer {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  /** Header for responses that carry the current revision. */
  header(): ResponseHeader;

  // The request pipeline's view of the member (etcd's interceptors read the same facts).
  readonly auth: AuthGate;
  readonly authServer: AuthServer;
  /** This member is a learner. */
  isLearner(): boolean;
  /** A leader is known. */
  hasLeader(): boolean;
  /** etcd's ErrTooManyRequests condition: the committed index ran > 5000 entries ahead of apply. */
  applyBacklogged(): boolean;
  /** Calls `fn` once when the leader is lost (hasleader streams end then); returns the unsubscribe. */
  onLeaderLost(fn: () => void): () => void;
  /** Keys attached to a lease (empty for an unknown one). */
  leaseKeys(id: bigint): Uint8Array[];
  /** IDs of every lease. */
  leaseIds(): bigint[];
  readonly maxTxnOps: number;

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
  /** `/debug/vars`: etcd's expvar page (cmdline, file_descriptor_limit, memstats, raft.status). */
  debugVars(): string;
  /** etcd's limit; adapters reject larger requests with Errors.requestTooLarge. */
  readonly maxRequestBytes: number;
}
