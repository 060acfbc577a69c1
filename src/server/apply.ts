// Applies one decoded log entry (InternalRaftRequest) to the state: the response message,
// or an EtcdError that the proposer returns to its caller. Deterministic: the same
// entries give the same state on every member (the clock only moves lease deadlines).
//
// etcd's applier chain, one dispatch: corrupt (a CORRUPT alarm refuses the data requests) →
// capped (NOSPACE alarm refuses what adds data) → auth
// (the request header's identity against the auth store, at this log position) → quota
// (a write that took the store past its quota is reported as NOSPACE) → backend.
import type { LeaseCounters } from "./lease-counters.ts";
import type { InternalRaftRequest } from "../gen/internal_pb.ts";
import {
  AlarmRequest_AlarmAction as AlarmAction,
  AlarmType,
  type AlarmResponse,
  type CompactionResponse,
  type LeaseCheckpointResponse,
  type LeaseGrantResponse,
  type LeaseRevokeResponse,
  type Member,
} from "../gen/rpc_pb.ts";
import type { InStatement } from "../storage/sql-db.ts";
import { MAX_LEASE_TTL } from "../lease/index.ts";
import type { AlarmSet } from "./apply-alarm.ts";
import {
  applyDeleteRange,
  applyPut,
  applyTxn,
  doRange,
  type KvContext,
  mapRevisionError,
  type Step,
  txnHasPut,
  txnReadsHistory,
} from "./apply-kv.ts";
import type { AuthStore } from "../auth/index.ts";
import { Errors, isEtcdError } from "../rpctypes/index.ts";
import { applyAuthRequest } from "./apply-auth.ts";

export interface ApplyContext extends KvContext {
  readonly alarms: AlarmSet;
  /** etcd's lease counters (/metrics). */
  readonly leaseCounters: LeaseCounters;
  /** The auth stage (absent: no auth store, every request passes). */
  readonly authStage?: ApplyStage;
  /** The auth store auth requests change. */
  readonly authStore?: AuthStore;
  /** The log index of the entry being applied (a simple token names it). */
  readonly index: number;
  /** A simple token was issued at this entry: every member registers it. */
  readonly tokenIssued?: (token: string, user: string) => void;
  /** True when applying r would take the store past its quota (etcd's quota applier). */
  readonly overQuota?: (r: InternalRaftRequest) => boolean;
  /** Records a compaction (the state machine deletes superseded rows in the background). */
  readonly scheduleCompaction: (revision: number) => void;
  /** Membership's writer for published member attributes (absent: ignored). */
  readonly memberAttrs?: (m: Member, out: InStatement[]) => void;
}

/** True when applying r may read history (it then needs the batch so far on disk). */
export function needsHistory(r: InternalRaftRequest): boolean {
  if (r.range !== undefined) return r.range.revision > 0n;
  if (r.txn !== undefined) return txnReadsHistory(r.txn);
  return false;
}

/** One stage of the chain: decides, or hands the request to the next stage. */
export type ApplyStage = (ctx: ApplyContext, r: InternalRaftRequest, next: (r: InternalRaftRequest) => Step<unknown>) => Step<unknown>;

/**
 * The request as a step: synchronous unless it yields history reads. Errors are
 * returned as values (EtcdError); anything else thrown is a bug and stops the member.
 */
export function* applyRequest(ctx: ApplyContext, r: InternalRaftRequest): Step<unknown> {
  try {
    return yield* capped(ctx, r);
  } catch (e) {
    const m = mapRevisionError(e);
    if (isEtcdError(m)) return m;
    throw e;
  }
}

/**
 * etcd's applierV3Corrupt, then applierV3Capped: while CORRUPT is raised (by any member) the
 * data requests fail; while NOSPACE is raised, what adds data is refused.
 */
function* capped(ctx: ApplyContext, r: InternalRaftRequest): Step<unknown> {
  if (ctx.alarms.has(AlarmType.CORRUPT)) {
    if (r.put !== undefined || r.deleteRange !== undefined || r.txn !== undefined || r.range !== undefined) return Errors.corrupt;
    if (r.compaction !== undefined || r.leaseGrant !== undefined || r.leaseRevoke !== undefined) return Errors.corrupt;
  }
  if (ctx.alarms.has(AlarmType.NOSPACE)) {
    if (r.put !== undefined || r.leaseGrant !== undefined) return Errors.noSpace;
    if (r.txn !== undefined && txnHasPut(r.txn)) return Errors.noSpace;
  }
  if (ctx.authStage !== undefined) return yield* ctx.authStage(ctx, r, (req) => quota(ctx, req));
  return yield* quota(ctx, r);
}

/**
 * etcd's quotaApplierV3: a write that takes the store past its quota is still applied (the
 * state stays the same on every member, whatever each one's file size) and reported as
 * NOSPACE to its proposer.
 */
function* quota(ctx: ApplyContext, r: InternalRaftRequest): Step<unknown> {
  const over = ctx.overQuota?.(r) ?? false;
  const res = yield* backend(ctx, r);
  return over && !isEtcdError(res) ? Errors.noSpace : res;
}

