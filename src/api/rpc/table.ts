// Every RPC the client port serves, by gRPC path, with its policy. Adapters are thin: parse,
// call through the pipeline, encode. Auth rules follow etcd 3.4.45 (the latest 3.4 patch
// release); the source of each is named in the row's comment.
import { create } from "@bufbuild/protobuf";
import { Health, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from "../../gen/health_pb.ts";
import { AlarmRequest_AlarmAction, Auth, Cluster, KV, Lease, Maintenance } from "../../gen/rpc_pb.ts";
import { Election } from "../../gen/v3election_pb.ts";
import { Lock } from "../../gen/v3lock_pb.ts";
import { Code, EtcdError } from "../../rpctypes/index.ts";
import * as validate from "../../server/validate.ts";
import { campaign, clientErrors, clientErrorsStream, leader, lock, observe, proclaim, resign, unlock } from "../concurrency/index.ts";
import { admin, adminRaw, applied, delegated, open, user, type AnyRule } from "./auth-rules.ts";
import { serverStream, unary, type RpcMethod } from "./method.ts";
import { leaseKeepAliveMethod, watchMethod } from "./watch-methods.ts";

const notServing = (service: string) => new EtcdError(Code.NotFound, `unknown service ${service}`);

// Proposals carrying the caller's identity: the auth applier decides (etcd apply_auth.go).
const proposed = { proposes: true, auth: applied } as const;
// Auth management: admin checked at apply (etcd apply_auth.go needAdminPermission).
const authAdmin = { proposes: true, auth: applied } as const;

const methods: RpcMethod[] = [
  // etcd v3_server.go Range: READ on [key, range_end) via doSerialize; learners serve it
  // serializable (util.go isRPCSupportedForLearner).
  unary(KV.method.range, (s, req, ctx) => s.range(req, ctx), {
    learner: (r) => r.serializable,
    validate: validate.validateRange,
    auth: { kind: "keys", perm: "read", keys: (r) => [r.key, r.rangeEnd] },
  }),
  // Put, DeleteRange, Txn: apply_auth.go checkPutAuth / DeleteRange / checkTxnAuth (nested
  // txns since 3.4.42, Put's prev_kv and lease checks inside a txn since 3.4.44).
  unary(KV.method.put, (s, req, ctx) => s.put(req, ctx), { ...proposed, validate: validate.validatePut }),
  unary(KV.method.deleteRange, (s, req, ctx) => s.deleteRange(req, ctx), { ...proposed, validate: validate.validateDeleteRange }),
  unary(KV.method.txn, (s, req, ctx) => s.txn(req, ctx), { ...proposed, validate: (r, l) => validate.validateTxn(r, l.maxTxnOps) }),
  // kvServer.Compact: admin since 3.4.42 ("guard unauthenticated endpoints with auth checks").
  unary(KV.method.compact, (s, req, ctx) => s.compact(req, ctx), { proposes: true, auth: admin }),
  // watch.go isWatchPermitted: READ on each created watcher's range.
  watchMethod,
  // v3_server.go LeaseGrant: requireAuthInfo since 3.4.42.
  unary(Lease.method.leaseGrant, (s, req, ctx) => s.leaseGrant(req, ctx), { proposes: true, auth: user }),
  // LeaseRevoke: requireAuthInfo (3.4.42), then WRITE on every attached key at apply.
  unary(Lease.method.leaseRevoke, (s, req, ctx) => s.leaseRevoke(req, ctx), { proposes: true, auth: { kind: "apply", user: true } }),
  // checkLeaseRenew (3.4.42): WRITE on every attached key, per keepalive.
  leaseKeepAliveMethod,
  // checkLeaseTimeToLive (3.4.42): READ on every attached key when keys are asked for.
  unary(Lease.method.leaseTimeToLive, (s, req, ctx) => s.leaseTimeToLive(req, ctx), {
    auth: { kind: "lease-keys", perm: "read", leases: (_s, r) => (r.keys ? [r.ID] : []) },
  }),
  // checkLeaseLeases (3.4.42): READ on every key of every lease.
  unary(Lease.method.leaseLeases, (s, _req, ctx) => s.leaseLeases(ctx), {
    auth: { kind: "lease-keys", perm: "read", leases: (s) => s.leaseIds() },
  }),
  // server.go checkMembershipOperationPermission: admin.
  unary(Cluster.method.memberAdd, (s, req, ctx) => s.memberAdd(req, ctx), { auth: admin }),
  unary(Cluster.method.memberRemove, (s, req, ctx) => s.memberRemove(req, ctx), { auth: admin }),
  unary(Cluster.method.memberUpdate, (s, req, ctx) => s.memberUpdate(req, ctx), { auth: admin }),
  // member.go MemberList: any identity (admin in 3.4.42, relaxed in 3.4.43).
  unary(Cluster.method.memberList, (s, _req, ctx) => s.memberList(ctx), { auth: user }),
  unary(Cluster.method.memberPromote, (s, req, ctx) => s.memberPromote(req, ctx), { auth: admin }),
  // maintenance.go authMaintenanceServer.Alarm: GET for any identity (3.4.43), the rest admin.
  unary(Maintenance.method.alarm, (s, req, ctx) => s.alarm(req, ctx), {
    auth: { kind: "choose", pick: (r): AnyRule => (r.action === AlarmRequest_AlarmAction.GET ? user : admin) },
  }),
  // Status: admin (3.4.42; 3.5.32 and 3.6.12 relaxed it to any identity, 3.4.45 did not).
  unary(Maintenance.method.status, (s, _req, ctx) => s.status(ctx), { learner: true, auth: admin }),
  // Defragment, Hash, HashKV, Snapshot: admin, with the auth store's raw error (maintenance.go).
  unary(Maintenance.method.defragment, (s, _req, ctx) => s.defragment(ctx), { auth: adminRaw }),
  unary(Maintenance.method.hash, (s, _req, ctx) => s.hash(ctx), { auth: adminRaw }),
  unary(Maintenance.method.hashKV, (s, req, ctx) => s.hashKV(req, ctx), { auth: adminRaw }),
  serverStream(Maintenance.method.snapshot, (s, _req, ctx) => s.snapshot(ctx), { learner: true, auth: adminRaw }),
  // MoveLeader: admin (3.4.42).
  unary(Maintenance.method.moveLeader, (s, req, ctx) => s.moveLeader(req, ctx), { auth: admin }),
  // The Auth service (v3_server.go, apply_auth.go).
  unary(Auth.method.authEnable, (s, req, ctx) => s.authServer.authEnable(req, ctx), authAdmin),
  unary(Auth.method.authDisable, (s, req, ctx) => s.authServer.authDisable(req, ctx), authAdmin),
  // AuthStatus: admin in 3.5 and 3.6 (needAdminPermission); the check was removed in 3.7.
  unary(Auth.method.authStatus, (s, _req, ctx) => s.authServer.authStatus(ctx), { auth: admin }),
  unary(Auth.method.authenticate, (s, req, ctx) => s.authServer.authenticate(req, ctx), {
    auth: open("the password is the credential"),
  }),
  unary(Auth.method.userAdd, (s, req, ctx) => s.authServer.userAdd(req, ctx), authAdmin),
  // apply_auth.go UserGet: admin, or the user asking about itself.
  unary(Auth.method.userGet, (s, req, ctx) => s.authServer.userGet(req, ctx), { auth: { kind: "self", name: (r) => r.name } }),
  unary(Auth.method.userList, (s, _req, ctx) => s.authServer.userList(ctx), { auth: admin }),
  unary(Auth.method.userDelete, (s, req, ctx) => s.authServer.userDelete(req, ctx), authAdmin),
  unary(Auth.method.userChangePassword, (s, req, ctx) => s.authServer.userChangePassword(req, ctx), authAdmin),
  unary(Auth.method.userGrantRole, (s, req, ctx) => s.authServer.userGrantRole(req, ctx), authAdmin),
  unary(Auth.method.userRevokeRole, (s, req, ctx) => s.authServer.userRevokeRole(req, ctx), authAdmin),
  unary(Auth.method.roleAdd, (s, req, ctx) => s.authServer.roleAdd(req, ctx), authAdmin),
  // apply_auth.go RoleGet: admin, or a holder of the role.
  unary(Auth.method.roleGet, (s, req, ctx) => s.authServer.roleGet(req, ctx), { auth: { kind: "role-holder", role: (r) => r.role } }),
  unary(Auth.method.roleList, (s, _req, ctx) => s.authServer.roleList(ctx), { auth: admin }),
  unary(Auth.method.roleDelete, (s, req, ctx) => s.authServer.roleDelete(req, ctx), authAdmin),
  unary(Auth.method.roleGrantPermission, (s, req, ctx) => s.authServer.roleGrantPermission(req, ctx), authAdmin),
  unary(Auth.method.roleRevokePermission, (s, req, ctx) => s.authServer.roleRevokePermission(req, ctx), authAdmin),
  // grpc.health.v1: served to everyone, as etcd's gRPC health server.
  unary(
    Health.method.check,
    async (_s, req) => {
      if (req.service !== "") throw notServing(req.service);
      return create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING });
    },
    { auth: open("a liveness probe carries no credentials") },
  ),
  serverStream(
    Health.method.watch,
    async function* (_s, req, ctx) {
      yield create(HealthCheckResponseSchema, {
        status: req.service === "" ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN,
      });
      // The status never changes while the port is open: hold the stream until the client leaves.
      const signal = ctx.signal;
      if (signal && !signal.aborted) await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    },
    { auth: open("a liveness probe carries no credentials") },
  ),
  // v3lock, v3election: etcd runs them on its client API with the caller's credentials, and
  // the errors of those inner calls reach the caller as Unknown (concurrency/client-errors.ts).
  unary(Lock.method.lock, (_s, req, ctx, sc) => clientErrors(lock(sc.inner, req, ctx)), { auth: delegated }, true),
  unary(Lock.method.unlock, (_s, req, ctx, sc) => clientErrors(unlock(sc.inner, req, ctx)), { auth: delegated }),
  unary(Election.method.campaign, (_s, req, ctx, sc) => clientErrors(campaign(sc.inner, req, ctx)), { auth: delegated }, true),
  unary(Election.method.proclaim, (_s, req, ctx, sc) => clientErrors(proclaim(sc.inner, req, ctx)), { auth: delegated }),
  unary(Election.method.leader, (_s, req, ctx, sc) => clientErrors(leader(sc.inner, req, ctx)), { auth: delegated }),
  serverStream(Election.method.observe, (_s, req, ctx, sc) => clientErrorsStream(observe(sc.inner, req, ctx)), { auth: delegated }),
  unary(Election.method.resign, (_s, req, ctx, sc) => clientErrors(resign(sc.inner, req, ctx)), { auth: delegated }),
];

/** gRPC path → method. */
export const rpcTable: ReadonlyMap<string, RpcMethod> = new Map(methods.map((m) => [m.path, m]));

/** Service names served, for "unknown service" vs "unknown method" answers. */
export const rpcServices: ReadonlySet<string> = new Set(methods.map((m) => m.path.split("/")[1]!));

/** The table's method for a generated method descriptor (internal calls go through it). */
export function methodOf(m: { parent: { typeName: string }; name: string }): RpcMethod {
  const r = rpcTable.get(`/${m.parent.typeName}/${m.name}`);
  if (r === undefined) throw new Error(`rpc table has no ${m.parent.typeName}/${m.name}`);
  return r;
}
