// etcd's auth buckets (auth, authUsers, authRoles) as one typed value: the seam through which
// users, roles, permissions, the auth-enabled flag and the auth revision move between an etcd
// image and Conclave's auth store.
//
// Reading: parseAuthBuckets turns an image's buckets into an EtcdAuthState.
// Writing: authBucketSources turns an EtcdAuthState into the three buckets of an image;
// FRESH_AUTH_STATE is what a new etcd member has (authRevision 1, no users or roles, and no
// authEnabled key: etcd writes that key only once auth is enabled).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type BoltReader, type BucketRef, type BucketSource, compare, type KeyValuePair } from "../bbolt/index.ts";
import { type Permission_Type, PermissionSchema, RoleSchema, UserAddOptionsSchema, UserSchema } from "../gen/auth_pb.ts";
import { SnapshotError } from "./errors.ts";
import { AuthKeys, Buckets, readU64be, u64be } from "./etcd-layout.ts";
import { listSource } from "./sources.ts";

export interface EtcdPermission {
  /** authpb.Permission.Type: READ = 0, WRITE = 1, READWRITE = 2. */
  readonly permType: Permission_Type;
  readonly key: Uint8Array;
  /** Empty = the single key; "\0" = every key from `key` on. */
  readonly rangeEnd: Uint8Array;
}

export interface EtcdRole {
  readonly name: string;
  /** Sorted by key, as etcd keeps them. */
  readonly permissions: readonly EtcdPermission[];
}

export interface EtcdUser {
  readonly name: string;
  /** The bcrypt hash etcd stores (empty for a user created with --no-password). */
  readonly password: string;
  /** Sorted, as etcd keeps them. */
  readonly roles: readonly string[];
  readonly noPassword: boolean;
}

export interface EtcdAuthState {
  readonly enabled: boolean;
  /** etcd's auth revision: 1 on a fresh store, +1 per user/role change. */
  readonly revision: number;
  readonly users: readonly EtcdUser[];
  readonly roles: readonly EtcdRole[];
}

export const FRESH_AUTH_STATE: EtcdAuthState = { enabled: false, revision: 1, users: [], roles: [] };

const dec = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();

function text(b: Uint8Array, where: string): string {
  try {
    return dec.decode(b);
  } catch {
    throw new SnapshotError(`${where}: not valid UTF-8`);
  }
}

/** Reads the auth buckets of an etcd image (missing buckets read as empty). */
export function parseAuthBuckets(r: BoltReader, root: BucketRef): EtcdAuthState {
  let enabled = false;
  let revision = 0;
  const auth = r.bucket(root, Buckets.auth);
  if (auth !== undefined) {
    for (const e of r.entries(auth)) {
      if (compare(e.key, AuthKeys.enabled) === 0) {
        if (e.value.length !== 1 || e.value[0]! > 1) throw new SnapshotError(`auth bucket: authEnabled is not 0 or 1`);
        enabled = e.value[0] === 1;
      } else if (compare(e.key, AuthKeys.revision) === 0) {
        const v = readU64be(e.value, "auth bucket: authRevision");
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SnapshotError("auth bucket: authRevision out of range");
        revision = Number(v);
      }
    }
  }
  const users: EtcdUser[] = [];
  const ub = r.bucket(root, Buckets.authUsers);
  if (ub !== undefined) {
    for (const e of r.entries(ub)) {
      const where = `authUsers bucket: user ${JSON.stringify(text(e.key, "authUsers bucket"))}`;
      let u;
      try {
        u = fromBinary(UserSchema, e.value);
      } catch (err) {
        throw new SnapshotError(`${where}: malformed authpb.User (${(err as Error).message})`);
      }
      users.push({ name: text(u.name, where), password: text(u.password, where), roles: [...u.roles], noPassword: u.options?.noPassword ?? false });
    }
  }
  const roles: EtcdRole[] = [];
  const rb = r.bucket(root, Buckets.authRoles);
  if (rb !== undefined) {
    for (const e of r.entries(rb)) {
      const where = `authRoles bucket: role ${JSON.stringify(text(e.key, "authRoles bucket"))}`;
      let role;
      try {
        role = fromBinary(RoleSchema, e.value);
      } catch (err) {
        throw new SnapshotError(`${where}: malformed authpb.Role (${(err as Error).message})`);
      }
      roles.push({
        name: text(role.name, where),
        permissions: role.keyPermission.map((p) => ({ permType: p.permType, key: p.key, rangeEnd: p.rangeEnd })),
      });
    }
  }
  return { enabled, revision, users, roles };
}

/** The auth, authRoles and authUsers buckets of an image holding `state`. */
export function authBucketSources(state: EtcdAuthState): BucketSource[] {
  const auth: KeyValuePair[] = [];
  if (state.enabled) auth.push({ key: AuthKeys.enabled, value: Uint8Array.of(1) });
  auth.push({ key: AuthKeys.revision, value: u64be(state.revision) });
  const byName = <T extends { name: string }>(xs: readonly T[]) => [...xs].sort((a, b) => compare(enc.encode(a.name), enc.encode(b.name)));
  const roles = byName(state.roles).map((r) => ({
    key: enc.encode(r.name),
    value: toBinary(
      RoleSchema,
      create(RoleSchema, {
        name: enc.encode(r.name),
        keyPermission: r.permissions.map((p) => create(PermissionSchema, { permType: p.permType, key: p.key, rangeEnd: p.rangeEnd })),
      }),
    ),
  }));
  const users = byName(state.users).map((u) => ({
    key: enc.encode(u.name),
    value: toBinary(
      UserSchema,
      create(UserSchema, {
        name: enc.encode(u.name),
        password: enc.encode(u.password),
        roles: [...u.roles],
        options: create(UserAddOptionsSchema, { noPassword: u.noPassword }),
      }),
    ),
  }));
  return [listSource(Buckets.auth, auth), listSource(Buckets.authRoles, roles), listSource(Buckets.authUsers, users)];
}