function* backend(ctx: ApplyContext, r: InternalRaftRequest): Step<unknown> {
  if (r.put !== undefined) return applyPut(ctx, r.put);
  if (r.deleteRange !== undefined) return applyDeleteRange(ctx, r.deleteRange);
  if (r.txn !== undefined) return yield* applyTxn(ctx, r.txn);
  if (r.range !== undefined) {
    const rev = ctx.store.revision;
    const res = yield* doRange(ctx, r.range, rev);
    res.header = ctx.header(rev);
    return res;
  }
  if (r.compaction !== undefined) return applyCompaction(ctx, Number(r.compaction.revision));
  if (r.leaseGrant !== undefined) return applyLeaseGrant(ctx, r.leaseGrant.ID, Number(r.leaseGrant.TTL));
  if (r.leaseRevoke !== undefined) {
    if (ctx.lessor.get(r.leaseRevoke.ID) === undefined) return Errors.leaseNotFound;
    return revokeLease(ctx, r.leaseRevoke.ID);
  }
  if (r.leaseExpire !== undefined) {
    // The leader checked the deadlines before proposing; every member revokes the leases
    // that still exist, so the outcome does not depend on each member's clock.
    let last: LeaseRevokeResponse | undefined;
    for (const id of r.leaseExpire.IDs) if (ctx.lessor.get(id) !== undefined) last = revokeLease(ctx, id);
    return last ?? { $typeName: "etcdserverpb.LeaseRevokeResponse", header: ctx.header(ctx.store.revision) };
  }
  if (r.leaseCheckpoint !== undefined) {
    for (const c of r.leaseCheckpoint.checkpoints) ctx.lessor.checkpoint(c.ID, Number(c.remainingTTL), ctx.stmts);
    const res: LeaseCheckpointResponse = { $typeName: "etcdserverpb.LeaseCheckpointResponse", header: ctx.header(ctx.store.revision) };
    return res;
  }
  if (r.alarm !== undefined) return applyAlarm(ctx, r.alarm.action, r.alarm.memberID, r.alarm.alarm);
  if (r.memberAttrs !== undefined) {
    ctx.memberAttrs?.(r.memberAttrs, ctx.stmts);
    return undefined;
  }
  return applyAuthRequest(ctx, r);
}

function applyCompaction(ctx: ApplyContext, rev: number): CompactionResponse {
  const s = ctx.store;
  if (rev <= s.compactRevision) throw Errors.compacted;
  if (rev > s.revision) throw Errors.futureRev;
  ctx.scheduleCompaction(rev);
  return { $typeName: "etcdserverpb.CompactionResponse", header: ctx.header(s.revision) };
}

function applyLeaseGrant(ctx: ApplyContext, id: bigint, ttl: number): LeaseGrantResponse {
  if (id === 0n) throw new Error("apply: lease grant with ID 0 (the proposer assigns IDs)");
  if (ctx.lessor.get(id) !== undefined) throw Errors.leaseExist;
  if (ttl > MAX_LEASE_TTL) throw Errors.leaseTTLTooLarge;
  const l = ctx.lessor.grant(id, ttl, ctx.stmts);
  ctx.leaseCounters.grant(l.ttl);
  return {
    $typeName: "etcdserverpb.LeaseGrantResponse",
    header: ctx.header(ctx.store.revision),
    ID: id,
    TTL: BigInt(l.ttl),
    error: "",
  };
}

/** Revokes a known lease: its keys are deleted in one revision (none: no new revision). */
function revokeLease(ctx: ApplyContext, id: bigint): LeaseRevokeResponse {
  const l = ctx.lessor.revoke(id, ctx.stmts);
  if (l === undefined) throw new Error("apply: revoke of unknown lease");
  ctx.leaseCounters.revoked.value++;
  const txn = ctx.store.beginWrite();
  for (const k of [...l.keys].sort()) {
    const kv = ctx.store.index.get(k);
    // Invariant: a lease's key set holds exactly the live keys attached to it.
    if (kv === undefined || kv.lease !== id) throw new Error(`apply: lease ${id} lists a key it does not hold`);
    txn.deleteKey(kv);
  }
  const rev = txn.end();
  return { $typeName: "etcdserverpb.LeaseRevokeResponse", header: ctx.header(rev) };
}

function applyAlarm(ctx: ApplyContext, action: AlarmAction, memberId: bigint, alarm: AlarmType): AlarmResponse {
  // etcd's AlarmResponse is sent without a header.
  const res: AlarmResponse = { $typeName: "etcdserverpb.AlarmResponse", header: undefined, alarms: [] };
  switch (action) {
    case AlarmAction.GET:
      res.alarms = ctx.alarms.get(alarm);
      break;
    case AlarmAction.ACTIVATE: {
      const m = ctx.alarms.activate(memberId, alarm, ctx.stmts);
      if (m !== undefined) res.alarms.push(m);
      break;
    }
    case AlarmAction.DEACTIVATE: {
      const m = ctx.alarms.deactivate(memberId, alarm, ctx.stmts);
      if (m !== undefined) res.alarms.push(m);
      break;
    }
  }
  return res;
}
