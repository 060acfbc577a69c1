// The auth applier (etcd's authApplierV3, apply_auth.go) and the auth requests themselves.
// The stage checks each replicated request against the identity in its header, at its log
// position: every member decides the same, whatever happened to its auth store since the
// request was proposed. Rules are etcd 3.4.45's: nested txns are checked (3.4.42), and a Put
// inside a txn gets the same prev_kv and lease checks as a Put alone (3.4.44).
import type { InternalRaftRequest } from "../gen/internal_pb.ts";
import type { DeleteRangeRequest, PutRequest, RequestOp, TxnRequest } from "../gen/rpc_pb.ts";
import { fromKey, toKey } from "../mvcc/index.ts";
import { AuthStore, type AuthPerm, type Identity, PermType } from "../auth/index.ts";
import type { Lessor } from "../lease/index.ts";
import type { ApplyContext, ApplyStage } from "./apply.ts";

const EMPTY = new Uint8Array(0);

/** The identity a request was proposed with (etcd copies the header into AuthInfo). */
function identityOf(r: InternalRaftRequest): Identity {
  const h = r.header;
  return h === undefined ? { username: "", revision: 0 } : { username: h.username, revision: Number(h.authRevision) };
}

/** Requests only an admin may make (etcd's needAdminPermission). */
function needsAdmin(r: InternalRaftRequest): boolean {
  return (
    r.authEnable !== undefined ||
    r.authDisable !== undefined ||
    r.authUserAdd !== undefined ||
    r.authUserDelete !== undefined ||
    r.authUserChangePassword !== undefined ||
    r.authUserGrantRole !== undefined ||
    r.authUserRevokeRole !== undefined ||
    r.authRoleAdd !== undefined ||
    r.authRoleGrantPermission !== undefined ||
    r.authRoleRevokePermission !== undefined ||
    r.authRoleDelete !== undefined
  );
}

export const authStage: ApplyStage = function* (ctx, r, next) {
  const as = ctx.authStore;
  if (as === undefined || !as.enabled) return yield* next(r);
  const ai = identityOf(r);
  if (needsAdmin(r)) as.checkAdmin(ai.username === "" ? undefined : ai);
  if (r.put !== undefined) checkPut(as, ai, ctx.lessor, r.put);
  else if (r.deleteRange !== undefined) checkDelete(as, ai, r.deleteRange);
  else if (r.txn !== undefined) checkTxn(as, ai, ctx.lessor, r.txn);
  else if (r.leaseRevoke !== undefined) checkLeaseKeys(as, ai, ctx.lessor, r.leaseRevoke.ID);
  else if (r.range !== undefined) as.checkKeys(ai, r.range.key, r.range.rangeEnd, false);
  return yield* next(r);
};

/** checkPutAuth: WRITE on the key, the lease's keys if it has any, READ if prev_kv. */
function checkPut(as: AuthStore, ai: Identity, lessor: Lessor, p: PutRequest): void {
  as.checkKeys(ai, p.key, EMPTY, true);
  if (p.lease !== 0n) checkLeaseKeys(as, ai, lessor, p.lease);
  if (p.prevKv) as.checkKeys(ai, p.key, EMPTY, false);
}

function checkDelete(as: AuthStore, ai: Identity, d: DeleteRangeRequest): void {
  as.checkKeys(ai, d.key, d.rangeEnd, true);
  if (d.prevKv) as.checkKeys(ai, d.key, d.rangeEnd, false);
}

/** checkTxnAuth: READ on every compare, then every op of both branches, nested txns too. */
function checkTxn(as: AuthStore, ai: Identity, lessor: Lessor, t: TxnRequest): void {
  for (const c of t.compare) as.checkKeys(ai, c.key, c.rangeEnd, false);
  checkOps(as, ai, lessor, t.success);
  checkOps(as, ai, lessor, t.failure);
}

function checkOps(as: AuthStore, ai: Identity, lessor: Lessor, ops: readonly RequestOp[]): void {
  for (const op of ops) {
    const u = op.request;
    switch (u.case) {
      case "requestRange":
        as.checkKeys(ai, u.value.key, u.value.rangeEnd, false);
        break;
      case "requestPut":
        checkPut(as, ai, lessor, u.value);
        break;
      case "requestDeleteRange":
        if (u.value.prevKv) as.checkKeys(ai, u.value.key, u.value.rangeEnd, false);
        as.checkKeys(ai, u.value.key, u.value.rangeEnd, true);
        break;
      case "requestTxn":
        checkTxn(as, ai, lessor, u.value);
        break;
      default:
        break;
    }
  }
}

