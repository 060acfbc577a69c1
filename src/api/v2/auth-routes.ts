// /v2/auth/* (etcd 3.4's v2http authHandler): users, roles and the enable switch that
// `ETCDCTL_API=2 etcdctl user|role|auth` drive. Every call needs root once auth is enabled,
// except reading /v2/auth/enable.
import * as v from "valibot";
import type { Logger } from "../../server/logger.ts";
import { V2Error } from "../../server/v2-service.ts";
import type { Access, Caller } from "./access.ts";
import {
  AuthError,
  isEmptyPermissions,
  type Role,
  roleJson,
  roleValue,
  RoleSchema,
  type User,
  userJson,
  UserSchema,
  userWithRolesValue,
} from "./auth-model.ts";
import { goJson, jsonLine, messageError, methodNotAllowed, notFound, v2Error } from "./http.ts";
import type { Security } from "./security.ts";

export const AUTH_PREFIX = "/v2/auth";

export interface AuthDeps {
  readonly sec: Security;
  readonly access: Access;
  readonly logger: Logger;
}

const JSON_CT = { "content-type": "application/json" };

/** etcd's writeError for the security API. */
function writeError(d: AuthDeps, e: unknown, headers: Record<string, string>): Response {
  if (e instanceof AuthError) return messageError(e.status, e.message, headers);
  if (e instanceof V2Error) return v2Error(e, headers);
  d.logger.warn("unexpected v2 auth error", { error: e instanceof Error ? e.message : String(e) });
  return messageError(500, "Internal Server Error", headers);
}

function noAuth(): Response {
  return messageError(401, "Insufficient credentials");
}

/** Reads a JSON body with a valibot schema; undefined when it is not valid JSON of that shape. */
async function readJson<T extends v.GenericSchema>(req: Request, schema: T): Promise<v.InferOutput<T> | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await req.text());
  } catch {
    return undefined;
  }
  const r = v.safeParse(schema, json);
  return r.success ? r.output : undefined;
}

