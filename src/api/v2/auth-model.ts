// The v2 security model (etcd 3.4's v2auth): users with roles, roles with read/write key
// patterns, the built-in root and default guest roles, and how grant/revoke requests merge into
// stored records. Pure: the records live in the v2 store under /2 (security.ts reads and writes
// them). Lists keep Go's nil/empty distinction (null vs []) because etcd's answers and its
// "not updated" checks depend on it.
import * as v from "valibot";
import { type GoJson, goJson } from "./http.ts";

export const ROOT_ROLE = "root";
export const GUEST_ROLE = "guest";

/** A string list as Go holds it: null is a nil slice. */
export type GoList = string[] | null;

export interface RwPermission {
  read: GoList;
  write: GoList;
}

export interface Permissions {
  kv: RwPermission;
}

export interface User {
  user: string;
  password?: string;
  roles: GoList;
  grant?: GoList;
  revoke?: GoList;
}

export interface Role {
  role: string;
  permissions: Permissions;
  grant?: Permissions | null;
  revoke?: Permissions | null;
}

/** An error of the security API: an HTTP status and "auth: …" text. */
export class AuthError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`auth: ${message}`);
    this.name = "AuthError";
  }
}

export const rootRole = (): Role => ({ role: ROOT_ROLE, permissions: { kv: { read: ["/*"], write: ["/*"] } } });
export const guestRole = (): Role => ({ role: GUEST_ROLE, permissions: { kv: { read: ["/*"], write: ["/*"] } } });

// ---- JSON in (valibot) and out (Go's field order and omitempty) -----------------------------

const List = v.nullish(v.array(v.string()), null);
const PermissionsSchema = v.object({ kv: v.optional(v.object({ read: List, write: List }), { read: null, write: null }) });

/** A user as PUT /v2/auth/users/<name> sends it (and as it is stored). */
export const UserSchema = v.object({
  user: v.optional(v.string(), ""),
  password: v.optional(v.string(), ""),
  roles: List,
  grant: List,
  revoke: List,
});

/** A role as PUT /v2/auth/roles/<name> sends it (and as it is stored). */
export const RoleSchema = v.object({
  role: v.optional(v.string(), ""),
  permissions: v.optional(PermissionsSchema, { kv: { read: null, write: null } }),
  grant: v.nullish(PermissionsSchema, null),
  revoke: v.nullish(PermissionsSchema, null),
});

function permsJson(p: Permissions): GoJson {
  return { kv: { read: p.kv.read, write: p.kv.write } };
}

/** etcd's User JSON: password, grant and revoke omitted when empty. */
export function userJson(u: User): string {
  return goJson({
    user: u.user,
    password: u.password ? u.password : undefined,
    roles: u.roles,
    grant: u.grant && u.grant.length > 0 ? u.grant : undefined,
    revoke: u.revoke && u.revoke.length > 0 ? u.revoke : undefined,
  });
}

/** etcd's Role JSON: grant and revoke omitted when absent. */
export function roleJson(r: Role): string {
  return goJson(roleValue(r));
}

export function roleValue(r: Role): GoJson {
  return {
    role: r.role,
    permissions: permsJson(r.permissions),
    grant: r.grant ? permsJson(r.grant) : undefined,
    revoke: r.revoke ? permsJson(r.revoke) : undefined,
  };
}

/** A user with its roles spelled out (GET /v2/auth/users[/name]); roles omitted when none. */
export function userWithRolesValue(name: string, roles: Role[]): GoJson {
  return { user: name, roles: roles.length > 0 ? roles.map(roleValue) : undefined };
}

export function isEmptyPermissions(p: Permissions | null | undefined): boolean {
  return p === null || p === undefined || ((p.kv.read ?? []).length === 0 && (p.kv.write ?? []).length === 0);
}

// ---- merging grant/revoke into stored records ------------------------------------------------

/** Go's set Values() then sort.Strings: a non-nil, sorted, duplicate-free list. */
function sortedSet(s: Set<string>): string[] {
  return [...s].sort();
}

