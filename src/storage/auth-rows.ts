// The auth tables as rows (etcd's auth, authUsers and authRoles buckets): how the state machine
// loads them, how a read view and the bulk writer move them. Users and roles are kept as the
// authpb bytes etcd's buckets hold; src/auth encodes and decodes them.

/**
 * auth_meta.enabled holds etcd's `authEnabled` key. etcd writes that key the first time auth is
 * enabled (value 1) and sets it to 0 when auth is disabled; a store that was never enabled has
 * no such key (observed on etcd 3.4.23). Three states, so that an image carries the same keys.
 */
export const AuthEnabledFlag = { absent: 0, on: 1, off: 2 } as const;
export type AuthEnabledFlag = (typeof AuthEnabledFlag)[keyof typeof AuthEnabledFlag];

export interface AuthRecord {
  readonly name: string;
  /** authpb.User or authpb.Role, as etcd's bucket holds it under `name`. */
  readonly data: Uint8Array;
}

export interface AuthTableRows {
  /** The auth_meta row; undefined while the store was never changed (revision 1, no authEnabled). */
  readonly meta: { readonly enabled: AuthEnabledFlag; readonly revision: number } | undefined;
  /** In name (byte) order, as etcd's buckets list them. */
  readonly users: readonly AuthRecord[];
  readonly roles: readonly AuthRecord[];
}

/** The three reads that make AuthTableRows (authTableRows turns their rows into the value). */
export const AUTH_ROWS_SQL = {
  meta: "SELECT enabled, revision FROM auth_meta WHERE id = 1",
  users: "SELECT name, data FROM auth_users ORDER BY name",
  roles: "SELECT name, data FROM auth_roles ORDER BY name",
} as const;

/** AuthTableRows from the rows of the AUTH_ROWS_SQL reads (each row an array of columns). */
export function authTableRows(meta: readonly unknown[] | undefined, users: readonly (readonly unknown[])[], roles: readonly (readonly unknown[])[]): AuthTableRows {
  const record = (r: readonly unknown[]): AuthRecord => ({ name: r[0] as string, data: blobOf(r[1]) });
  let m: AuthTableRows["meta"];
  if (meta !== undefined) {
    const flag = Number(meta[0]);
    if (flag !== AuthEnabledFlag.absent && flag !== AuthEnabledFlag.on && flag !== AuthEnabledFlag.off) throw new Error(`state: auth_meta.enabled is ${flag}`);
    m = { enabled: flag, revision: Number(meta[1]) };
  }
  return { meta: m, users: users.map(record), roles: roles.map(record) };
}

function blobOf(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new Error(`state: auth record is ${typeof v}, not a blob`);
}
