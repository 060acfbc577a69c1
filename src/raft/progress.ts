// What the leader knows about one follower's log, and how it may send to it
// (etcd's raft/tracker/progress.go and inflights.go).

import { assert } from "./assert.ts";

export const ProgressState = {
  /** Unknown match: send one MsgApp per heartbeat until the follower accepts one. */
  Probe: "StateProbe",
  /** Match known: stream entries optimistically, bounded by the inflight window. */
  Replicate: "StateReplicate",
  /** A snapshot is on its way; send nothing until it is reported or acknowledged. */
  Snapshot: "StateSnapshot",
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** Sliding window of the last index of each MsgApp in flight (flow control). */
export class Inflights {
  private readonly buf: number[] = [];
  constructor(readonly size: number) {
    assert(size > 0, "inflight window size must be positive");
  }
  add(index: number): void {
    assert(!this.full(), "cannot add into a full inflights");
    assert(this.buf.length === 0 || this.buf[this.buf.length - 1]! < index, "inflights must increase");
    this.buf.push(index);
  }
  /** Frees every message whose last index is <= to (acknowledged). */
  freeLE(to: number): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i]! <= to) i++;
    if (i > 0) this.buf.splice(0, i);
  }
  freeFirstOne(): void {
    this.buf.shift();
  }
  full(): boolean {
    return this.buf.length >= this.size;
  }
  count(): number {
    return this.buf.length;
  }
  reset(): void {
    this.buf.length = 0;
  }
}

export class Progress {
  /** Invariant: match < next. */
  match: number;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In StateSnapshot: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** In StateProbe: a probe is outstanding, wait for a response or heartbeat. */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(opts: { match: number; next: number; maxInflight: number; isLearner: boolean; recentActive?: boolean }) {
    this.match = opts.match;
    this.next = opts.next;
    this.inflights = new Inflights(opts.maxInflight);
    this.isLearner = opts.isLearner;
    this.recentActive = opts.recentActive ?? false;
    this.check();
  }

  private check(): void {
    assert(this.match < this.next, () => `progress invariant broken: match=${this.match} next=${this.next}`);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to n; false if it was stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    this.check();
    return updated;
  }

  /** In StateReplicate, entries up to n were sent. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
    this.check();
  }

  /**
   * The follower rejected MsgApp at `rejected` and suggests `matchHint` as a possible match.
   * Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the most recent probe (index next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    this.check();
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += " learner";
    if (this.isPaused()) s += " paused";
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += " inactive";
    if (this.inflights.count() > 0) s += ` inflight=${this.inflights.count()}`;
    if (this.inflights.full()) s += "[full]";
    return s;
  }
}
