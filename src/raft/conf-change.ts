// One-at-a-time membership changes (Raft thesis §4.1) and the pure function that applies one to
// a configuration. Joint consensus is not used: a leader allows one pending change at a time.

import type { ConfState } from "./types.ts";

export const ConfChangeType = {
  AddNode: 0,
  RemoveNode: 1,
  UpdateNode: 2,
  AddLearnerNode: 3,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export const confChangeTypeName: Record<ConfChangeType, string> = {
  0: "ConfChangeAddNode",
  1: "ConfChangeRemoveNode",
  2: "ConfChangeUpdateNode",
  3: "ConfChangeAddLearnerNode",
};

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: bigint;
  /** Caller-chosen request ID so the proposer can match the applied change (etcd's ConfChange.ID). */
  readonly id: bigint;
  /** Opaque to raft; the membership layer stores the member (name, peer URLs) here. */
  readonly context: Uint8Array;
}

export type ConfChangeOutcome =
  | { readonly ok: true; readonly confState: ConfState }
  | { readonly ok: false; readonly reason: string };

/**
 * The configuration after `cc`. AddNode on a learner promotes it. Changes that would demote a
 * voter or leave no voter are refused; every member refuses the same way, so the outcome is
 * deterministic across the cluster.
 */
export function nextConfState(cs: ConfState, cc: ConfChange): ConfChangeOutcome {
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  const id = cc.nodeId;
  if (id === 0n) return { ok: false, reason: "node id 0 is reserved" };
  switch (cc.type) {
    case ConfChangeType.AddNode:
      learners.delete(id);
      voters.add(id);
      break;
    case ConfChangeType.AddLearnerNode:
      if (voters.has(id)) return { ok: false, reason: `cannot demote voter ${id.toString(16)} to learner` };
      learners.add(id);
      break;
    case ConfChangeType.RemoveNode:
      voters.delete(id);
      learners.delete(id);
      if (voters.size === 0) return { ok: false, reason: "removing the last voter is not allowed" };
      break;
    case ConfChangeType.UpdateNode:
      break;
  }
  return { ok: true, confState: { voters: sortIds(voters), learners: sortIds(learners) } };
}

export function sortIds(ids: Iterable<bigint>): bigint[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function describeConfState(cs: ConfState): string {
  const v = cs.voters.map((x) => x.toString(16)).join(" ");
  const l = cs.learners.map((x) => x.toString(16)).join(" ");
  return `voters=(${v})` + (cs.learners.length > 0 ? ` learners=(${l})` : "");
}
