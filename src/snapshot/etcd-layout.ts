// etcd 3.4's backend layout: bucket names, how keys and values of each bucket are encoded.
// Observed in snapshots saved from Debian's etcd 3.4.23 (reference §5.9):
//
//   key             revision key → mvccpb.KeyValue (a tombstone: key 't'-suffixed, KeyValue{key})
//   meta            consistent_index → u64 BE; scheduledCompactRev, finishedCompactRev → revision key
//   lease           u64 BE lease ID → leasepb.Lease
//   members         member ID in hex (%x) → membership.Member as JSON
//   members_removed member ID in hex → "removed"
//   cluster         clusterVersion → "3.4.0"
//   alarm           marshaled etcdserverpb.AlarmMember → empty
//   auth            authRevision → u64 BE (authEnabled → 0x01 / 0x00 once auth was toggled)
//   authUsers       name → authpb.User;  authRoles: name → authpb.Role
//
// A revision key is 8-byte big-endian main revision, '_', 8-byte big-endian sub revision.
import type { MemberRecord } from "../membership/index.ts";
import { SnapshotError } from "./errors.ts";

const enc = new TextEncoder();

export const Buckets = {
  alarm: enc.encode("alarm"),
  auth: enc.encode("auth"),
  authRoles: enc.encode("authRoles"),
  authUsers: enc.encode("authUsers"),
  cluster: enc.encode("cluster"),
  key: enc.encode("key"),
  lease: enc.encode("lease"),
  members: enc.encode("members"),
  membersRemoved: enc.encode("members_removed"),
  meta: enc.encode("meta"),
} as const;

export const MetaKeys = {
  consistentIndex: enc.encode("consistent_index"),
  scheduledCompact: enc.encode("scheduledCompactRev"),
  finishedCompact: enc.encode("finishedCompactRev"),
} as const;

export const ClusterKeys = { clusterVersion: enc.encode("clusterVersion") } as const;
/** The cluster version a 3.4 member records. */
export const CLUSTER_VERSION = "3.4.0";

export const AuthKeys = {
  enabled: enc.encode("authEnabled"),
  revision: enc.encode("authRevision"),
} as const;

export { putRevisionKey, revisionKey, REVISION_KEY_SIZE } from "../mvcc/etcd-kv-bytes.ts";
import { REVISION_KEY_SIZE, TOMBSTONE_MARK } from "../mvcc/etcd-kv-bytes.ts";

export function u64be(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n)));
  return b;
}

export function readU64be(b: Uint8Array, where: string): bigint {
  if (b.length !== 8) throw new SnapshotError(`${where}: expected 8 bytes, found ${b.length}`);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
}

export interface RevisionKey {
  readonly main: number;
  readonly sub: number;
  readonly tombstone: boolean;
}

export function parseRevisionKey(b: Uint8Array, where: string): RevisionKey {
  const tomb = b.length === REVISION_KEY_SIZE + 1 && b[REVISION_KEY_SIZE] === TOMBSTONE_MARK;
  if (!(b.length === REVISION_KEY_SIZE || tomb) || b[8] !== 0x5f) throw new SnapshotError(`${where}: not a revision key (${b.length} bytes)`);
  const dv = new DataView(b.buffer, b.byteOffset, REVISION_KEY_SIZE);
  const main = Number(dv.getBigInt64(0));
  const sub = Number(dv.getBigInt64(9));
  if (!(Number.isSafeInteger(main) && main >= 0 && Number.isSafeInteger(sub) && sub >= 0)) throw new SnapshotError(`${where}: revision out of range`);
  return { main, sub, tombstone: tomb };
}

/**
 * Go's encoding/json of membership.Member: {"id":<uint64>,"peerURLs":[…],"isLearner":true,
 * "name":…,"clientURLs":[…]} with isLearner, name and clientURLs left out when empty.
 */
export function encodeMemberJson(m: MemberRecord): Uint8Array {
  const list = (xs: readonly string[]) => `[${xs.map(goJsonString).join(",")}]`;
  let s = `{"id":${m.id.toString()},"peerURLs":${list(m.peerURLs)}`;
  if (m.isLearner) s += `,"isLearner":true`;
  if (m.name !== "") s += `,"name":${goJsonString(m.name)}`;
  if (m.clientURLs.length > 0) s += `,"clientURLs":${list(m.clientURLs)}`;
  return enc.encode(`${s}}`);
}

/** A JSON string as Go's encoding/json writes it (HTML characters and U+2028/9 escaped). */
function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
