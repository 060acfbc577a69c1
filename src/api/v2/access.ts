// Who may do what on the v2 API when v2 auth is enabled (etcd 3.4's v2http/client_auth.go):
// HTTP Basic credentials name a user; with --client-cert-auth and no Authorization header the
// client certificate's common name does; without either a keys request runs as the guest role.
// Keys need a role whose read (GET/HEAD) or write (other methods) patterns cover the key;
// recursive requests need a "*" pattern; the security and member-changing APIs need root.
import type { Logger } from "../../server/logger.ts";
import { GUEST_ROLE, ROOT_ROLE, roleHasKeyAccess, roleHasRecursiveAccess, type User } from "./auth-model.ts";
import type { Security } from "./security.ts";

/** What the handlers know about the caller. */
export interface Caller {
  readonly method: string;
  /** The Authorization header ("" when absent). */
  readonly authorization: string;
  /** Common name of a verified client certificate (read only when needed: it costs a lookup). */
  readonly certCommonName?: () => string | undefined;
}

/** Go's Request.BasicAuth. */
export function basicAuth(header: string): { user: string; password: string } | undefined {
  const prefix = "Basic ";
  if (header.length < prefix.length || header.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return undefined;
  const b64 = header.slice(prefix.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  const text = Buffer.from(b64, "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i < 0) return undefined;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

export class Access {
  constructor(
    private readonly sec: Security,
    private readonly logger: Logger,
    /** --client-cert-auth: a certificate's common name may name the user. */
    private readonly clientCertAuth: boolean,
  ) {}

  private async userFromBasicAuth(c: Caller): Promise<User | undefined> {
    const cred = basicAuth(c.authorization);
    if (cred === undefined) {
      this.logger.warn("malformed basic auth encoding");
      return undefined;
    }
    let user: User;
    try {
      user = await this.sec.getUser(cred.user);
    } catch {
      return undefined;
    }
    if (!(await this.sec.checkPassword(user, cred.password))) {
      this.logger.warn("incorrect password", { "user-name": cred.user });
      return undefined;
    }
    return user;
  }

  private async userFromCertificate(c: Caller): Promise<User | undefined> {
    const cn = c.certCommonName?.();
    if (cn === undefined) return undefined;
    try {
      return await this.sec.getUser(cn);
    } catch {
      return undefined;
    }
  }

  /** etcd's hasRootAccess. */
  async root(c: Caller): Promise<boolean> {
    if (!(await this.sec.authEnabled())) return true;
    const user = c.authorization === "" && this.clientCertAuth ? await this.userFromCertificate(c) : await this.userFromBasicAuth(c);
    if (user === undefined) return false;
    if ((user.roles ?? []).includes(ROOT_ROLE)) return true;
    this.logger.warn("a user does not have root role for resource", { "root-user": user.user, "root-role-name": ROOT_ROLE });
    return false;
  }

  /** etcd's hasWriteRootAccess: reads are open, writes need root. */
  async writeRoot(c: Caller): Promise<boolean> {
    if (c.method === "GET" || c.method === "HEAD") return true;
    return this.root(c);
  }

  /** etcd's hasKeyPrefixAccess for a key path as the client wrote it ("/foo"). */
  async key(c: Caller, key: string, recursive: boolean): Promise<boolean> {
    if (!(await this.sec.authEnabled())) return true;
    const write = c.method !== "GET" && c.method !== "HEAD";
    let user: User | undefined;
    if (c.authorization === "") {
      if (this.clientCertAuth) user = await this.userFromCertificate(c);
      if (user === undefined) return this.guest(key, write);
    } else {
      user = await this.userFromBasicAuth(c);
      if (user === undefined) return false;
    }
    for (const name of user.roles ?? []) {
      let role;
      try {
        role = await this.sec.getRole(name);
      } catch {
        continue;
      }
      if (recursive ? roleHasRecursiveAccess(role, key, write) : roleHasKeyAccess(role, key, write)) return true;
    }
    this.logger.warn("invalid access for user on key", { "user-name": user.user, key });
    return false;
  }

  private async guest(key: string, write: boolean): Promise<boolean> {
    let role;
    try {
      role = await this.sec.getRole(GUEST_ROLE);
    } catch {
      return false;
    }
    if (roleHasKeyAccess(role, key, write)) return true;
    this.logger.warn("invalid access for a guest role on key", { "role-name": GUEST_ROLE, key });
    return false;
  }
}
