// Range options applied to candidate keys, following etcd 3.4's applyRange: min/max
// filters before the limit, sort (target ≠ KEY with order NONE means ASCEND), `count` is
// the number of keys in the range before filters, `more` when the limit truncated.
import {
  RangeRequest_SortOrder as SortOrder,
  RangeRequest_SortTarget as SortTarget,
  type RangeRequest,
} from "../gen/rpc_pb.ts";
import type { KeyValue } from "../gen/kv_pb.ts";
import { compareBytes } from "./bytes.ts";

/** A key's state at some revision (a LiveKey or a row read from history). */
export interface KeyState {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: bigint;
}

export interface RangeOutcome {
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export function toKeyValue(s: KeyState, keysOnly = false): KeyValue {
  return {
    $typeName: "mvccpb.KeyValue",
    key: s.key,
    createRevision: BigInt(s.createRevision),
    modRevision: BigInt(s.modRevision),
    version: BigInt(s.version),
    value: keysOnly ? new Uint8Array(0) : s.value,
    lease: s.lease,
  };
}

/**
 * Applies every RangeRequest option to `candidates`, which arrive in ascending key order.
 * `total`, when the caller can count the candidates without visiting them (the current-key
 * index), lets an unsorted range with a limit stop after limit+1 candidates instead of walking
 * the whole range for `count`.
 */
export function selectRange(candidates: Iterable<KeyState>, req: RangeRequest, total?: () => number): RangeOutcome {
  const limit = Number(req.limit);
  const minMod = Number(req.minModRevision);
  const maxMod = Number(req.maxModRevision);
  const minCreate = Number(req.minCreateRevision);
  const maxCreate = Number(req.maxCreateRevision);
  const filtered = minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0;
  let order = req.sortOrder;
  if (req.sortTarget !== SortTarget.KEY && order === SortOrder.NONE) order = SortOrder.ASCEND;
  const sorted = order !== SortOrder.NONE && !(order === SortOrder.ASCEND && req.sortTarget === SortTarget.KEY);

  let count = 0;
  if (req.countOnly) {
    if (total !== undefined) return { kvs: [], more: false, count: total() };
    for (const _ of candidates) count++;
    return { kvs: [], more: false, count };
  }
  // Without sorting, only limit+1 states are kept (the extra one proves `more`).
  const keep = !sorted && limit > 0 ? limit + 1 : Infinity;
  let picked: KeyState[] = [];
  for (const s of candidates) {
    count++;
    if (picked.length >= keep) {
      if (total !== undefined) break;
      continue;
    }
    if (filtered) {
      if (minMod !== 0 && s.modRevision < minMod) continue;
      if (maxMod !== 0 && s.modRevision > maxMod) continue;
      if (minCreate !== 0 && s.createRevision < minCreate) continue;
      if (maxCreate !== 0 && s.createRevision > maxCreate) continue;
    }
    picked.push(s);
  }
  if (sorted) {
    const cmp = comparator(req.sortTarget);
    const dir = order === SortOrder.DESCEND ? -1 : 1;
    // Stable sort over key order: ties keep ascending key order.
    picked = picked.sort((a, b) => dir * cmp(a, b));
  }
  if (total !== undefined) count = total();
  let more = false;
  if (limit > 0 && picked.length > limit) {
    picked.length = limit;
    more = true;
  }
  const kvs = picked.map((s) => toKeyValue(s, req.keysOnly));
  return { kvs, more, count };
}

function comparator(t: SortTarget): (a: KeyState, b: KeyState) => number {
  switch (t) {
    case SortTarget.VERSION:
      return (a, b) => a.version - b.version;
    case SortTarget.CREATE:
      return (a, b) => a.createRevision - b.createRevision;
    case SortTarget.MOD:
      return (a, b) => a.modRevision - b.modRevision;
    case SortTarget.VALUE:
      return (a, b) => compareBytes(a.value, b.value);
    default:
      return (a, b) => compareBytes(a.key, b.key);
  }
}
