// Errors the client library reports, worded as clientv3 reports them.
//
// clientv3 turns a gRPC status whose message is one of etcd's known texts into an error that
// prints as the bare text ("etcdserver: key is not provided"); any other status prints as
// grpc-go formats it ("rpc error: code = Unavailable desc = …"); a deadline or cancellation of
// the caller's own context prints as Go's context error ("context deadline exceeded").
//
// The table of etcd's texts is the client's own small copy for now; it moves to the shared
// error catalogue (src/rpctypes) once that exists.

/** gRPC status codes (google.golang.org/grpc/codes). */
export const GrpcCode = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

const CODE_NAMES: readonly string[] = Object.keys(GrpcCode);

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `Code(${code})`;
}

/** etcd's error texts that clientv3 recognises (rpctypes.errStringToError), with their codes. */
export const ETCD_ERRORS: ReadonlyMap<string, number> = new Map([
  ["etcdserver: key is not provided", GrpcCode.InvalidArgument],
  ["etcdserver: key not found", GrpcCode.InvalidArgument],
  ["etcdserver: value is provided", GrpcCode.InvalidArgument],
  ["etcdserver: lease is provided", GrpcCode.InvalidArgument],
  ["etcdserver: too many operations in txn request", GrpcCode.InvalidArgument],
  ["etcdserver: duplicate key given in txn request", GrpcCode.InvalidArgument],
  ["etcdserver: mvcc: required revision has been compacted", GrpcCode.OutOfRange],
  ["etcdserver: mvcc: required revision is a future revision", GrpcCode.OutOfRange],
  ["etcdserver: mvcc: database space exceeded", GrpcCode.ResourceExhausted],
  ["etcdserver: requested lease not found", GrpcCode.NotFound],
  ["etcdserver: lease already exists", GrpcCode.FailedPrecondition],
  ["etcdserver: too large lease TTL", GrpcCode.OutOfRange],
  ["etcdserver: member ID already exist", GrpcCode.FailedPrecondition],
  ["etcdserver: Peer URLs already exists", GrpcCode.FailedPrecondition],
  ["etcdserver: re-configuration failed due to not enough started members", GrpcCode.FailedPrecondition],
  ["etcdserver: given member URLs are invalid", GrpcCode.InvalidArgument],
  ["etcdserver: member not found", GrpcCode.NotFound],
  ["etcdserver: can only promote a learner member", GrpcCode.FailedPrecondition],
  ["etcdserver: can only promote a learner member which is in sync with leader", GrpcCode.FailedPrecondition],
  ["etcdserver: too many learner members in cluster", GrpcCode.FailedPrecondition],
  ["etcdserver: request is too large", GrpcCode.InvalidArgument],
  ["etcdserver: too many requests", GrpcCode.ResourceExhausted],
  ["etcdserver: root user does not exist", GrpcCode.FailedPrecondition],
  ["etcdserver: root user does not have root role", GrpcCode.FailedPrecondition],
  ["etcdserver: user name already exists", GrpcCode.FailedPrecondition],
  ["etcdserver: user name is empty", GrpcCode.InvalidArgument],
  ["etcdserver: user name not found", GrpcCode.FailedPrecondition],
  ["etcdserver: role name already exists", GrpcCode.FailedPrecondition],
  ["etcdserver: role name not found", GrpcCode.FailedPrecondition],
  ["etcdserver: role name is empty", GrpcCode.InvalidArgument],
  ["etcdserver: authentication failed, invalid user ID or password", GrpcCode.InvalidArgument],
  ["etcdserver: permission denied", GrpcCode.PermissionDenied],
  ["etcdserver: role is not granted to the user", GrpcCode.FailedPrecondition],
  ["etcdserver: permission is not granted to the role", GrpcCode.FailedPrecondition],
  ["etcdserver: authentication is not enabled", GrpcCode.FailedPrecondition],
  ["etcdserver: invalid auth token", GrpcCode.Unauthenticated],
  ["etcdserver: invalid auth management", GrpcCode.InvalidArgument],
  ["etcdserver: revision of auth store is old", GrpcCode.InvalidArgument],
  ["etcdserver: no leader", GrpcCode.Unavailable],
  ["etcdserver: not leader", GrpcCode.FailedPrecondition],
  ["etcdserver: leader changed", GrpcCode.Unavailable],
  ["etcdserver: not capable", GrpcCode.Unavailable],
  ["etcdserver: server stopped", GrpcCode.Unavailable],
  ["etcdserver: request timed out", GrpcCode.Unavailable],
  ["etcdserver: request timed out, possibly due to previous leader failure", GrpcCode.Unavailable],
  ["etcdserver: request timed out, possibly due to connection lost", GrpcCode.Unavailable],
  ["etcdserver: request timed out, waiting for the applied index took too long", GrpcCode.Unavailable],
  ["etcdserver: unhealthy cluster", GrpcCode.Unavailable],
  ["etcdserver: corrupt cluster", GrpcCode.DataLoss],
  ["etcdserver: rpc not supported for learner", GrpcCode.Unavailable],
  ["etcdserver: bad leader transferee", GrpcCode.FailedPrecondition],
]);

export const ErrText = {
  authNotEnabled: "etcdserver: authentication is not enabled",
  invalidAuthToken: "etcdserver: invalid auth token",
  authOldRevision: "etcdserver: revision of auth store is old",
  userEmpty: "etcdserver: user name is empty",
  permissionDenied: "etcdserver: permission denied",
  rootRoleNotExist: "etcdserver: root user does not have root role",
  compacted: "etcdserver: mvcc: required revision has been compacted",
  noLeader: "etcdserver: no leader",
  learnerNotSupported: "etcdserver: rpc not supported for learner",
} as const;

/**
 * A failed call. `message` is the server's (or transport's) text; String(err) / err.text is
 * what etcdctl would print after "Error: ".
 */
export class ClientError extends Error {
  /** Set when the request may never have reached a server (safe to send again anywhere). */
  notSent = false;
  constructor(
    readonly code: number,
    message: string,
    /** "context": the caller's deadline or cancellation (Go's context error texts). */
    readonly kind: "status" | "context" = "status",
  ) {
    super(message);
  }

  /** True when the text is one of etcd's own (clientv3 prints it bare). */
  get isEtcd(): boolean {
    return this.kind === "status" && ETCD_ERRORS.has(this.message);
  }

  /** The text as clientv3's error would print it. */
  get text(): string {
    if (this.kind === "context" || this.isEtcd) return this.message;
    return `rpc error: code = ${codeName(this.code)} desc = ${this.message}`;
  }

  override toString(): string {
    return this.text;
  }
}

export function deadlineExceeded(): ClientError {
  return new ClientError(GrpcCode.DeadlineExceeded, "context deadline exceeded", "context");
}

export function canceled(): ClientError {
  return new ClientError(GrpcCode.Canceled, "context canceled", "context");
}

export function isClientError(e: unknown): e is ClientError {
  return e instanceof ClientError;
}

/** What clientv3 would print for any failure (ClientError or another Error). */
export function errorText(e: unknown): string {
  if (e instanceof ClientError) return e.text;
  if (e instanceof Error) return e.message;
  return String(e);
}
