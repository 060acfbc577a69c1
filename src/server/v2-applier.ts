// The v2 applier (etcd's applierV2store): a replicated v2 Request applied to the store in log
// order, and the membership mirror etcd keeps under "/0" (members' raft attributes and
// attributes, removed members, the cluster version). Deterministic: every member applies the
// same entries to the same store; expiry times come from the request.
import type { Request as V2Request } from "../gen/etcdserver_pb.ts";
import type { Member } from "../gen/rpc_pb.ts";
import { hexId } from "../membership/ids.ts";
import type { MemberRecord, MembershipEvent } from "../membership/members.ts";
import { V2Code, V2Error } from "../rpctypes/v2.ts";
import { PERMANENT, type TtlOptions, type V2Event, type V2Store } from "../v2store/index.ts";

/** Where etcd keeps the cluster's membership and version in the v2 store. */
export const STORE_MEMBERS = "/0/members";
export const STORE_REMOVED = "/0/removed_members";
export const STORE_VERSION = "/0/version";

const NS_PER_MS = 1_000_000n;

/** The request's TTL options: Expiration is Unix ns (0 = none), refresh as given. */
export function ttlOptions(r: V2Request): TtlOptions {
  const expireTime = r.expiration === 0n ? PERMANENT : Number(r.expiration / NS_PER_MS);
  return r.refresh === true ? { expireTime, refresh: true } : { expireTime };
}

/**
 * Applies one v2 request: the event, undefined (SYNC, cluster version), or the V2Error the
 * proposer answers with. Anything else thrown is a bug and stops the member.
 */
export function applyV2Request(store: V2Store, r: V2Request): V2Event | V2Error | undefined {
  try {
    switch (r.method) {
      case "POST":
        return store.create(r.path, r.dir, r.val, true, ttlOptions(r));
      case "PUT":
        return applyPut(store, r);
      case "DELETE":
        if (r.prevIndex > 0n || r.prevValue !== "") return store.compareAndDelete(r.path, r.prevValue, Number(r.prevIndex));
        return store.delete(r.path, r.dir, r.recursive);
      case "QGET":
        return store.get(r.path, r.recursive, r.sorted);
      case "SYNC":
        store.deleteExpiredKeys(Number(r.time / NS_PER_MS));
        return undefined;
      default:
        return new V2Error(V2Code.RaftInternal, "etcdserver: unknown method", 0);
    }
  } catch (e) {
    if (e instanceof V2Error) return e;
    throw e;
  }
}

function applyPut(store: V2Store, r: V2Request): V2Event | undefined {
  const ttl = ttlOptions(r);
  const prevIndex = Number(r.prevIndex);
  if (r.prevExist !== undefined) {
    if (r.prevExist) {
      if (prevIndex === 0 && r.prevValue === "") return store.update(r.path, r.val, ttl);
      return store.compareAndSwap(r.path, r.prevValue, prevIndex, r.val, ttl);
    }
    return store.create(r.path, r.dir, r.val, false, ttl);
  }
  if (prevIndex > 0 || r.prevValue !== "") return store.compareAndSwap(r.path, r.prevValue, prevIndex, r.val, ttl);
  if (r.path === STORE_VERSION) {
    // etcd sets the cluster version and answers nothing.
    store.set(r.path, false, r.val, { expireTime: PERMANENT });
    return undefined;
  }
  return store.set(r.path, r.dir, r.val, ttl);
}

// ---- the membership mirror ------------------------------------------------------------------

/** etcd's RaftAttributes JSON. */
function raftAttributes(m: MemberRecord): string {
  return JSON.stringify(m.isLearner ? { peerURLs: m.peerURLs, isLearner: true } : { peerURLs: m.peerURLs });
}

/** etcd's Attributes JSON (both fields omitted when empty). */
function attributes(name: string, clientURLs: readonly string[]): string {
  const a: { name?: string; clientURLs?: readonly string[] } = {};
  if (name !== "") a.name = name;
  if (clientURLs.length > 0) a.clientURLs = clientURLs;
  return JSON.stringify(a);
}

/**
 * A conf change as etcd writes it into the v2 store: a new member's raft attributes; a removed
 * member's directory deleted and a marker under removed_members; updated (or promoted) raft
 * attributes. Where the tree does not hold what etcd would expect (a state file from before the
 * store existed), the change is recorded as far as it can be instead of stopping the member.
 */
export function mirrorMembership(store: V2Store, ev: MembershipEvent): void {
  const permanent = { expireTime: PERMANENT };
  try {
    switch (ev.kind) {
      case "added":
        store.create(`${STORE_MEMBERS}/${hexId(ev.member.id)}/raftAttributes`, false, raftAttributes(ev.member), false, permanent);
        return;
      case "updated":
      case "promoted":
        store.update(`${STORE_MEMBERS}/${hexId(ev.member.id)}/raftAttributes`, raftAttributes(ev.member), permanent);
        return;
      case "removed":
        if (store.exists(`${STORE_MEMBERS}/${hexId(ev.id)}`)) store.delete(`${STORE_MEMBERS}/${hexId(ev.id)}`, true, true);
        store.create(`${STORE_REMOVED}/${hexId(ev.id)}`, false, "", false, permanent);
        return;
      case "none":
        return;
    }
  } catch (e) {
    if (!(e instanceof V2Error)) throw e;
  }
}

/** A member published its name and client URLs (etcd's UpdateAttributes: members only). */
export function mirrorAttributes(store: V2Store, m: Member): void {
  const dir = `${STORE_MEMBERS}/${hexId(m.ID)}`;
  if (!store.exists(`${dir}/raftAttributes`)) return;
  store.set(`${dir}/attributes`, false, attributes(m.name, m.clientURLs), { expireTime: PERMANENT });
}
