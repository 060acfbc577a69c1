// The auth store (etcd's auth/store.go): users, roles, the enabled flag and the auth revision,
// replicated through the log. Mutations run at apply time on every member, deterministically:
// they change memory and push their SQL into the apply batch, so they commit in the same
// transaction as the KV changes of that batch. Passwords arrive already hashed (the proposing
// member hashed them), so apply never runs bcrypt and the log never holds a password.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PermissionSchema, RoleSchema, UserAddOptionsSchema, UserSchema } from "../gen/auth_pb.ts";
import { toKey, fromKey } from "../mvcc/index.ts";
import { Errors, type EtcdError } from "../rpctypes/index.ts";
import { AuthEnabledFlag, type AuthTableRows } from "../storage/auth-rows.ts";
import type { InStatement } from "../storage/sql-db.ts";
import { mergePerms, type UserPerms } from "./perm-cache.ts";
import { type AuthPerm, type AuthRole, type AuthState, type AuthUser, PermType, ROOT_ROLE, ROOT_USER } from "./types.ts";

/** Who a request acts for (etcd's AuthInfo). */
export interface Identity {
  readonly username: string;
  readonly revision: number;
}

/** What other parts of the member must learn when the store changes at apply time. */
export interface AuthEvents {
  /** The user's simple tokens are no longer valid (deleted, or its password changed). */
  userInvalidated(name: string): void;
  /** Auth was turned on or off (off invalidates every token). */
  enabledChanged(enabled: boolean): void;
  /** Any change of users, roles or permissions (open watchers are checked again). */
  changed(): void;
}

const enc = new TextEncoder();
/** Names and hashes are UTF-8 (etcd's are Go strings); anything else is a corrupt record. */
const dec = new TextDecoder("utf-8", { fatal: true });
const EMPTY = new Uint8Array(0);

export class AuthStore {
  private on = false;
  /** etcd's authEnabled key exists (auth was enabled at some point); see AuthEnabledFlag. */
  private keyed = false;
  private rev = 1;
  private readonly users = new Map<string, AuthUser>();
  private readonly roles = new Map<string, AuthRole>();
  private readonly cache = new Map<string, UserPerms>();
  events: AuthEvents | undefined;

  /** Restores the store from its tables; a fresh store is disabled at revision 1 (etcd's). */
  static load(rows: AuthTableRows): AuthStore {
    const s = new AuthStore();
    if (rows.meta !== undefined) {
      s.on = rows.meta.enabled === AuthEnabledFlag.on;
      s.keyed = rows.meta.enabled !== AuthEnabledFlag.absent;
      s.rev = rows.meta.revision;
    }
    for (const rec of rows.users) {
      const u = decodeUser(rec.data);
      s.users.set(u.name, u);
    }
    for (const rec of rows.roles) {
      const r = decodeRole(rec.data);
      s.roles.set(r.name, r);
    }
    return s;
  }

  /** The whole store as one value (snapshots, hashes); users and roles in name order. */
  state(): AuthState {
    return {
      enabled: this.on,
      enabledKey: this.keyed,
      revision: this.rev,
      users: this.userNames().map((n) => this.users.get(n)!),
      roles: this.roleNames().map((n) => this.roles.get(n)!),
    };
  }

  get enabled(): boolean {
    return this.on;
  }

  get revision(): number {
    return this.rev;
  }

  // ---- reads -------------------------------------------------------------------------------

  user(name: string): AuthUser | undefined {
    return this.users.get(name);
  }

  role(name: string): AuthRole | undefined {
    return this.roles.get(name);
  }

  /** User names in byte order (etcd lists its bucket in key order). */
  userNames(): string[] {
    return [...this.users.keys()].sort(byBytes);
  }

  roleNames(): string[] {
    return [...this.roles.keys()].sort(byBytes);
  }

  hasRole(user: string, role: string): boolean {
    return this.users.get(user)?.roles.includes(role) ?? false;
  }

  // ---- checks (etcd's isOpPermitted, IsAdminPermitted, requireAuthInfo) -----------------------

