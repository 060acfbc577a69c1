// The Auth service (etcdserverpb.Auth) of the member: management requests go through the log
// (the auth applier decides at their position); reads are linearizable reads of the local
// store; Authenticate checks the password here and proposes only the name, never the password.
import { create } from "@bufbuild/protobuf";
import { PermissionSchema } from "../gen/auth_pb.ts";
import {
  type AuthDisableRequest,
  type AuthDisableResponse,
  type AuthEnableRequest,
  type AuthEnableResponse,
  type AuthenticateRequest,
  type AuthenticateResponse,
  AuthenticateResponseSchema,
  type AuthRoleAddRequest,
  type AuthRoleAddResponse,
  type AuthRoleDeleteRequest,
  type AuthRoleDeleteResponse,
  type AuthRoleGetRequest,
  type AuthRoleGetResponse,
  AuthRoleGetResponseSchema,
  type AuthRoleGrantPermissionRequest,
  type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse,
  AuthRoleListResponseSchema,
  type AuthRoleRevokePermissionRequest,
  type AuthRoleRevokePermissionResponse,
  type AuthStatusResponse,
  AuthStatusResponseSchema,
  type AuthUserAddRequest,
  type AuthUserAddResponse,
  type AuthUserChangePasswordRequest,
  type AuthUserChangePasswordResponse,
  type AuthUserDeleteRequest,
  type AuthUserDeleteResponse,
  type AuthUserGetRequest,
  type AuthUserGetResponse,
  AuthUserGetResponseSchema,
  type AuthUserGrantRoleRequest,
  type AuthUserGrantRoleResponse,
  type AuthUserListResponse,
  AuthUserListResponseSchema,
  type AuthUserRevokeRoleRequest,
  type AuthUserRevokeRoleResponse,
  type ResponseHeader,
} from "../gen/rpc_pb.ts";
import { fromKey } from "../mvcc/index.ts";
import { type AuthStore, PasswordChecker, type PasswordHasher, SimpleTokens } from "../auth/index.ts";
import { Errors, RawErrors } from "../rpctypes/index.ts";
import type { AuthenticateResult } from "./apply-auth.ts";
import type { Logger } from "./logger.ts";
import type { RequestInit } from "./request-codec.ts";
import type { Tokens } from "./member-auth.ts";
import type { AuthServer, RequestContext } from "./types.ts";

export interface AuthOpsDeps {
  readonly store: () => AuthStore;
  readonly tokens: Tokens;
  readonly hasher: PasswordHasher;
  /** --bcrypt-cost. */
  readonly bcryptCost: number;
  readonly propose: <T>(init: RequestInit, ctx?: RequestContext) => Promise<T>;
  readonly linearizableRead: () => Promise<void>;
  readonly header: () => ResponseHeader;
  readonly logger: Logger;
}

export class AuthOps implements AuthServer {
  private readonly checker: PasswordChecker;

  constructor(private readonly d: AuthOpsDeps) {
    this.checker = new PasswordChecker(d.hasher, d.bcryptCost);
  }

  authEnable(req: AuthEnableRequest, ctx: RequestContext): Promise<AuthEnableResponse> {
    return this.d.propose({ authEnable: req }, ctx);
  }

  authDisable(req: AuthDisableRequest, ctx: RequestContext): Promise<AuthDisableResponse> {
    return this.d.propose({ authDisable: req }, ctx);
  }

  async authStatus(_ctx: RequestContext): Promise<AuthStatusResponse> {
    await this.d.linearizableRead();
    const st = this.d.store();
    return create(AuthStatusResponseSchema, { header: this.d.header(), enabled: st.enabled, authRevision: BigInt(st.revision) });
  }

  /**
   * etcd's Authenticate: a linearizable read, the password checked here, then an entry with the
   * name (and a simple token's random part) through the log; if the auth store changed between
   * the check and the entry, checked again. A wrong password costs one bcrypt whether or not
   * the user exists; nothing secret is logged.
   */
  async authenticate(req: AuthenticateRequest, _ctx: RequestContext): Promise<AuthenticateResponse> {
    await this.d.linearizableRead();
    for (;;) {
      const st = this.d.store();
      if (!st.enabled) throw Errors.authNotEnabled;
      const checked = st.revision;
      const user = st.user(req.name);
      if (user?.noPassword === true) {
        // Password-less users log in with a certificate only (etcd's ErrNoPasswordUser).
        await this.checker.check(req.password, undefined);
        throw RawErrors.noPasswordUser;
      }
      if (!(await this.checker.check(req.password, user?.password))) {
        this.d.logger.info("authentication failed, invalid user ID or password", { "user-name": req.name });
        throw Errors.authFailed;
      }
      const t = this.d.tokens;
      if (t.kind === "none") throw Errors.authFailed;
      if (t.kind === "jwt" && t.jwt.verifyOnly) throw RawErrors.verifyOnly;
      const prefix = t.kind === "simple" ? SimpleTokens.prefix() : "";
      const res = await this.d.propose<AuthenticateResult>({ authenticate: { name: req.name, simpleToken: prefix } });
      if (checked !== this.d.store().revision) continue;
      const token = t.kind === "simple" ? res.simpleToken : await t.jwt.assign(res.username, res.revision);
      return create(AuthenticateResponseSchema, { header: this.d.header(), token });
    }
  }

