// Who is using the dashboard: the member's facts, the login (token kept in this tab's
// sessionStorage, sent only in the Authorization header), and what the user may do. A
// non-root user's readable and writable key ranges come from UserGet of itself and RoleGet of
// each of its roles, which etcd allows without the root role.
import { api, type Json } from "./api.ts";
import { fromB64, lossy } from "./bytes.ts";

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

const TOKEN_KEY = "conclave.session";

export async function memberInfo(): Promise<MemberInfo> {
  return JSON.parse(await api.get("/ui/api/info")) as MemberInfo;
}

/** Authenticate; the token is kept for this tab only. */
export async function login(info: MemberInfo, name: string, password: string): Promise<Session> {
  const r = await api.call("/v3/auth/authenticate", { name, password });
  api.token = r.token as string;
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ user: name, token: api.token }));
  return load(info, name);
}

export function logout(): void {
  api.token = undefined;
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The session kept in this tab, if its token still works. */
export async function resume(info: MemberInfo): Promise<Session | undefined> {
  if (!info.authEnabled) return { info, user: undefined, admin: true, grants: [] };
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved === null) return undefined;
  try {
    const { user, token } = JSON.parse(saved) as { user: string; token: string };
    api.token = token;
    return await load(info, user);
  } catch {
    logout();
    return undefined;
  }
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

/** How a grant reads for people: `/app/` (prefix), `[a, b)`, `a` (single key), `a…` (open end). */
export function describeGrant(g: Grant): string {
  const k = lossy(g.key);
  if (g.end.length === 0) return k;
  if (g.end.length === 1 && g.end[0] === 0) return `${k === "\u0000" ? "" : k}… (to the end)`;
  return `[${k}, ${lossy(g.end)})`;
}