/** etcd's User.merge; `hash` turns a new password into its stored form. */
export async function mergeUser(old: User, n: User, hash: (pw: string) => Promise<string>): Promise<User> {
  if (old.user !== n.user) throw new AuthError(409, `Merging user data with conflicting usernames: ${old.user} ${n.user}`);
  const out: User = { user: old.user, roles: null };
  out.password = n.password ? await hash(n.password) : old.password;
  const roles = new Set(old.roles ?? []);
  for (const g of n.grant ?? []) {
    if (roles.has(g)) throw new AuthError(409, `Granting duplicate role ${g} for user ${n.user}`);
    roles.add(g);
  }
  for (const r of n.revoke ?? []) {
    if (!roles.has(r)) throw new AuthError(409, `Revoking ungranted role ${r} for user ${n.user}`);
    roles.delete(r);
  }
  out.roles = sortedSet(roles);
  return out;
}

function grantRw(rw: RwPermission, n: RwPermission): RwPermission {
  const read = new Set(rw.read ?? []);
  for (const r of n.read ?? []) {
    if (read.has(r)) throw new AuthError(409, `Granting duplicate read permission ${r}`);
    read.add(r);
  }
  const write = new Set(rw.write ?? []);
  for (const w of n.write ?? []) {
    if (write.has(w)) throw new AuthError(409, `Granting duplicate write permission ${w}`);
    write.add(w);
  }
  return { read: sortedSet(read), write: sortedSet(write) };
}

function revokeRw(rw: RwPermission, n: RwPermission): RwPermission {
  // Revoking what was never granted is ignored (etcd logs it).
  const read = new Set(rw.read ?? []);
  for (const r of n.read ?? []) read.delete(r);
  const write = new Set(rw.write ?? []);
  for (const w of n.write ?? []) write.delete(w);
  return { read: sortedSet(read), write: sortedSet(write) };
}

/** etcd's Role.merge. */
export function mergeRole(old: Role, n: Role): Role {
  if (old.role !== n.role) throw new AuthError(409, `Merging role with conflicting names: ${old.role} ${n.role}`);
  let perms = old.permissions;
  if (n.grant) perms = { kv: grantRw(perms.kv, n.grant.kv) };
  if (n.revoke) perms = { kv: revokeRw(perms.kv, n.revoke.kv) };
  return { role: old.role, permissions: perms };
}

/** reflect.DeepEqual of two users as stored (nil and empty lists differ). */
export function sameUser(a: User, b: User): boolean {
  return a.user === b.user && (a.password ?? "") === (b.password ?? "") && sameList(a.roles, b.roles);
}

export function sameRole(a: Role, b: Role): boolean {
  return a.role === b.role && sameList(a.permissions.kv.read, b.permissions.kv.read) && sameList(a.permissions.kv.write, b.permissions.kv.write);
}

function sameList(a: GoList, b: GoList): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The root user always holds the root role. */
export function withRootRole(u: User): User {
  if (u.user !== ROOT_ROLE || (u.roles ?? []).includes(ROOT_ROLE)) return u;
  return { ...u, roles: [...(u.roles ?? []), ROOT_ROLE] };
}

// ---- key access ---------------------------------------------------------------------------------

/** A pattern matches its key exactly, or as a prefix when it ends in "*". */
function simpleMatch(pattern: string, key: string): boolean {
  if (pattern.endsWith("*")) return key.startsWith(pattern.slice(0, -1));
  return key === pattern;
}

/** Recursive access needs a "*" pattern covering the key. */
function prefixMatch(pattern: string, key: string): boolean {
  return pattern.endsWith("*") && key.startsWith(pattern.slice(0, -1));
}

export function roleHasKeyAccess(r: Role, key: string, write: boolean): boolean {
  if (r.role === ROOT_ROLE) return true;
  const list = (write ? r.permissions.kv.write : r.permissions.kv.read) ?? [];
  return list.some((p) => p !== "" && simpleMatch(p, key));
}

export function roleHasRecursiveAccess(r: Role, key: string, write: boolean): boolean {
  if (r.role === ROOT_ROLE) return true;
  const list = (write ? r.permissions.kv.write : r.permissions.kv.read) ?? [];
  return list.some((p) => p !== "" && prefixMatch(p, key));
}
