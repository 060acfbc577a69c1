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
