// Static checks done before proposing (etcd's v3rpc/key.go): pure functions of the request
// that throw etcd's exact errors. What depends on state (lease existence, key existence
// for ignore_value) is checked in apply.
import type { InternalRaftRequest } from "../gen/internal_pb.ts";
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from "../gen/rpc_pb.ts";
import { inRange, keyRange, type KeyRange, toKey } from "../mvcc/index.ts";
import { Errors } from "../rpctypes/index.ts";

/** etcd's --max-txn-ops default. */
export const DEFAULT_MAX_TXN_OPS = 128;

export function validateRange(r: RangeRequest): void {
  if (r.key.length === 0) throw Errors.emptyKey;
}

export function validatePut(p: PutRequest): void {
  if (p.key.length === 0) throw Errors.emptyKey;
  if (p.ignoreValue && p.value.length !== 0) throw Errors.valueProvided;
  if (p.ignoreLease && p.lease !== 0n) throw Errors.leaseProvided;
}

export function validateDeleteRange(d: DeleteRangeRequest): void {
  if (d.key.length === 0) throw Errors.emptyKey;
}

export function validateTxn(t: TxnRequest, maxTxnOps: number = DEFAULT_MAX_TXN_OPS): void {
  checkTxnShape(t, maxTxnOps);
  checkIntervals(t.success);
  checkIntervals(t.failure);
}

/** Checks whichever request the entry carries (the ones clients can send). */
export function validateRequest(r: InternalRaftRequest, maxTxnOps: number = DEFAULT_MAX_TXN_OPS): void {
  if (r.range !== undefined) validateRange(r.range);
  else if (r.put !== undefined) validatePut(r.put);
  else if (r.deleteRange !== undefined) validateDeleteRange(r.deleteRange);
  else if (r.txn !== undefined) validateTxn(r.txn, maxTxnOps);
}

/**
 * etcd's checkTxnRequest: a txn's operations count against the budget, and a nested txn gets
 * what is left of it (maxTxnOps minus this level's count), so nesting deeper than the budget
 * is "too many operations" as well.
 */
function checkTxnShape(t: TxnRequest, maxTxnOps: number): void {
  const ops = Math.max(t.compare.length, t.success.length, t.failure.length);
  if (ops > maxTxnOps) throw Errors.tooManyOps;
  for (const c of t.compare) if (c.key.length === 0) throw Errors.emptyKey;
  for (const op of t.success) checkOp(op, maxTxnOps - ops);
  for (const op of t.failure) checkOp(op, maxTxnOps - ops);
}

function checkOp(op: RequestOp, maxTxnOps: number): void {
  const r = op.request;
  switch (r.case) {
    case "requestRange":
      return validateRange(r.value);
    case "requestPut":
      return validatePut(r.value);
    case "requestDeleteRange":
      return validateDeleteRange(r.value);
    case "requestTxn":
      return checkTxnShape(r.value, maxTxnOps);
    default:
      return; // an empty op is allowed (etcd answers it with an empty response)
  }
}

/**
 * etcd's checkIntervals: within one branch (nested txns included) a key may not be put
 * twice, nor put and covered by a delete. The two branches of a nested txn exclude each
 * other, so the same key put in both is fine.
 */
function checkIntervals(reqs: readonly RequestOp[]): { puts: Set<string>; dels: KeyRange[] } {
  const dels: KeyRange[] = [];
  for (const op of reqs) {
    if (op.request.case === "requestDeleteRange") dels.push(keyRange(op.request.value.key, op.request.value.rangeEnd));
  }
  const covered = (k: string) => dels.some((d) => inRange(d, k));
  const puts = new Set<string>();
  for (const op of reqs) {
    if (op.request.case !== "requestTxn") continue;
    const then = checkIntervals(op.request.value.success);
    const els = checkIntervals(op.request.value.failure);
    for (const k of then.puts) {
      if (puts.has(k) || covered(k)) throw Errors.duplicateKey;
      puts.add(k);
    }
    for (const k of els.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw Errors.duplicateKey;
      if (covered(k)) throw Errors.duplicateKey;
      puts.add(k);
    }
    dels.push(...then.dels, ...els.dels);
  }
  for (const op of reqs) {
    if (op.request.case !== "requestPut") continue;
    const k = toKey(op.request.value.key);
    if (puts.has(k) || covered(k)) throw Errors.duplicateKey;
    puts.add(k);
  }
  return { puts, dels };
}
