// Put, DeleteRange, Range and Txn applied to the MVCC store, with etcd 3.4's checks and
// response shapes. A txn's branch path is decided on the state before the txn (etcd's
// compareToPath) and every op on it is checked before any write, so a failing txn writes
// nothing. Ranges at an older revision read history: they are the only async step, and
// run as a generator so the common all-in-memory case stays synchronous.
import type { InStatement } from "../storage/sql-db.ts";
import {
  Compare_CompareResult as CmpResult,
  Compare_CompareTarget as CmpTarget,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from "../gen/rpc_pb.ts";
import {
  compareBytes,
  keyRange,
  type KeyRange,
  type KeyState,
  type MvccStore,
  RevisionError,
  selectRange,
  toKey,
  toKeyValue,
  type WriteTxn,
} from "../mvcc/index.ts";
import type { Lessor } from "../lease/index.ts";
import { Errors } from "../rpctypes/index.ts";
import type { KvCounters } from "./kv-counters.ts";

export interface KvContext {
  readonly store: MvccStore;
  readonly lessor: Lessor;
  readonly header: (revision: number) => ResponseHeader;
  /** etcd's mvcc counters (/metrics). */
  readonly counters: KvCounters;
  /** Non-kv statements of the current batch (leases, alarms). */
  readonly stmts: InStatement[];
}

/** A history read requested by the txn generator: yields back the key states. */
export interface HistoryRead {
  readonly range: KeyRange;
  readonly revision: number;
}
export type Step<T> = Generator<HistoryRead, T, KeyState[]>;

export function revisionHeader(revision: number): ResponseHeader {
  return { $typeName: "etcdserverpb.ResponseHeader", clusterId: 0n, memberId: 0n, revision: BigInt(revision), raftTerm: 0n };
}

export function emptyHeader(): ResponseHeader {
  return { $typeName: "etcdserverpb.ResponseHeader", clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n };
}

export function mapRevisionError(e: unknown): unknown {
  if (e instanceof RevisionError) return e.kind === "compacted" ? Errors.compacted : Errors.futureRev;
  return e;
}

// ---- checks (before any write) ----

function checkPut(ctx: KvContext, p: PutRequest): void {
  if (p.lease !== 0n && ctx.lessor.get(p.lease) === undefined) throw Errors.leaseNotFound;
  if (p.ignoreValue || p.ignoreLease) {
    if (ctx.store.index.get(toKey(p.key)) === undefined) throw Errors.keyNotFound;
  }
}

// ---- single requests ----

export function applyPut(ctx: KvContext, p: PutRequest): PutResponse {
  // etcd's Put reads the previous pair in the same store transaction when it needs it.
  ctx.counters.ended(p.prevKv || p.ignoreValue || p.ignoreLease ? 1 : 0, 1, 0);
  checkPut(ctx, p);
  const txn = ctx.store.beginWrite();
  const res = doPut(ctx, txn, p);
  const rev = txn.end();
  res.header = ctx.header(rev);
  return res;
}

function doPut(ctx: KvContext, txn: WriteTxn, p: PutRequest): PutResponse {
  const k = toKey(p.key);
  const prev = ctx.store.index.get(k);
  let value = p.value;
  let lease = p.lease;
  if (p.ignoreValue || p.ignoreLease) {
    // Invariant: checkPut saw the key; a txn cannot delete and then put it (duplicate key).
    if (prev === undefined) throw Errors.keyNotFound;
    if (p.ignoreValue) value = prev.value;
    if (p.ignoreLease) lease = prev.lease;
  }
  txn.put(p.key, k, value, lease);
  if (prev !== undefined && prev.lease !== lease) ctx.lessor.detach(prev.lease, k);
  ctx.lessor.attach(lease, k);
  return {
    $typeName: "etcdserverpb.PutResponse",
    header: undefined,
    prevKv: p.prevKv && prev !== undefined ? toKeyValue(prev) : undefined,
  };
}

export function applyDeleteRange(ctx: KvContext, d: DeleteRangeRequest): DeleteRangeResponse {
  ctx.counters.ended(d.prevKv ? 1 : 0, 0, 1);
  const txn = ctx.store.beginWrite();
  const res = doDelete(ctx, txn, d);
  const rev = txn.end();
  res.header = ctx.header(rev);
  return res;
}

function doDelete(ctx: KvContext, txn: WriteTxn, d: DeleteRangeRequest): DeleteRangeResponse {
  const deleted = txn.deleteRange(keyRange(d.key, d.rangeEnd));
  for (const v of deleted) ctx.lessor.detach(v.lease, v.k);
  return {
    $typeName: "etcdserverpb.DeleteRangeResponse",
    header: undefined,
    deleted: BigInt(deleted.length),
    prevKvs: d.prevKv ? deleted.map((v) => toKeyValue(v)) : [],
  };
}

/** A range at `current` (the txn's read revision, or the store's). */
export function* doRange(ctx: KvContext, r: RangeRequest, current: number): Step<RangeResponse> {
  const kr = keyRange(r.key, r.rangeEnd);
  const asked = Number(r.revision);
  let out;
  if (asked <= 0 || asked === current) {
    out = selectRange(ctx.store.index.range(kr), r, () => ctx.store.index.count(kr));
  } else {
    if (asked > current) throw Errors.futureRev;
    if (asked < ctx.store.compactRevision) throw Errors.compacted;
    const states = yield { range: kr, revision: asked };
    out = selectRange(states, r);
  }
  return {
    $typeName: "etcdserverpb.RangeResponse",
    header: undefined,
    kvs: out.kvs,
    more: out.more,
    count: BigInt(out.count),
  };
}

// ---- txn ----

/** True when the txn (any branch, nested) has a range at an explicit revision. */
export function txnReadsHistory(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    const r = op.request;
    if (r.case === "requestRange" && r.value.revision > 0n) return true;
    if (r.case === "requestTxn" && txnReadsHistory(r.value)) return true;
  }
  return false;
}

