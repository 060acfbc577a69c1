// Key helpers shared by Lock and Election (clientv3/concurrency conventions).
import { create } from "@bufbuild/protobuf";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  CompareSchema,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeRequestSchema,
  type Compare,
  type RangeRequest,
} from "../../gen/rpc_pb.ts";

/** Revision as the generated messages carry it; the one place to change if that changes. */
export type Rev = RangeRequest["revision"];
export const NO_REV = 0n as Rev;

const enc = new TextEncoder();

/** The end of the range holding every key that starts with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: no upper bound, the rest of the keyspace.
  return new Uint8Array([0]);
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** `<prefix><lease id as %x>`: the waiter key a session owns under a lock or election. */
export function sessionKey(prefix: Uint8Array, lease: bigint): Uint8Array {
  return concat(prefix, enc.encode(lease.toString(16)));
}

/** `name + "/"`, the prefix clientv3/concurrency puts waiters under. */
export function waitPrefix(name: Uint8Array): Uint8Array {
  return concat(name, enc.encode("/"));
}

/** Range over `prefix` sorted by create revision, first (ASCEND) or last (DESCEND), limit 1. */
export function firstOrLastCreate(
  prefix: Uint8Array,
  order: RangeRequest_SortOrder.ASCEND | RangeRequest_SortOrder.DESCEND,
  maxCreateRevision: Rev = NO_REV,
): RangeRequest {
  return create(RangeRequestSchema, {
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    sortTarget: RangeRequest_SortTarget.CREATE,
    sortOrder: order,
    limit: 1n as RangeRequest["limit"],
    maxCreateRevision,
  });
}

/** `create_revision(key) == rev`. */
export function createRevIs(key: Uint8Array, rev: Rev): Compare {
  return create(CompareSchema, {
    result: Compare_CompareResult.EQUAL,
    target: Compare_CompareTarget.CREATE,
    key,
    targetUnion: { case: "createRevision", value: rev },
  });
}

export function revMinus1(rev: Rev): Rev {
  return (typeof rev === "bigint" ? rev - 1n : (rev as number) - 1) as Rev;
}

export function revPlus1(rev: Rev): Rev {
  return (typeof rev === "bigint" ? rev + 1n : (rev as number) + 1) as Rev;
}
