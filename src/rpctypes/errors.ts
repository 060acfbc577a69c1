// etcd's error catalogue (etcd's api/v3rpc/rpctypes is the model): every expected error with
// its gRPC code and exact text. The text is part of the wire contract: clientv3 maps errors by
// message, so never reword one. Each protocol maps `code` to its own status space in one table
// (http.ts for the JSON gateway; v2.ts holds the v2 API's own numeric catalogue).
import { Code } from "./code.ts";
import { EtcdError } from "./error.ts";

const e = (code: Code, message: string) => new EtcdError(code, message);

/** The catalogue. Instances are shared: never mutate them. */
export const Errors = {
  emptyKey: e(Code.InvalidArgument, "etcdserver: key is not provided"),
  keyNotFound: e(Code.InvalidArgument, "etcdserver: key not found"),
  valueProvided: e(Code.InvalidArgument, "etcdserver: value is provided"),
  leaseProvided: e(Code.InvalidArgument, "etcdserver: lease is provided"),
  tooManyOps: e(Code.InvalidArgument, "etcdserver: too many operations in txn request"),
  duplicateKey: e(Code.InvalidArgument, "etcdserver: duplicate key given in txn request"),
  compacted: e(Code.OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
  futureRev: e(Code.OutOfRange, "etcdserver: mvcc: required revision is a future revision"),
  noSpace: e(Code.ResourceExhausted, "etcdserver: mvcc: database space exceeded"),
  leaseNotFound: e(Code.NotFound, "etcdserver: requested lease not found"),
  leaseExist: e(Code.FailedPrecondition, "etcdserver: lease already exists"),
  leaseTTLTooLarge: e(Code.OutOfRange, "etcdserver: too large lease TTL"),
  watchCanceled: e(Code.Canceled, "etcdserver: watch canceled"),
  /** Go's context.Canceled as gRPC reports it: the client gave up on the request. */
  canceled: e(Code.Canceled, "context canceled"),
  memberExist: e(Code.FailedPrecondition, "etcdserver: member ID already exist"),
  peerURLExist: e(Code.FailedPrecondition, "etcdserver: Peer URLs already exists"),
  memberNotEnoughStarted: e(
    Code.FailedPrecondition,
    "etcdserver: re-configuration failed due to not enough started members",
  ),
  memberBadURLs: e(Code.InvalidArgument, "etcdserver: given member URLs are invalid"),
  memberNotFound: e(Code.NotFound, "etcdserver: member not found"),
  memberNotLearner: e(Code.FailedPrecondition, "etcdserver: can only promote a learner member"),
  learnerNotReady: e(
    Code.FailedPrecondition,
    "etcdserver: can only promote a learner member which is in sync with leader",
  ),
  tooManyLearners: e(Code.FailedPrecondition, "etcdserver: too many learner members in cluster"),
  requestTooLarge: e(Code.InvalidArgument, "etcdserver: request is too large"),
  tooManyRequests: e(Code.ResourceExhausted, "etcdserver: too many requests"),
  rootUserNotExist: e(Code.FailedPrecondition, "etcdserver: root user does not exist"),
  rootRoleNotExist: e(Code.FailedPrecondition, "etcdserver: root user does not have root role"),
  userAlreadyExist: e(Code.FailedPrecondition, "etcdserver: user name already exists"),
  userEmpty: e(Code.InvalidArgument, "etcdserver: user name is empty"),
  userNotFound: e(Code.FailedPrecondition, "etcdserver: user name not found"),
  roleAlreadyExist: e(Code.FailedPrecondition, "etcdserver: role name already exists"),
  roleNotFound: e(Code.FailedPrecondition, "etcdserver: role name not found"),
  roleEmpty: e(Code.InvalidArgument, "etcdserver: role name is empty"),
  authFailed: e(
    Code.InvalidArgument,
    "etcdserver: authentication failed, invalid user ID or password",
  ),
  permissionDenied: e(Code.PermissionDenied, "etcdserver: permission denied"),
  roleNotGranted: e(Code.FailedPrecondition, "etcdserver: role is not granted to the user"),
  permissionNotGranted: e(
    Code.FailedPrecondition,
    "etcdserver: permission is not granted to the role",
  ),
  authNotEnabled: e(Code.FailedPrecondition, "etcdserver: authentication is not enabled"),
  invalidAuthToken: e(Code.Unauthenticated, "etcdserver: invalid auth token"),
  invalidAuthMgmt: e(Code.InvalidArgument, "etcdserver: invalid auth management"),
  authOldRevision: e(Code.InvalidArgument, "etcdserver: revision of auth store is old"),
  noLeader: e(Code.Unavailable, "etcdserver: no leader"),
  notLeader: e(Code.FailedPrecondition, "etcdserver: not leader"),
  leaderChanged: e(Code.Unavailable, "etcdserver: leader changed"),
  notCapable: e(Code.Unavailable, "etcdserver: not capable"),
  stopped: e(Code.Unavailable, "etcdserver: server stopped"),
  timeout: e(Code.Unavailable, "etcdserver: request timed out"),
  timeoutDueToLeaderFail: e(
    Code.Unavailable,
    "etcdserver: request timed out, possibly due to previous leader failure",
  ),
  timeoutDueToConnectionLost: e(
    Code.Unavailable,
    "etcdserver: request timed out, possibly due to connection lost",
  ),
  timeoutWaitAppliedIndex: e(
    Code.Unavailable,
    "etcdserver: request timed out, waiting for the applied index took too long",
  ),
  unhealthyCluster: e(Code.Unavailable, "etcdserver: unhealthy cluster"),
  corrupt: e(Code.DataLoss, "etcdserver: corrupt cluster"),
  notSupportedForLearner: e(Code.Unavailable, "etcdserver: rpc not supported for learner"),
  badLeaderTransferee: e(Code.FailedPrecondition, "etcdserver: bad leader transferee"),
  clusterIdMismatch: e(Code.FailedPrecondition, "etcdserver: cluster ID mismatch"),
  permissionNotGiven: e(Code.InvalidArgument, "etcdserver: permission not given"),
} as const;

/**
 * Errors etcd returns without mapping them to its catalogue, so gRPC reports them as Unknown
 * with the auth store's or a library's own text: Defragment, Snapshot, Hash and HashKV return
 * the auth store's error as is (etcd 3.4 and 3.5 v3rpc/maintenance.go, observed on 3.4.23);
 * a password-less user authenticating, a verify-only JWT key asked to sign, and a password
 * bcrypt refuses (golang.org/x/crypto/bcrypt since v0.19, etcd 3.4.45 ships v0.50).
 */
export const RawErrors = {
  permissionDenied: e(Code.Unknown, "auth: permission denied"),
  userEmpty: e(Code.Unknown, "auth: user name is empty"),
  userNotFound: e(Code.Unknown, "auth: user not found"),
  invalidAuthToken: e(Code.Unknown, "auth: invalid auth token"),
  authOldRevision: e(Code.Unknown, "auth: revision in header is old"),
  noPasswordUser: e(Code.Unknown, "auth: authentication failed, password was given for no password user"),
  verifyOnly: e(Code.Unknown, "auth: token signing attempted with verify-only key"),
  passwordTooLong: e(Code.Unknown, "bcrypt: password length exceeds 72 bytes"),
} as const;

/** The raw (Unknown) form of a mapped auth error, for the RPCs that skip etcd's mapping. */
export function rawAuthError(err: EtcdError): EtcdError {
  if (err === Errors.permissionDenied) return RawErrors.permissionDenied;
  if (err === Errors.userEmpty) return RawErrors.userEmpty;
  if (err === Errors.userNotFound) return RawErrors.userNotFound;
  if (err === Errors.invalidAuthToken) return RawErrors.invalidAuthToken;
  if (err === Errors.authOldRevision) return RawErrors.authOldRevision;
  return err;
}


