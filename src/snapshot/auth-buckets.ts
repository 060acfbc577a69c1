// etcd's auth buckets (auth, authUsers, authRoles) ⇄ the auth store's state: users (bcrypt
// hashes, roles, the no-password option), roles with their permissions, the auth-enabled flag
// and the auth revision move between an etcd image and Conclave's auth tables through here.
//
// The records are authpb bytes on both sides, encoded and decoded by src/auth (the same bytes
// etcd 3.4 writes: checked against Debian's etcd 3.4.23 in test/snapshot/etcd-auth.test.ts).
// The `auth` bucket holds authRevision (u64 BE) and, once auth was first enabled, authEnabled
// (1, or 0 after a disable); a store never enabled has no authEnabled key.
import { type BoltReader, type BucketRef, type BucketSource, compare, type KeyValuePair, latin1 } from "../bbolt/index.ts";
import { type AuthRole, type AuthState, type AuthUser, decodeRole, decodeUser, encodeRole, encodeUser } from "../auth/index.ts";
import { SnapshotError } from "./errors.ts";
import { AuthKeys, Buckets, readU64be, u64be } from "./etcd-layout.ts";
import { listSource } from "./sources.ts";

/** The auth store as a snapshot carries it (src/auth's AuthState). */
export type EtcdAuthState = AuthState;
export { FRESH_AUTH_STATE } from "../auth/index.ts";

const enc = new TextEncoder();

/**
 * Reads the auth buckets of an etcd image (missing buckets read as empty, a missing revision
 * as 1, where etcd's store starts). A record that does not decode, or whose bucket key is not
 * its name, is refused with a SnapshotError naming it.
 */
export function parseAuthBuckets(r: BoltReader, root: BucketRef): EtcdAuthState {
  let enabled = false;
  let enabledKey = false;
  let revision = 1;
  const auth = r.bucket(root, Buckets.auth);
  if (auth !== undefined) {
    for (const e of r.entries(auth)) {
      if (compare(e.key, AuthKeys.enabled) === 0) {
        if (e.value.length !== 1 || e.value[0]! > 1) throw new SnapshotError(`auth bucket: authEnabled is not 0 or 1`);
        enabled = e.value[0] === 1;
        enabledKey = true;
      } else if (compare(e.key, AuthKeys.revision) === 0) {
        const v = readU64be(e.value, "auth bucket: authRevision");
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SnapshotError("auth bucket: authRevision out of range");
        revision = Math.max(1, Number(v));
      }
    }
  }
  const users = records<AuthUser>(r, root, Buckets.authUsers, "authUsers", "user", "authpb.User", decodeUser);
  const roles = records<AuthRole>(r, root, Buckets.authRoles, "authRoles", "role", "authpb.Role", decodeRole);
  return { enabled, enabledKey, revision, users, roles };
}

function records<T extends { name: string }>(
  r: BoltReader,
  root: BucketRef,
  bucket: Uint8Array,
  bucketName: string,
  what: string,
  type: string,
  decode: (b: Uint8Array) => T,
): T[] {
  const out: T[] = [];
  const ref = r.bucket(root, bucket);
  if (ref === undefined) return out;
  for (const e of r.entries(ref)) {
    const where = `${bucketName} bucket: ${what} ${JSON.stringify(latin1(e.key))}`;
    let x: T;
    try {
      x = decode(e.value);
    } catch (err) {
      throw new SnapshotError(`${where}: malformed ${type} (${(err as Error).message})`);
    }
    if (compare(enc.encode(x.name), e.key) !== 0) throw new SnapshotError(`${where}: holds ${what} ${JSON.stringify(x.name)}`);
    out.push(x);
  }
  return out;
}

/** The auth, authRoles and authUsers buckets of an image holding `state`. */
export function authBucketSources(state: EtcdAuthState): BucketSource[] {
  const auth: KeyValuePair[] = [];
  if (state.enabled || state.enabledKey === true) auth.push({ key: AuthKeys.enabled, value: Uint8Array.of(state.enabled ? 1 : 0) });
  auth.push({ key: AuthKeys.revision, value: u64be(state.revision) });
  const record = <T extends { name: string }>(x: T, encode: (x: T) => Uint8Array): KeyValuePair => ({ key: enc.encode(x.name), value: encode(x) });
  return [
    listSource(Buckets.auth, auth),
    listSource(Buckets.authRoles, state.roles.map((x) => record(x, encodeRole))),
    listSource(Buckets.authUsers, state.users.map((x) => record(x, encodeUser))),
  ];
}