  async userAdd(req: AuthUserAddRequest, ctx: RequestContext): Promise<AuthUserAddResponse> {
    const noPassword = req.options?.noPassword === true;
    // Refuse a non-admin before spending a bcrypt on it; the applier decides again at the
    // entry's position.
    this.d.store().checkAdmin(ctx.auth);
    const hashedPassword = noPassword ? "" : await this.hash(req.password);
    return this.d.propose({ authUserAdd: { name: req.name, options: req.options, hashedPassword } }, ctx);
  }

  async userChangePassword(req: AuthUserChangePasswordRequest, ctx: RequestContext): Promise<AuthUserChangePasswordResponse> {
    this.d.store().checkAdmin(ctx.auth);
    const hashedPassword = await this.hash(req.password);
    return this.d.propose({ authUserChangePassword: { name: req.name, hashedPassword } }, ctx);
  }

  /** bcrypt at --bcrypt-cost, base64 as etcd 3.5 puts it into the entry. */
  private async hash(password: string): Promise<string> {
    const h = await this.d.hasher.hash(password, this.d.bcryptCost);
    return Buffer.from(h, "latin1").toString("base64");
  }

  userDelete(req: AuthUserDeleteRequest, ctx: RequestContext): Promise<AuthUserDeleteResponse> {
    return this.d.propose({ authUserDelete: req }, ctx);
  }

  userGrantRole(req: AuthUserGrantRoleRequest, ctx: RequestContext): Promise<AuthUserGrantRoleResponse> {
    return this.d.propose({ authUserGrantRole: req }, ctx);
  }

  userRevokeRole(req: AuthUserRevokeRoleRequest, ctx: RequestContext): Promise<AuthUserRevokeRoleResponse> {
    return this.d.propose({ authUserRevokeRole: req }, ctx);
  }

  roleAdd(req: AuthRoleAddRequest, ctx: RequestContext): Promise<AuthRoleAddResponse> {
    return this.d.propose({ authRoleAdd: req }, ctx);
  }

  roleDelete(req: AuthRoleDeleteRequest, ctx: RequestContext): Promise<AuthRoleDeleteResponse> {
    return this.d.propose({ authRoleDelete: req }, ctx);
  }

  roleGrantPermission(req: AuthRoleGrantPermissionRequest, ctx: RequestContext): Promise<AuthRoleGrantPermissionResponse> {
    return this.d.propose({ authRoleGrantPermission: req }, ctx);
  }

  roleRevokePermission(req: AuthRoleRevokePermissionRequest, ctx: RequestContext): Promise<AuthRoleRevokePermissionResponse> {
    return this.d.propose({ authRoleRevokePermission: req }, ctx);
  }

  // Reads: etcd sends them through the log; a linearizable read of the local store answers the
  // same (every entry before the read is applied) without writing anything.

  async userGet(req: AuthUserGetRequest, _ctx: RequestContext): Promise<AuthUserGetResponse> {
    await this.d.linearizableRead();
    const u = this.d.store().user(req.name);
    if (u === undefined) throw Errors.userNotFound;
    return create(AuthUserGetResponseSchema, { header: this.d.header(), roles: [...u.roles] });
  }

  async userList(_ctx: RequestContext): Promise<AuthUserListResponse> {
    await this.d.linearizableRead();
    return create(AuthUserListResponseSchema, { header: this.d.header(), users: this.d.store().userNames() });
  }

  async roleGet(req: AuthRoleGetRequest, _ctx: RequestContext): Promise<AuthRoleGetResponse> {
    await this.d.linearizableRead();
    const r = this.d.store().role(req.role);
    if (r === undefined) throw Errors.roleNotFound;
    const perm = r.perms.map((p) => create(PermissionSchema, { permType: p.type, key: fromKey(p.key), rangeEnd: fromKey(p.rangeEnd) }));
    return create(AuthRoleGetResponseSchema, { header: this.d.header(), perm });
  }

  async roleList(_ctx: RequestContext): Promise<AuthRoleListResponse> {
    await this.d.linearizableRead();
    return create(AuthRoleListResponseSchema, { header: this.d.header(), roles: this.d.store().roleNames() });
  }
}
