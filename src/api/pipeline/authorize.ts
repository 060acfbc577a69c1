// The one place a non-replicated request is authorized: each RPC's rule (rpc/auth-rules.ts)
// applied to the caller's identity. Replicated requests are authorized by the auth applier
// at their log position (server/apply-auth.ts); this only makes sure they carry an identity.
import { Errors, EtcdError, isEtcdError, rawAuthError } from "../../rpctypes/index.ts";
import type { AuthInfo, EtcdServer, Perm, RequestContext } from "../../server/types.ts";
import type { AnyRule } from "../rpc/auth-rules.ts";

/** Runs after the call: refuses an answer computed while the auth store changed. */
export type AfterCall = (() => void) | undefined;

/**
 * Checks `rule` for `req` with the identity in ctx. Throws etcd's error; returns a check to
 * run once the call has its answer (etcd's doSerialize revision check), if the rule has one.
 */
export function authorize(server: EtcdServer, rule: AnyRule, req: unknown, ctx: RequestContext, identityError: unknown): AfterCall {
  const gate = server.auth;
  if (!gate.enabled()) return undefined;
  if (identityError !== undefined && rule.kind !== "open" && rule.kind !== "watch" && rule.kind !== "keepalive") {
    throw rule.kind === "admin" && rule.raw === true && isEtcdError(identityError) ? rawAuthError(identityError) : identityError;
  }
  const ai = ctx.auth;
  switch (rule.kind) {
    case "open":
    case "apply":
    case "delegated":
    case "watch":
    case "keepalive":
      if (rule.kind === "apply" && rule.user === true) gate.checkUser(ai);
      return undefined;
    case "user":
      gate.checkUser(ai);
      return undefined;
    case "admin":
      if (rule.raw === true) {
        try {
          gate.checkAdmin(ai);
        } catch (err) {
          throw isEtcdError(err) ? rawAuthError(err) : err;
        }
      } else gate.checkAdmin(ai);
      return undefined;
    case "choose":
      return authorize(server, rule.pick(req), req, ctx, identityError);
    case "keys": {
      const [key, end] = rule.keys(req);
      // etcd's doSerialize: no identity checks as the empty one (user name is empty).
      gate.checkKeys(ai ?? NO_ONE, key, end, rule.perm);
      return revisionUnchanged(server, ai);
    }
    case "self":
      if (ai !== undefined && rule.name(req) === ai.username) return undefined;
      gate.checkAdmin(ai);
      return undefined;
    case "role-holder":
      if (ai !== undefined && gate.hasRole(ai.username, rule.role(req))) return undefined;
      gate.checkAdmin(ai);
      return undefined;
    case "lease-keys": {
      gate.checkUser(ai);
      const rev = gate.revision();
      if (!isAdmin(server, ai)) for (const id of rule.leases(server, req)) checkLeaseKeys(server, ai, id, rule.perm);
      return () => {
        if (gate.revision() !== rev) throw Errors.authOldRevision;
      };
    }
  }
}

const NO_ONE: AuthInfo = { username: "", revision: 0 };

function revisionUnchanged(server: EtcdServer, ai: AuthInfo | undefined): AfterCall {
  if (ai === undefined || ai.revision === 0) return undefined;
  return () => {
    if (server.auth.revision() !== ai.revision) throw Errors.authOldRevision;
  };
}

function isAdmin(server: EtcdServer, ai: AuthInfo | undefined): boolean {
  try {
    server.auth.checkAdmin(ai);
    return true;
  } catch {
    return false;
  }
}

/** `perm` on every key attached to lease `id` (a single-key check each). */
function checkLeaseKeys(server: EtcdServer, ai: AuthInfo | undefined, id: bigint, perm: Perm): void {
  for (const k of server.leaseKeys(id)) server.auth.checkKeys(ai, k, EMPTY, perm);
}

const EMPTY = new Uint8Array(0);

/** A LeaseKeepAlive message's check (etcd checkLeaseRenew): WRITE on its keys unless admin. */
export function authorizeRenew(server: EtcdServer, id: bigint, ctx: RequestContext): void {
  const gate = server.auth;
  if (!gate.enabled()) return;
  gate.checkUser(ctx.auth);
  if (isAdmin(server, ctx.auth)) return;
  checkLeaseKeys(server, ctx.auth, id, "write");
}

/**
 * A watch's check (etcd's isWatchPermitted): undefined when allowed, else the error the
 * watcher is canceled with. At create the identity is the one the stream was opened with (a
 * JWT from before the last auth change is "old", as in etcd). On every later auth change
 * (`recheck`) the stream's user is checked against the store as it is now: a user that lost
 * the permission, or was deleted, loses the watcher at once. etcd never re-checks open
 * watchers; here permission changes take effect on them too.
 */
export function watchPermission(
  server: EtcdServer,
  ctx: RequestContext,
  identityError: unknown,
): (key: Uint8Array, end: Uint8Array, recheck: boolean) => EtcdError | undefined {
  return (key, end, recheck) => {
    const gate = server.auth;
    if (!gate.enabled()) return undefined;
    if (identityError !== undefined) return isEtcdError(identityError) ? identityError : Errors.permissionDenied;
    try {
      let ai = ctx.auth ?? NO_ONE;
      if (recheck && ai.revision !== 0) ai = { username: ai.username, revision: gate.revision() };
      gate.checkKeys(ai, key.length === 0 ? ZERO : key, end, "read");
      return undefined;
    } catch (err) {
      if (err === Errors.invalidAuthToken || err === Errors.authOldRevision || err === Errors.userEmpty) return err as EtcdError;
      return Errors.permissionDenied;
    }
  };
}

const ZERO = new Uint8Array([0]);

/** The identity a call needs for its rule (anything but an open one). */
export function needsIdentity(rule: AnyRule): boolean {
  return rule.kind !== "open";
}

export { EtcdError };
