// Who is using the dashboard: the member's facts, the login (the token is kept in this page's
// memory only, never in storage that reaches the disk, and sent only in the Authorization
// header; a reload asks for the password again), and what the user may do. A
// non-root user's readable and writable key ranges come from UserGet of itself and RoleGet of
// each of its roles, which etcd allows without the root role.
import { api, type Json } from "./api.ts";
import { equal, fromB64, lossy, prefixEnd } from "./bytes.ts";

export interface MemberInfo {
  name: string;
  memberId: string;
  clusterId: string;
  authEnabled: boolean;
  version: string;
}

/** A key range granted to the user: [key, end) (end empty = the single key, "\0" = to the end). */
export interface Grant {
  key: Uint8Array;
  end: Uint8Array;
  read: boolean;
  write: boolean;
  role: string;
}

export interface Session {
  info: MemberInfo;
  /** undefined when auth is off. */
  user: string | undefined;
  /** Root role (or auth off): every action is offered. */
  admin: boolean;
  /** The user's grants (empty for admins: they see everything). */
  grants: Grant[];
}

export async function memberInfo(): Promise<MemberInfo> {
  return JSON.parse(await api.get("/ui/api/info")) as MemberInfo;
}

/** Authenticate; the token is kept in memory for this page only. */
export async function login(info: MemberInfo, name: string, password: string): Promise<Session> {
  const r = await api.call("/v3/auth/authenticate", { name, password });
  api.token = r.token as string;
  try {
    return await load(info, name);
  } catch (err) {
    api.token = undefined;
    throw err;
  }
}

/** Window event sent when the Auth view switched authentication on or off. */
export const AUTH_CHANGED = "conclave:auth-changed";

export function logout(): void {
  api.token = undefined;
}

/** With auth off there is nothing to log in to: everyone may do everything. */
export function openSession(info: MemberInfo): Session | undefined {
  return info.authEnabled ? undefined : { info, user: undefined, admin: true, grants: [] };
}

async function load(info: MemberInfo, user: string): Promise<Session> {
  const u = await api.call("/v3/auth/user/get", { name: user });
  const roles = (u.roles ?? []) as string[];
  if (roles.includes("root")) return { info, user, admin: true, grants: [] };
  const grants: Grant[] = [];
  for (const role of roles) {
    const r = await api.call("/v3/auth/role/get", { role });
    for (const p of (r.perm ?? []) as Json[]) {
      const t = p.permType ?? "READ";
      grants.push({ key: fromB64(p.key), end: fromB64(p.range_end), read: t !== "WRITE", write: t !== "READ", role });
    }
  }
  return { info, user, admin: false, grants };
}

/** How a grant reads for people: `/app/ (prefix)`, `[a, b)`, `a` (single key), `a… (to the end)`. */
export function describeGrant(g: { key: Uint8Array; end: Uint8Array }): string {
  const k = lossy(g.key);
  if (g.end.length === 0) return k;
  if (g.end.length === 1 && g.end[0] === 0) return g.key.length === 1 && g.key[0] === 0 ? "all keys" : `${k}… (to the end)`;
  if (equal(g.end, prefixEnd(g.key))) return `${k} (prefix)`;
  return `[${k}, ${lossy(g.end)})`;
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

const isOpenEnd = (e: Uint8Array) => e.length === 1 && e[0] === 0;

/**
 * Whether the session may read (or write) every key of [key, end) (end empty: the one key;
 * "\0": to the end), as etcd decides it for one permission; admins may do everything. The
 * dashboard offers an action only when this holds, so a user never sees one that must fail.
 */
export function may(s: Session, perm: "read" | "write", key: Uint8Array, end: Uint8Array): boolean {
  if (s.admin) return true;
  return s.grants.some((g) => {
    if (!(perm === "read" ? g.read : g.write)) return false;
    if (g.end.length === 0) return end.length === 0 && equal(g.key, key);
    if (cmp(key, g.key) < 0) return false;
    if (isOpenEnd(g.end)) return true;
    if (end.length === 0) return cmp(key, g.end) < 0;
    return !isOpenEnd(end) && cmp(end, g.end) <= 0;
  });
}