/** True when the txn (any branch, nested) has a put: NOSPACE blocks it. */
export function txnHasPut(t: TxnRequest): boolean {
  for (const op of [...t.success, ...t.failure]) {
    const r = op.request;
    if (r.case === "requestPut") return true;
    if (r.case === "requestTxn" && txnHasPut(r.value)) return true;
  }
  return false;
}

interface TxnPath {
  readonly succeeded: boolean;
  readonly nested: TxnPath[]; // one per requestTxn op of the chosen branch, in order
}

function comparePath(ctx: KvContext, t: TxnRequest, tally: OpTally): TxnPath {
  const succeeded = t.compare.every((c) => {
    tally.compares++;
    return applyCompare(ctx, c);
  });
  const nested: TxnPath[] = [];
  for (const op of succeeded ? t.success : t.failure) {
    if (op.request.case === "requestTxn") nested.push(comparePath(ctx, op.request.value, tally));
  }
  return { succeeded, nested };
}

function checkPath(ctx: KvContext, t: TxnRequest, path: TxnPath): void {
  let n = 0;
  for (const op of path.succeeded ? t.success : t.failure) {
    const r = op.request;
    if (r.case === "requestPut") checkPut(ctx, r.value);
    else if (r.case === "requestRange") checkRangeRevision(ctx, r.value);
    else if (r.case === "requestTxn") checkPath(ctx, r.value, path.nested[n++]!);
  }
}

/** etcd's checkRequestRange: a txn whose range asks for an unusable revision writes nothing. */
function checkRangeRevision(ctx: KvContext, r: RangeRequest): void {
  const asked = Number(r.revision);
  if (asked <= 0) return;
  if (asked > ctx.store.revision) throw Errors.futureRev;
  if (asked < ctx.store.compactRevision) throw Errors.compacted;
}

export function* applyTxn(ctx: KvContext, t: TxnRequest): Step<TxnResponse> {
  const tally: OpTally = { compares: 0, ranges: 0, puts: 0, deletes: 0 };
  const path = comparePath(ctx, t, tally);
  try {
    checkPath(ctx, t, path);
  } catch (err) {
    ctx.counters.ended(tally.compares, 0, 0);
    throw err;
  }
  const txn = ctx.store.beginWrite();
  const res = yield* runTxn(ctx, txn, t, path, tally);
  const rev = txn.end();
  // etcd compares on a read transaction, then (for a txn that writes) runs the ops on a
  // write transaction: each ends with its own counts.
  if (tally.puts + tally.deletes > 0) {
    ctx.counters.ended(tally.compares, 0, 0);
    ctx.counters.ended(tally.ranges, tally.puts, tally.deletes);
  } else ctx.counters.ended(tally.compares + tally.ranges, 0, 0);
  res.header = ctx.header(rev);
  return res;
}

/** The store operations one txn ran (compares each read their range). */
interface OpTally {
  compares: number;
  ranges: number;
  puts: number;
  deletes: number;
}