/** checkLeasePuts: an admin passes; anyone else needs WRITE on every key of the lease. */
function checkLeaseKeys(as: AuthStore, ai: Identity, lessor: Lessor, id: bigint): void {
  const l = lessor.get(id);
  if (l === undefined || as.isAdmin(ai)) return;
  for (const k of l.keys) as.checkKeys(ai, fromKey(k), EMPTY, true);
}

/** The result of an applied Authenticate: the proposer turns it into a token. */
export interface AuthenticateResult {
  readonly kind: "authenticated";
  readonly username: string;
  readonly revision: number;
  /** The simple token registered at this log index, when the simple provider is used. */
  readonly simpleToken: string;
}

/** True when r changes users, roles, permissions or the enabled flag. */
export function changesAuth(r: InternalRaftRequest): boolean {
  return needsAdmin(r);
}

/**
 * Applies an auth request (undefined when r is none). Responses carry etcd's full header;
 * failures throw etcd's errors, which the chain returns to the proposer.
 */
export function applyAuthRequest(ctx: ApplyContext, r: InternalRaftRequest): unknown {
  const as = ctx.authStore;
  if (as === undefined) return undefined;
  const out = ctx.stmts;
  const done = <T extends string>(typeName: T) => ({ $typeName: typeName, header: ctx.header(ctx.store.revision) });
  if (r.authenticate !== undefined) {
    const revision = as.authenticate(r.authenticate.name);
    const simpleToken = r.authenticate.simpleToken === "" ? "" : `${r.authenticate.simpleToken}.${ctx.index}`;
    if (simpleToken !== "") ctx.tokenIssued?.(simpleToken, r.authenticate.name);
    const res: AuthenticateResult = { kind: "authenticated", username: r.authenticate.name, revision, simpleToken };
    return res;
  }
  if (r.authEnable !== undefined) {
    as.enable(out);
    return done("etcdserverpb.AuthEnableResponse");
  }
  if (r.authDisable !== undefined) {
    as.disable(out);
    return done("etcdserverpb.AuthDisableResponse");
  }
  if (r.authUserAdd !== undefined) {
    const u = r.authUserAdd;
    as.userAdd(u.name, decodeHashed(u.hashedPassword), u.options?.noPassword ?? false, out);
    return done("etcdserverpb.AuthUserAddResponse");
  }
  if (r.authUserDelete !== undefined) {
    as.userDelete(r.authUserDelete.name, out);
    return done("etcdserverpb.AuthUserDeleteResponse");
  }
  if (r.authUserChangePassword !== undefined) {
    as.userChangePassword(r.authUserChangePassword.name, decodeHashed(r.authUserChangePassword.hashedPassword), out);
    return done("etcdserverpb.AuthUserChangePasswordResponse");
  }
  if (r.authUserGrantRole !== undefined) {
    as.userGrantRole(r.authUserGrantRole.user, r.authUserGrantRole.role, out);
    return done("etcdserverpb.AuthUserGrantRoleResponse");
  }
  if (r.authUserRevokeRole !== undefined) {
    as.userRevokeRole(r.authUserRevokeRole.name, r.authUserRevokeRole.role, out);
    return done("etcdserverpb.AuthUserRevokeRoleResponse");
  }
  if (r.authRoleAdd !== undefined) {
    as.roleAdd(r.authRoleAdd.name, out);
    return done("etcdserverpb.AuthRoleAddResponse");
  }
  if (r.authRoleDelete !== undefined) {
    as.roleDelete(r.authRoleDelete.role, out);
    return done("etcdserverpb.AuthRoleDeleteResponse");
  }
  if (r.authRoleGrantPermission !== undefined) {
    const g = r.authRoleGrantPermission;
    const perm: AuthPerm | undefined =
      g.perm === undefined ? undefined : { type: g.perm.permType as unknown as PermType, key: toKey(g.perm.key), rangeEnd: toKey(g.perm.rangeEnd) };
    as.roleGrantPermission(g.name, perm, out);
    return done("etcdserverpb.AuthRoleGrantPermissionResponse");
  }
  if (r.authRoleRevokePermission !== undefined) {
    const v = r.authRoleRevokePermission;
    as.roleRevokePermission(v.role, toKey(v.key), toKey(v.rangeEnd), out);
    return done("etcdserverpb.AuthRoleRevokePermissionResponse");
  }
  return undefined;
}

/** hashedPassword travels base64-encoded (etcd 3.5's AuthUserAddRequest.hashedPassword). */
function decodeHashed(b64: string): string {
  return Buffer.from(b64, "base64").toString("latin1");
}
