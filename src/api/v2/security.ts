// The v2 security store (etcd 3.4's v2auth.store): users, roles and the enabled flag kept as
// JSON records in the v2 store under /2 (/2/users/<name>, /2/roles/<name>, /2/enabled), read
// and written through the member's v2 requests like any key, so they replicate with the log and
// stay apart from v3 auth. Passwords are bcrypt hashes, checked on every request; a check that
// succeeded is remembered (keyed by an HMAC of the password under a per-process key) so that
// repeated requests do not pay bcrypt again.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import * as v from "valibot";
import { type V2Service, V2Code, V2Error } from "../../server/v2-service.ts";
import {
  AuthError,
  GUEST_ROLE,
  guestRole,
  mergeRole,
  mergeUser,
  type Role,
  RoleSchema,
  ROOT_ROLE,
  rootRole,
  sameRole,
  sameUser,
  type User,
  userJson,
  UserSchema,
  roleJson,
  withRootRole,
} from "./auth-model.ts";

const PREFIX = "/2";
/** etcd's bcrypt.DefaultCost. */
const BCRYPT_COST = 10;
/** Remembered password checks (oldest dropped first). */
const MAX_REMEMBERED = 1024;

function isCode(e: unknown, code: number): boolean {
  return e instanceof V2Error && e.errorCode === code;
}

export class Security {
  private ensured = false;
  private readonly hmacKey = randomBytes(32);
  private readonly remembered = new Map<string, { hash: string; mac: Buffer }>();

  constructor(private readonly svc: V2Service) {}

  // ---- users ----------------------------------------------------------------------------------

  async allUsers(): Promise<string[]> {
    return this.listNames("/users/");
  }

  getUser(name: string): Promise<User> {
    return this.readUser(name, false);
  }

  /** Creates the user, or updates it when it exists; `created` tells which. */
  async createOrUpdateUser(u: User): Promise<{ user: User; created: boolean }> {
    try {
      await this.readUser(u.user, true);
    } catch {
      return { user: await this.createUser(u), created: true };
    }
    return { user: await this.updateUser(u), created: false };
  }

  async createUser(u: User): Promise<User> {
    if (u.user === ROOT_ROLE) u = withRootRole(u);
    if (!u.password) throw new AuthError(400, `Cannot create user ${u.user} with an empty password`);
    const stored: User = { ...u, password: await this.hashPassword(u.password) };
    try {
      await this.setResource(`/users/${u.user}`, userJson(stored), false);
    } catch (e) {
      if (isCode(e, V2Code.NodeExist)) throw new AuthError(409, `User ${u.user} already exists.`);
      throw e;
    }
    return stored;
  }

  async deleteUser(name: string): Promise<void> {
    if ((await this.authEnabled()) && name === ROOT_ROLE) throw new AuthError(403, "Cannot delete root user while auth is enabled.");
    try {
      await this.deleteResource(`/users/${name}`);
    } catch (e) {
      if (isCode(e, V2Code.KeyNotFound)) throw new AuthError(404, `User ${name} does not exist`);
      throw e;
    }
    this.forget(name);
  }

  async updateUser(u: User): Promise<User> {
    const old = await this.readUser(u.user, true);
    const merged = await mergeUser(old, u, (pw) => this.hashPassword(pw));
    if (sameUser(old, merged)) throw new AuthError(400, "User not updated. Use grant/revoke/password to update the user.");
    await this.setResource(`/users/${u.user}`, userJson(merged), true);
    this.forget(u.user);
    return merged;
  }

  // ---- roles ----------------------------------------------------------------------------------

  async allRoles(): Promise<string[]> {
    const names = await this.listNames("/roles/");
    return [ROOT_ROLE, ...names].sort();
  }

  getRole(name: string): Promise<Role> {
    return this.readRole(name, false);
  }

  async createRole(r: Role): Promise<void> {
    if (r.role === ROOT_ROLE) throw new AuthError(403, `Cannot modify role ${r.role}: is root role.`);
    try {
      await this.setResource(`/roles/${r.role}`, roleJson(r), false);
    } catch (e) {
      if (isCode(e, V2Code.NodeExist)) throw new AuthError(409, `Role ${r.role} already exists.`);
      throw e;
    }
  }

  async deleteRole(name: string): Promise<void> {
    if (name === ROOT_ROLE) throw new AuthError(403, `Cannot modify role ${name}: is root role.`);
    try {
      await this.deleteResource(`/roles/${name}`);
    } catch (e) {
      if (isCode(e, V2Code.KeyNotFound)) throw new AuthError(404, `Role ${name} doesn't exist.`);
      throw e;
    }
  }

  async updateRole(r: Role): Promise<Role> {
    if (r.role === ROOT_ROLE) throw new AuthError(403, `Cannot modify role ${r.role}: is root role.`);
    const old = await this.readRole(r.role, true);
    const merged = mergeRole(old, r);
    if (sameRole(old, merged)) throw new AuthError(400, "Role not updated. Use grant/revoke to update the role.");
    await this.setResource(`/roles/${r.role}`, roleJson(merged), true);
    return merged;
  }