/** Go's path.Clean of the part after /v2/auth, split on "/". */
function pieces(sub: string): string[] {
  const parts: string[] = [];
  for (const seg of sub.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return ["", ...parts];
}

/** Serves a path under /v2/auth; `sub` is the decoded rest ("/users/x"). */
export async function serveAuth(d: AuthDeps, req: Request, sub: string, caller: Caller, cluster: Record<string, string>): Promise<Response> {
  if (sub === "/roles") return baseRoles(d, req, caller, cluster);
  if (sub === "/users") return baseUsers(d, req, caller, cluster);
  if (sub === "/enable") return enable(d, req, caller, cluster);
  const isRoles = sub.startsWith("/roles/");
  if (!isRoles && !sub.startsWith("/users/")) return notFound();
  const p = pieces(sub);
  if (p.length === 2) return isRoles ? baseRoles(d, req, caller, cluster) : baseUsers(d, req, caller, cluster);
  if (p.length !== 3) return messageError(400, "Invalid path");
  return isRoles ? forRole(d, req, p[2]!, caller, cluster) : forUser(d, req, p[2]!, caller, cluster);
}

/**
 * The frame every security handler shares: etcd's method check, then the access check (root,
 * or root for writes only), then the handler with the JSON headers; its errors as etcd writes them.
 */
async function guarded(
  d: AuthDeps,
  req: Request,
  caller: Caller,
  cluster: Record<string, string>,
  methods: readonly string[],
  allowed: (c: Caller) => Promise<boolean>,
  handler: (h: Record<string, string>) => Promise<Response>,
): Promise<Response> {
  if (!methods.includes(req.method)) return methodNotAllowed(methods);
  if (!(await allowed(caller))) return noAuth();
  const h = { ...cluster, ...JSON_CT };
  try {
    return await handler(h);
  } catch (e) {
    return writeError(d, e, h);
  }
}

const ITEM_METHODS = ["GET", "PUT", "DELETE"];

function baseRoles(d: AuthDeps, req: Request, caller: Caller, cluster: Record<string, string>): Promise<Response> {
  return guarded(d, req, caller, cluster, ["GET"], (c) => d.access.root(c), async (h) => {
    const roles: Role[] = [];
    for (const name of await d.sec.allRoles()) roles.push(await d.sec.getRole(name));
    return jsonLine(200, goJson({ roles: roles.length > 0 ? roles.map(roleValue) : null }), h);
  });
}

function forRole(d: AuthDeps, req: Request, name: string, caller: Caller, cluster: Record<string, string>): Promise<Response> {
  return guarded(d, req, caller, cluster, ITEM_METHODS, (c) => d.access.root(c), async (h) => {
    switch (req.method) {
      case "GET":
        return jsonLine(200, roleJson(await d.sec.getRole(name)), h);
      case "PUT": {
        const body = await readJson(req, RoleSchema);
        if (body === undefined) return messageError(400, "Invalid JSON in request body.", h);
        if (body.role !== name) return messageError(400, "Role JSON name does not match the name in the URL", h);
        const role: Role = { role: body.role, permissions: body.permissions, grant: body.grant, revoke: body.revoke };
        if (isEmptyPermissions(role.grant) && isEmptyPermissions(role.revoke)) {
          await d.sec.createRole({ role: role.role, permissions: role.permissions });
          return jsonLine(201, roleJson(role), h);
        }
        if (!isEmptyPermissions(role.permissions)) return messageError(400, "Role JSON contains both permissions and grant/revoke", h);
        return jsonLine(200, roleJson(await d.sec.updateRole(role)), h);
      }
      default:
        await d.sec.deleteRole(name);
        return new Response(null, { status: 200, headers: h });
    }
  });
}

/** A user with its roles spelled out; roles that cannot be read are skipped or fail. */
async function withRoles(d: AuthDeps, u: User, skipMissing: boolean): Promise<string> {
  const roles: Role[] = [];
  for (const r of u.roles ?? []) {
    try {
      roles.push(await d.sec.getRole(r));
    } catch (e) {
      if (!skipMissing) throw e;
    }
  }
  return goJson(userWithRolesValue(u.user, roles));
}

function baseUsers(d: AuthDeps, req: Request, caller: Caller, cluster: Record<string, string>): Promise<Response> {
  return guarded(d, req, caller, cluster, ["GET"], (c) => d.access.root(c), async (h) => {
    const users: string[] = [];
    for (const name of await d.sec.allUsers()) users.push(await withRoles(d, await d.sec.getUser(name), true));
    return jsonLine(200, `{"users":${users.length > 0 ? `[${users.join(",")}]` : "null"}}`, h);
  });
}

function forUser(d: AuthDeps, req: Request, name: string, caller: Caller, cluster: Record<string, string>): Promise<Response> {
  return guarded(d, req, caller, cluster, ITEM_METHODS, (c) => d.access.root(c), async (h) => {
    switch (req.method) {
      case "GET":
        return jsonLine(200, await withRoles(d, await d.sec.getUser(name), false), h);
      case "PUT": {
        const body = await readJson(req, UserSchema);
        if (body === undefined) return messageError(400, "Invalid JSON in request body.", h);
        if (body.user !== name) return messageError(400, "User JSON name does not match the name in the URL", h);
        const u: User = { user: body.user, password: body.password, roles: body.roles, grant: body.grant, revoke: body.revoke };
        let out: User;
        let created = false;
        if ((u.grant ?? []).length === 0 && (u.revoke ?? []).length === 0) {
          // etcd: a user sent with roles is created (answered 200), one without is created or updated.
          if ((u.roles ?? []).length !== 0) out = await d.sec.createUser({ user: u.user, password: u.password, roles: u.roles });
          else ({ user: out, created } = await d.sec.createOrUpdateUser({ user: u.user, password: u.password, roles: u.roles }));
        } else {
          if ((u.roles ?? []).length !== 0) return messageError(400, "User JSON contains both roles and grant/revoke", h);
          out = await d.sec.updateUser(u);
        }
        return jsonLine(created ? 201 : 200, userJson({ ...out, password: "" }), h);
      }
      default:
        await d.sec.deleteUser(name);
        return new Response(null, { status: 200, headers: h });
    }
  });
}

/** /v2/auth/enable: reading it is open; switching needs root. */
function enable(d: AuthDeps, req: Request, caller: Caller, cluster: Record<string, string>): Promise<Response> {
  return guarded(d, req, caller, cluster, ITEM_METHODS, (c) => d.access.writeRoot(c), async (h) => {
    switch (req.method) {
      case "GET":
        return jsonLine(200, `{"enabled":${await d.sec.authEnabled()}}`, h);
      case "PUT":
        await d.sec.enableAuth();
        return new Response(null, { status: 200, headers: h });
      default:
        await d.sec.disableAuth();
        return new Response(null, { status: 200, headers: h });
    }
  });
}