  /** The identity may read (or write) every key of [key, end); throws etcd's error. */
  checkKeys(ai: Identity | undefined, key: Uint8Array, end: Uint8Array, write: boolean): void {
    if (!this.on) return;
    const denied = this.keysDenied(ai, key, end, write);
    if (denied !== undefined) throw denied;
  }

  /** checkKeys with the failure returned (the hot path throws only when it must). */
  keysDenied(ai: Identity | undefined, key: Uint8Array, end: Uint8Array, write: boolean): EtcdError | undefined {
    if (!this.on) return undefined;
    // Only an empty identity has revision 0: no user given.
    if (ai === undefined || ai.revision === 0) return Errors.userEmpty;
    if (ai.revision < this.rev) return Errors.authOldRevision;
    const u = this.users.get(ai.username);
    if (u === undefined) return Errors.permissionDenied;
    if (hasRoot(u)) return undefined;
    const perms = this.permsOf(u);
    const set = write ? perms.write : perms.read;
    const k = toKey(key);
    let ok: boolean;
    if (end.length === 0) ok = set.has(k);
    else if (end.length === 1 && end[0] === 0) ok = set.covers(k, undefined);
    else ok = set.covers(k, toKey(end));
    return ok ? undefined : Errors.permissionDenied;
  }

  checkAdmin(ai: Identity | undefined): void {
    if (!this.on) return;
    if (ai === undefined || ai.username === "") throw Errors.userEmpty;
    const u = this.users.get(ai.username);
    if (u === undefined) throw Errors.userNotFound;
    if (!hasRoot(u)) throw Errors.permissionDenied;
  }

  isAdmin(ai: Identity | undefined): boolean {
    if (!this.on) return true;
    const u = ai === undefined ? undefined : this.users.get(ai.username);
    return u !== undefined && hasRoot(u);
  }

  checkUser(ai: Identity | undefined): void {
    if (this.on && ai === undefined) throw Errors.userEmpty;
  }

  private permsOf(u: AuthUser): UserPerms {
    const c = this.cache.get(u.name);
    if (c !== undefined && c.revision === this.rev) return c;
    const p = mergePerms(u, this.roles, this.rev);
    this.cache.set(u.name, p);
    return p;
  }

  // ---- mutations (apply time; `out` collects the batch's SQL) ---------------------------------

  enable(out: InStatement[]): void {
    if (this.on) return; // etcd: already enabled is a success that changes nothing
    const root = this.users.get(ROOT_USER);
    if (root === undefined) throw Errors.rootUserNotExist;
    if (!hasRoot(root)) throw Errors.rootRoleNotExist;
    this.on = true;
    this.keyed = true;
    this.saveMeta(out);
    this.events?.enabledChanged(true);
    this.events?.changed();
  }

  disable(out: InStatement[]): void {
    if (!this.on) return;
    this.on = false;
    this.bump(out);
    this.events?.enabledChanged(false);
  }

  /**
   * Checks a user for Authenticate at its log position (etcd's authStore.Authenticate; the
   * password was checked by the receiving member). Returns the auth revision.
   */
  authenticate(name: string): number {
    if (!this.on) throw Errors.authNotEnabled;
    const u = this.users.get(name);
    if (u === undefined || u.noPassword) throw Errors.authFailed;
    return this.rev;
  }

  userAdd(name: string, password: string, noPassword: boolean, out: InStatement[]): void {
    if (name === "") throw Errors.userEmpty;
    if (this.users.has(name)) throw Errors.userAlreadyExist;
    this.putUser({ name, password: noPassword ? "" : password, roles: [], noPassword }, out);
    this.bump(out);
  }

  userDelete(name: string, out: InStatement[]): void {
    if (this.on && name === ROOT_USER) throw Errors.invalidAuthMgmt;
    if (!this.users.has(name)) throw Errors.userNotFound;
    this.users.delete(name);
    this.cache.delete(name);
    out.push({ sql: "DELETE FROM auth_users WHERE name = ?", args: [name] });
    this.bump(out);
    this.events?.userInvalidated(name);
  }

