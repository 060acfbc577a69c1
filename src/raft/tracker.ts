// The configuration (voters, learners), per-peer progress and election votes, with the
// majority rules over them (etcd's raft/tracker and raft/quorum).

import { sortIds } from "./conf-change.ts";
import { Progress } from "./progress.ts";
import type { ConfState } from "./types.ts";

export const VoteResult = { Pending: 1, Lost: 2, Won: 3 } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

export class ProgressTracker {
  voters = new Set<bigint>();
  learners = new Set<bigint>();
  readonly progress = new Map<bigint, Progress>();
  readonly votes = new Map<bigint, boolean>();

  constructor(readonly maxInflight: number) {}

  confState(): ConfState {
    return { voters: sortIds(this.voters), learners: sortIds(this.learners) };
  }

  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** The largest index stored on a majority of voters (0 with no voters). */
  committed(): number {
    if (this.voters.size === 0) return 0;
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1]!;
  }

  /** Voters and learners, sorted, so iteration order (and message order) is deterministic. */
  ids(): bigint[] {
    return sortIds(this.progress.keys());
  }

  voterIds(): bigint[] {
    return sortIds(this.voters);
  }

  quorumActive(): boolean {
    let active = 0;
    for (const id of this.voters) if (this.progress.get(id)?.recentActive) active++;
    return active >= this.quorum();
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: bigint, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: this.voteResult((id) => this.votes.get(id)) };
  }

  /** Majority decision over voters given a yes/no/unknown answer per voter. */
  voteResult(answer: (id: bigint) => boolean | undefined): VoteResult {
    if (this.voters.size === 0) return VoteResult.Won;
    let yes = 0;
    let missing = 0;
    for (const id of this.voters) {
      const v = answer(id);
      if (v === undefined) missing++;
      else if (v) yes++;
    }
    const q = this.quorum();
    if (yes >= q) return VoteResult.Won;
    if (yes + missing >= q) return VoteResult.Pending;
    return VoteResult.Lost;
  }

  /** Makes the tracked configuration `cs`, keeping progress of members that stay. */
  applyConfState(cs: ConfState, lastIndex: number): void {
    const keep = new Set<bigint>([...cs.voters, ...cs.learners]);
    for (const id of [...this.progress.keys()]) if (!keep.has(id)) this.progress.delete(id);
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
    for (const id of keep) {
      const isLearner = this.learners.has(id);
      const pr = this.progress.get(id);
      if (pr) {
        pr.isLearner = isLearner;
      } else {
        // A new member counts as recently active so check-quorum does not depose the
        // leader right after adding it (etcd does the same).
        this.progress.set(id, new Progress({ match: 0, next: lastIndex + 1, maxInflight: this.maxInflight, isLearner, recentActive: true }));
      }
    }
  }
}