  // ---- enabled ----------------------------------------------------------------------------------

  /** Whether v2 auth is on (a local read of /2/enabled, as etcd does on every request). */
  async authEnabled(): Promise<boolean> {
    return this.svc.peekValue(`${PREFIX}/enabled`) === "true";
  }

  async enableAuth(): Promise<void> {
    if (await this.authEnabled()) throw new AuthError(409, "already enabled");
    try {
      await this.readUser(ROOT_ROLE, true);
    } catch {
      throw new AuthError(409, "No root user available, please create one");
    }
    try {
      await this.readRole(GUEST_ROLE, true);
    } catch {
      await this.createRole(guestRole());
    }
    await this.setResource("/enabled", "true", true);
  }

  async disableAuth(): Promise<void> {
    if (!(await this.authEnabled())) throw new AuthError(409, "already disabled");
    await this.setResource("/enabled", "false", true);
  }

  // ---- passwords ----------------------------------------------------------------------------------

  hashPassword(pw: string): Promise<string> {
    return bcrypt.hash(pw, BCRYPT_COST);
  }

  /** Whether `password` is the user's (bcrypt; a success is remembered for this hash). */
  async checkPassword(u: User, password: string): Promise<boolean> {
    const hash = u.password ?? "";
    if (hash === "") return false;
    const mac = createHmac("sha256", this.hmacKey).update(u.user).update("\0").update(password).digest();
    const r = this.remembered.get(u.user);
    if (r !== undefined && r.hash === hash && timingSafeEqual(r.mac, mac)) return true;
    let ok: boolean;
    try {
      ok = await bcrypt.compare(password, hash);
    } catch {
      ok = false;
    }
    if (ok) {
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
      this.remembered.set(u.user, { hash, mac });
    }
    return ok;
  }

  private forget(name: string): void {
    this.remembered.delete(name);
  }

  // ---- records in the store ----------------------------------------------------------------------

  private async listNames(dir: string): Promise<string[]> {
    let ans;
    try {
      ans = await this.svc.get(PREFIX + dir, false);
    } catch (e) {
      if (isCode(e, V2Code.KeyNotFound)) return [];
      throw e;
    }
    const names = (ans.event?.node.nodes ?? []).map((n) => n.key.slice(n.key.lastIndexOf("/") + 1));
    return names.sort();
  }

  private async readUser(name: string, quorum: boolean): Promise<User> {
    let ans;
    try {
      ans = await this.svc.get(`${PREFIX}/users/${name}`, quorum);
    } catch (e) {
      if (isCode(e, V2Code.KeyNotFound)) throw new AuthError(404, `User ${name} does not exist.`);
      throw e;
    }
    const u = parseRecord(UserSchema, ans.event?.node.value, `user ${name}`);
    const user: User = { user: u.user, password: u.password, roles: u.roles };
    return withRootRole(user);
  }

  private async readRole(name: string, quorum: boolean): Promise<Role> {
    if (name === ROOT_ROLE) return rootRole();
    let ans;
    try {
      ans = await this.svc.get(`${PREFIX}/roles/${name}`, quorum);
    } catch (e) {
      if (isCode(e, V2Code.KeyNotFound)) throw new AuthError(404, `Role ${name} does not exist.`);
      throw e;
    }
    const r = parseRecord(RoleSchema, ans.event?.node.value, `role ${name}`);
    return { role: r.role, permissions: { kv: { read: r.permissions.kv.read, write: r.permissions.kv.write } } };
  }

  /** etcd's ensureAuthDirectories: /2, /2/users, /2/roles and /2/enabled=false, once. */
  private async ensureDirectories(): Promise<void> {
    if (this.ensured) return;
    for (const dir of [PREFIX, `${PREFIX}/users/`, `${PREFIX}/roles/`]) {
      try {
        await this.svc.put(dir, "", { dir: true, prevExist: false });
      } catch (e) {
        if (!isCode(e, V2Code.NodeExist)) throw e;
      }
    }
    try {
      await this.svc.put(`${PREFIX}/enabled`, "false", { prevExist: false });
    } catch (e) {
      if (!isCode(e, V2Code.NodeExist)) throw e;
    }
    this.ensured = true;
  }

  private async setResource(res: string, value: string, prevExist: boolean): Promise<void> {
    await this.ensureDirectories();
    await this.svc.put(PREFIX + res, value, { prevExist });
  }

  private async deleteResource(res: string): Promise<void> {
    await this.ensureDirectories();
    await this.svc.delete(PREFIX + res, true);
  }
}

function parseRecord<T extends v.GenericSchema>(schema: T, value: string | undefined, what: string): v.InferOutput<T> {
  let json: unknown;
  try {
    json = JSON.parse(value ?? "");
  } catch {
    throw new Error(`v2 auth: stored ${what} is not JSON`);
  }
  const r = v.safeParse(schema, json);
  if (!r.success) throw new Error(`v2 auth: stored ${what} is malformed`);
  return r.output;
}
