// The v2 security API (/v2/auth/users, /v2/auth/roles, /v2/auth/enable) as etcd's
// client.AuthUserAPI, AuthRoleAPI and AuthAPI call it: request bodies as Go marshals its
// User and Role structs, errors from the body's "message", and the client's decoding quirks
// (a user's roles given as objects decode into empty names followed by the role names).
import type { V2Client } from "./client.ts";
import { goJsonParse } from "../../rpctypes/index.ts";
import { escapePath, type GoUrl, pathJoin } from "./url.ts";

export interface V2User {
  user: string;
  roles: string[];
}

export interface V2Permissions {
  kv: { read: string[] | null; write: string[] | null };
}

export interface V2Role {
  role: string;
  permissions: V2Permissions;
}

export type PermissionType = "read" | "write" | "readwrite";

function field(o: unknown, name: string): unknown {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return undefined;
  const r = o as Record<string, unknown>;
  if (name in r) return r[name];
  return Object.entries(r).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const strList = (v: unknown): string[] | null => (Array.isArray(v) ? v.map(str) : null);

/** Non-2xx answers carry {"message": …}; a body that is not JSON gives Go's decoder text. */
function authError(body: Uint8Array): Error {
  return new Error(str(field(goJsonParse(body), "message")));
}

function role(o: unknown): V2Role {
  const kv = field(field(o, "permissions"), "kv");
  return { role: str(field(o, "role")), permissions: { kv: { read: strList(field(kv, "read")), write: strList(field(kv, "write")) } } };
}

/**
 * client.User from a GET/PUT answer. etcd answers roles as objects; the client's first decode
 * into []string leaves one empty name per role and fails, its second decode appends the names.
 */
function user(o: unknown): V2User {
  const roles = field(o, "roles");
  if (Array.isArray(roles) && roles.some((r) => typeof r !== "string")) {
    return { user: str(field(o, "user")), roles: [...roles.map((r) => (typeof r === "string" ? r : "")), ...roles.map((r) => str(field(r, "role")))] };
  }
  return { user: str(field(o, "user")), roles: strList(roles) ?? [] };
}

/** Go's json.Marshal of client.User: password and grant/revoke omitted when empty, roles null. */
function userBody(u: { user: string; password?: string; grant?: string[]; revoke?: string[] }): string {
  const parts = [`"user":${JSON.stringify(u.user)}`];
  if (u.password) parts.push(`"password":${JSON.stringify(u.password)}`);
  parts.push(`"roles":null`);
  if (u.grant && u.grant.length > 0) parts.push(`"grant":${JSON.stringify(u.grant)}`);
  if (u.revoke && u.revoke.length > 0) parts.push(`"revoke":${JSON.stringify(u.revoke)}`);
  return `{${parts.join(",")}}`;
}

function rw(paths: string[], t: PermissionType): string {
  const read = t === "read" || t === "readwrite" ? JSON.stringify(paths) : "null";
  const write = t === "write" || t === "readwrite" ? JSON.stringify(paths) : "null";
  return `{"kv":{"read":${read},"write":${write}}}`;
}

export class AuthApi {
  constructor(private readonly c: V2Client) {}

  private url(ep: GoUrl, what: string, name = ""): string {
    return `${ep.scheme}://${ep.host}${escapePath(pathJoin(ep.path, "/v2/auth", what, name))}`;
  }

  private async send(method: "GET" | "PUT" | "DELETE", what: string, name: string, body: string | undefined, deadline: number | undefined, jsonHeader = body !== undefined) {
    return this.c.do({ method, url: (ep) => this.url(ep, what, name), body, contentType: jsonHeader ? "application/json" : undefined }, deadline);
  }

  async enable(on: boolean, deadline: number | undefined): Promise<void> {
    const r = await this.send(on ? "PUT" : "DELETE", "enable", "", undefined, deadline);
    if (r.status !== 200 && r.status !== 201) throw authError(r.body);
  }

  async listUsers(deadline: number | undefined): Promise<string[]> {
    const r = await this.send("GET", "users", "", undefined, deadline, true);
    if (r.status !== 200) throw authError(r.body);
    const users = field(goJsonParse(r.body), "users");
    return Array.isArray(users) ? users.map((u) => str(field(u, "user"))) : [];
  }

  private async addRemoveUser(method: "PUT" | "DELETE", name: string, body: string | undefined, deadline: number | undefined): Promise<void> {
    const r = await this.send(method, "users", name, body, deadline);
    if (r.status !== 200 && r.status !== 201) throw authError(r.body);
  }

  addUser(name: string, password: string, deadline: number | undefined): Promise<void> {
    return this.addRemoveUser("PUT", name, userBody({ user: name, password }), deadline);
  }

  removeUser(name: string, deadline: number | undefined): Promise<void> {
    return this.addRemoveUser("DELETE", name, undefined, deadline);
  }

  private async modUser(method: "GET" | "PUT", name: string, body: string | undefined, deadline: number | undefined): Promise<V2User> {
    const r = await this.send(method, "users", name, body, deadline);
    if (r.status !== 200) throw authError(r.body);
    return user(goJsonParse(r.body));
  }

  getUser(name: string, deadline: number | undefined): Promise<V2User> {
    return this.modUser("GET", name, undefined, deadline);
  }

  grantUser(name: string, roles: string[], deadline: number | undefined): Promise<V2User> {
    return this.modUser("PUT", name, userBody({ user: name, grant: roles }), deadline);
  }

  revokeUser(name: string, roles: string[], deadline: number | undefined): Promise<V2User> {
    return this.modUser("PUT", name, userBody({ user: name, revoke: roles }), deadline);
  }

  changePassword(name: string, password: string, deadline: number | undefined): Promise<V2User> {
    return this.modUser("PUT", name, userBody({ user: name, password }), deadline);
  }

  async listRoles(deadline: number | undefined): Promise<string[]> {
    const r = await this.send("GET", "roles", "", undefined, deadline, true);
    if (r.status !== 200) {
      // AuthRoleAPI.ListRoles reports only the status.
      throw new Error(`unexpected status code ${r.status}`);
    }
    const roles = field(goJsonParse(r.body), "roles");
    return Array.isArray(roles) ? roles.map((x) => str(field(x, "role"))) : [];
  }

  private async addRemoveRole(method: "PUT" | "DELETE", name: string, body: string | undefined, deadline: number | undefined): Promise<void> {
    const r = await this.send(method, "roles", name, body, deadline);
    if (r.status !== 200 && r.status !== 201) throw authError(r.body);
  }

  addRole(name: string, deadline: number | undefined): Promise<void> {
    return this.addRemoveRole("PUT", name, `{"role":${JSON.stringify(name)},"permissions":{"kv":{"read":null,"write":null}}}`, deadline);
  }

  removeRole(name: string, deadline: number | undefined): Promise<void> {
    return this.addRemoveRole("DELETE", name, undefined, deadline);
  }

  private async modRole(method: "GET" | "PUT", name: string, body: string | undefined, deadline: number | undefined): Promise<V2Role> {
    const r = await this.send(method, "roles", name, body, deadline);
    if (r.status !== 200) throw authError(r.body);
    return role(goJsonParse(r.body));
  }

  getRole(name: string, deadline: number | undefined): Promise<V2Role> {
    return this.modRole("GET", name, undefined, deadline);
  }

  grantRole(name: string, paths: string[], t: PermissionType, deadline: number | undefined): Promise<V2Role> {
    return this.modRole("PUT", name, `{"role":${JSON.stringify(name)},"permissions":{"kv":{"read":null,"write":null}},"grant":${rw(paths, t)}}`, deadline);
  }

  revokeRole(name: string, paths: string[], t: PermissionType, deadline: number | undefined): Promise<V2Role> {
    return this.modRole("PUT", name, `{"role":${JSON.stringify(name)},"permissions":{"kv":{"read":null,"write":null}},"revoke":${rw(paths, t)}}`, deadline);
  }
}