function* runTxn(ctx: KvContext, txn: WriteTxn, t: TxnRequest, path: TxnPath, tally: OpTally): Step<TxnResponse> {
  const responses: ResponseOp[] = [];
  let n = 0;
  for (const op of path.succeeded ? t.success : t.failure) {
    responses.push(yield* runOp(ctx, txn, op, tally, () => path.nested[n++]!));
  }
  return { $typeName: "etcdserverpb.TxnResponse", header: undefined, succeeded: path.succeeded, responses };
}

function* runOp(ctx: KvContext, txn: WriteTxn, op: RequestOp, tally: OpTally, nextPath: () => TxnPath): Step<ResponseOp> {
  const r = op.request;
  switch (r.case) {
    case "requestRange": {
      tally.ranges++;
      const rr = yield* doRange(ctx, r.value, txn.readRevision);
      rr.header = revisionHeader(txn.readRevision);
      return { $typeName: "etcdserverpb.ResponseOp", response: { case: "responseRange", value: rr } };
    }
    case "requestPut": {
      tally.puts++;
      const pr = doPut(ctx, txn, r.value);
      pr.header = revisionHeader(txn.beginRev + 1);
      return { $typeName: "etcdserverpb.ResponseOp", response: { case: "responsePut", value: pr } };
    }
    case "requestDeleteRange": {
      tally.deletes++;
      const dr = doDelete(ctx, txn, r.value);
      dr.header = revisionHeader(txn.readRevision);
      return { $typeName: "etcdserverpb.ResponseOp", response: { case: "responseDeleteRange", value: dr } };
    }
    case "requestTxn": {
      const tr = yield* runTxn(ctx, txn, r.value, nextPath(), tally);
      tr.header = emptyHeader();
      return { $typeName: "etcdserverpb.ResponseOp", response: { case: "responseTxn", value: tr } };
    }
    default:
      // An empty RequestOp: etcd answers with an empty ResponseOp.
      return { $typeName: "etcdserverpb.ResponseOp", response: { case: undefined } };
  }
}

/** etcd's applyCompare: every key of the range must satisfy it; no key compares as zeros (VALUE fails). */
export function applyCompare(ctx: KvContext, c: Compare): boolean {
  const kr = keyRange(c.key, c.rangeEnd);
  let any = false;
  for (const kv of ctx.store.index.range(kr)) {
    any = true;
    if (!compareOne(c, kv)) return false;
  }
  if (any) return true;
  if (c.target === CmpTarget.VALUE) return false;
  return compareOne(c, undefined);
}

/** etcd's compareKV: an unknown target compares as equal, an unknown result holds. */
function compareOne(c: Compare, kv: KeyState | undefined): boolean {
  let result = 0;
  const u = c.targetUnion;
  switch (c.target) {
    case CmpTarget.VALUE: {
      const v = u.case === "value" ? u.value : new Uint8Array(0);
      result = compareBytes(kv?.value ?? new Uint8Array(0), v);
      break;
    }
    case CmpTarget.CREATE:
      result = cmpBig(BigInt(kv?.createRevision ?? 0), u.case === "createRevision" ? u.value : 0n);
      break;
    case CmpTarget.MOD:
      result = cmpBig(BigInt(kv?.modRevision ?? 0), u.case === "modRevision" ? u.value : 0n);
      break;
    case CmpTarget.VERSION:
      result = cmpBig(BigInt(kv?.version ?? 0), u.case === "version" ? u.value : 0n);
      break;
    case CmpTarget.LEASE:
      result = cmpBig(kv?.lease ?? 0n, u.case === "lease" ? u.value : 0n);
      break;
  }
  switch (c.result) {
    case CmpResult.EQUAL:
      return result === 0;
    case CmpResult.NOT_EQUAL:
      return result !== 0;
    case CmpResult.GREATER:
      return result > 0;
    case CmpResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Runs a step that must not need history (throws if it does). */
export function runSync<T>(g: Step<T>): T {
  const r = g.next();
  if (!r.done) throw new Error("apply: unexpected history read on the synchronous path");
  return r.value;
}

/** Runs a step, answering its history reads from the store. */
export async function runAsync<T>(store: MvccStore, g: Step<T>): Promise<T> {
  let r = g.next();
  while (!r.done) {
    const states = await store.rangeAt(r.value.range, r.value.revision);
    r = g.next(states);
  }
  return r.value;
}
