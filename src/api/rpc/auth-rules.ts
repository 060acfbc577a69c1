// Who may call an RPC when auth is on: one rule per method, declared beside it in the RPC
// table and enforced by the request pipeline (src/api/pipeline/authorize.ts). The rules are
// those of etcd's latest 3.4 patch release (3.4.45), whose 2026 security releases guarded the
// endpoints older releases left open; each row of table.ts names its source.

import type { EtcdServer, Perm } from "../../server/types.ts";

export type AuthRule<Req = unknown> =
  /** Nothing to check (Authenticate, the health service). `why` says why, for reviewers. */
  | { readonly kind: "open"; readonly why: string }
  /** Any identity: a valid token or certificate CN (etcd's requireAuthInfo). */
  | { readonly kind: "user" }
  /**
   * Role root (etcd's IsAdminPermitted). `raw`: the failure keeps the auth store's own text
   * as gRPC Unknown ("auth: permission denied"), as etcd 3.4's Defragment, Snapshot, Hash and
   * HashKV return it.
   */
  | { readonly kind: "admin"; readonly raw?: boolean }
  /**
   * Permission on keys checked on this member before the call, and the call's answer refused
   * with "revision of auth store is old" if the auth store changed meanwhile (etcd's
   * doSerialize, used for Range).
   */
  | { readonly kind: "keys"; readonly perm: Perm; readonly keys: (req: Req) => readonly [Uint8Array, Uint8Array] }
  /**
   * Proposed through the log with the caller's identity in the request header; the auth
   * applier decides at the entry's log position, identically on every member (etcd's
   * authApplierV3). Identity errors (bad token) are returned before proposing; `user`: an
   * identity is required before proposing too (etcd's requireAuthInfo).
   */
  | { readonly kind: "apply"; readonly user?: boolean }
  /**
   * The method makes KV, Lease and Watch calls of its own (Lock, Election): each of them is
   * checked under its own rule with the caller's identity, resolved here.
   */
  | { readonly kind: "delegated" }
  /** The rule depends on the request (Alarm: GET for users, the rest for admins). */
  | { readonly kind: "choose"; readonly pick: (req: Req) => AuthRule<Req> }
  /** Admin, or the user named in the request (UserGet of oneself). */
  | { readonly kind: "self"; readonly name: (req: Req) => string }
  /** Admin, or a holder of the role named in the request (RoleGet). */
  | { readonly kind: "role-holder"; readonly role: (req: Req) => string }
  /**
   * Any identity, and then `perm` on every key attached to the given leases unless admin;
   * refused with "revision of auth store is old" if the store changed during the call
   * (etcd 3.4.42+ checkLeaseTimeToLive, checkLeaseLeases).
   */
  | { readonly kind: "lease-keys"; readonly perm: Perm; readonly leases: (server: EtcdServer, req: Req) => readonly bigint[] }
  /** Per LeaseKeepAlive message: WRITE on every key of that lease unless admin (checkLeaseRenew). */
  | { readonly kind: "keepalive" }
  /** Per watch create: READ on its range; open watchers are checked again on every auth change. */
  | { readonly kind: "watch" };

/** A rule whose request type is erased (the pipeline applies rules to any request). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRule = AuthRule<any>;

export const open = (why: string): AnyRule => ({ kind: "open", why });
export const user: AnyRule = { kind: "user" };
export const admin: AnyRule = { kind: "admin" };
export const adminRaw: AnyRule = { kind: "admin", raw: true };
export const applied: AnyRule = { kind: "apply" };
export const delegated: AnyRule = { kind: "delegated" };
