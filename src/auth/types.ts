// The auth store's records, in memory (etcd's authpb.User and authpb.Role). Keys and names
// are latin1 strings for keys (one char per byte, so string order is byte order) and plain
// strings for user and role names.

/** authpb.Permission.Type. */
export const PermType = { READ: 0, WRITE: 1, READWRITE: 2 } as const;
export type PermType = (typeof PermType)[keyof typeof PermType];

export interface AuthPerm {
  readonly type: PermType;
  /** latin1 key bytes. */
  readonly key: string;
  /** latin1; "" = the single key, "\0" = open-ended. */
  readonly rangeEnd: string;
}

export interface AuthRole {
  readonly name: string;
  /** Sorted by key (etcd keeps them so). */
  readonly perms: readonly AuthPerm[];
}

export interface AuthUser {
  readonly name: string;
  /** The bcrypt hash as stored (authpb.User.password); empty for a password-less user. */
  readonly password: string;
  /** Sorted role names. */
  readonly roles: readonly string[];
  readonly noPassword: boolean;
}

export const ROOT_USER = "root";
export const ROOT_ROLE = "root";

/**
 * The whole store as one value (what a snapshot carries): etcd's auth, authUsers and authRoles
 * buckets.
 */
export interface AuthState {
  readonly enabled: boolean;
  /**
   * etcd's `authEnabled` key exists: written at the first enable, set to 0 by a disable, absent
   * on a store never enabled. Implied by `enabled`.
   */
  readonly enabledKey?: boolean;
  /** The auth revision: 1 on a fresh store, +1 per change of users, roles or permissions. */
  readonly revision: number;
  /** In name (byte) order. */
  readonly users: readonly AuthUser[];
  readonly roles: readonly AuthRole[];
}

/** What a new etcd member has: revision 1, no users or roles, no authEnabled key. */
export const FRESH_AUTH_STATE: AuthState = { enabled: false, revision: 1, users: [], roles: [] };