  userChangePassword(name: string, password: string, out: InStatement[]): void {
    const u = this.users.get(name);
    if (u === undefined) throw Errors.userNotFound;
    this.putUser({ ...u, password }, out);
    this.bump(out);
    this.events?.userInvalidated(name);
  }

  userGrantRole(name: string, role: string, out: InStatement[]): void {
    const u = this.users.get(name);
    if (u === undefined) throw Errors.userNotFound;
    // Role root may be granted before it exists (etcdctl auth enable creates it afterwards).
    if (role !== ROOT_ROLE && !this.roles.has(role)) throw Errors.roleNotFound;
    if (u.roles.includes(role)) return; // etcd: a silent success, no new revision
    this.putUser({ ...u, roles: [...u.roles, role].sort() }, out);
    this.bump(out);
  }

  userRevokeRole(name: string, role: string, out: InStatement[]): void {
    if (this.on && name === ROOT_USER && role === ROOT_ROLE) throw Errors.invalidAuthMgmt;
    const u = this.users.get(name);
    if (u === undefined) throw Errors.userNotFound;
    if (!u.roles.includes(role)) throw Errors.roleNotGranted;
    this.putUser({ ...u, roles: u.roles.filter((r) => r !== role) }, out);
    this.bump(out);
  }

  roleAdd(name: string, out: InStatement[]): void {
    if (name === "") throw Errors.roleEmpty;
    if (this.roles.has(name)) throw Errors.roleAlreadyExist;
    this.putRole({ name, perms: [] }, out);
    this.bump(out);
  }

  roleDelete(name: string, out: InStatement[]): void {
    if (this.on && name === ROOT_ROLE) throw Errors.invalidAuthMgmt;
    if (!this.roles.has(name)) throw Errors.roleNotFound;
    this.roles.delete(name);
    out.push({ sql: "DELETE FROM auth_roles WHERE name = ?", args: [name] });
    // etcd strips the role from every user that held it.
    for (const u of [...this.users.values()]) {
      if (u.roles.includes(name)) this.putUser({ ...u, roles: u.roles.filter((r) => r !== name) }, out);
    }
    this.bump(out);
  }

  /** etcd's RoleGrantPermission: a permission on the same {key, range_end} is overwritten. */
  roleGrantPermission(name: string, perm: AuthPerm | undefined, out: InStatement[]): void {
    if (perm === undefined) throw Errors.permissionNotGiven;
    if (!validPermissionRange(perm.key, perm.rangeEnd)) throw Errors.invalidAuthMgmt;
    const r = this.roles.get(name);
    if (r === undefined) throw Errors.roleNotFound;
    const perms = [...r.perms];
    const i = perms.findIndex((p) => p.key === perm.key && p.rangeEnd === perm.rangeEnd);
    if (i >= 0) perms[i] = { ...perms[i]!, type: perm.type };
    else {
      perms.push(perm);
      perms.sort((a, b) => byBytes(a.key, b.key));
    }
    this.putRole({ name, perms }, out);
    this.bump(out);
  }

  roleRevokePermission(name: string, key: string, rangeEnd: string, out: InStatement[]): void {
    const r = this.roles.get(name);
    if (r === undefined) throw Errors.roleNotFound;
    const perms = r.perms.filter((p) => p.key !== key || p.rangeEnd !== rangeEnd);
    if (perms.length === r.perms.length) throw Errors.permissionNotGranted;
    this.putRole({ name, perms }, out);
    this.bump(out);
  }

  /**
   * Feeds the store to a hash in a fixed order (Maintenance.Hash): the authEnabled flag, the
   * revision, then every role and user record in name order, each name before its authpb
   * bytes. Every member that applied the same entries feeds the same bytes.
   */
  feedHash(update: (b: Uint8Array) => void): void {
    const head = new Uint8Array(9);
    head[0] = enabledFlag(this.on, this.keyed);
    new DataView(head.buffer).setBigUint64(1, BigInt(this.rev));
    update(head);
    for (const n of this.roleNames()) {
      update(enc.encode(`role:${n}:`));
      update(encodeRole(this.roles.get(n)!));
    }
    for (const n of this.userNames()) {
      update(enc.encode(`user:${n}:`));
      update(encodeUser(this.users.get(n)!));
    }
  }

  // ---- persistence ----

  private bump(out: InStatement[]): void {
    this.rev++;
    this.saveMeta(out);
    this.events?.changed();
  }

  private saveMeta(out: InStatement[]): void {
    out.push({
      sql: "INSERT INTO auth_meta (id, enabled, revision) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, revision = excluded.revision",
      args: [enabledFlag(this.on, this.keyed), this.rev],
    });
  }

  private putUser(u: AuthUser, out: InStatement[]): void {
    this.users.set(u.name, u);
    this.cache.delete(u.name);
    out.push({ sql: "INSERT OR REPLACE INTO auth_users (name, data) VALUES (?, ?)", args: [u.name, encodeUser(u)] });
  }

  private putRole(r: AuthRole, out: InStatement[]): void {
    this.roles.set(r.name, r);
    out.push({ sql: "INSERT OR REPLACE INTO auth_roles (name, data) VALUES (?, ?)", args: [r.name, encodeRole(r)] });
  }
}

function enabledFlag(on: boolean, keyed: boolean): AuthEnabledFlag {
  return on ? AuthEnabledFlag.on : keyed ? AuthEnabledFlag.off : AuthEnabledFlag.absent;
}

/** The tables that hold `state` (a restored snapshot's auth store). */
export function authTableRowsOf(state: AuthState): AuthTableRows {
  const fresh = !state.enabled && state.enabledKey !== true && state.revision === 1 && state.users.length === 0 && state.roles.length === 0;
  return {
    meta: fresh ? undefined : { enabled: enabledFlag(state.enabled, state.enabledKey === true), revision: state.revision },
    users: state.users.map((u) => ({ name: u.name, data: encodeUser(u) })),
    roles: state.roles.map((r) => ({ name: r.name, data: encodeRole(r) })),
  };
}

function hasRoot(u: AuthUser): boolean {
  return u.roles.includes(ROOT_ROLE);
}

function byBytes(a: string, b: string): number {
  // Names compare as UTF-8 bytes; keys (latin1) compare as strings, which is the same order.
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** etcd's isValidPermissionRange: a key, and no end, an open end, or an end after the key. */
export function validPermissionRange(key: string, rangeEnd: string): boolean {
  if (key === "") return false;
  if (rangeEnd === "" || rangeEnd === "\0") return true;
  return key < rangeEnd;
}

// ---- authpb encoding (the same bytes as etcd's authUsers / authRoles buckets) ----

export function encodeUser(u: AuthUser): Uint8Array {
  return toBinary(
    UserSchema,
    create(UserSchema, {
      name: enc.encode(u.name),
      password: enc.encode(u.password),
      roles: [...u.roles],
      options: create(UserAddOptionsSchema, { noPassword: u.noPassword }),
    }),
  );
}

export function decodeUser(b: Uint8Array): AuthUser {
  const u = fromBinary(UserSchema, b);
  return { name: dec.decode(u.name), password: dec.decode(u.password), roles: [...u.roles].sort(), noPassword: u.options?.noPassword ?? false };
}

export function encodeRole(r: AuthRole): Uint8Array {
  return toBinary(
    RoleSchema,
    create(RoleSchema, {
      name: enc.encode(r.name),
      keyPermission: r.perms.map((p) => create(PermissionSchema, { permType: p.type, key: fromKey(p.key), rangeEnd: p.rangeEnd === "" ? EMPTY : fromKey(p.rangeEnd) })),
    }),
  );
}

export function decodeRole(b: Uint8Array): AuthRole {
  const r = fromBinary(RoleSchema, b);
  return {
    name: dec.decode(r.name),
    perms: r.keyPermission.map((p) => {
      const type = p.permType as number;
      if (type !== PermType.READ && type !== PermType.WRITE && type !== PermType.READWRITE) throw new Error(`permission type ${type} is not READ, WRITE or READWRITE`);
      return { type, key: toKey(p.key), rangeEnd: toKey(p.rangeEnd) };
    }),
  };
}

export { PermType };
