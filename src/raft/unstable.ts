// Entries and a snapshot not yet persisted to Storage (etcd's raft/log_unstable.go).
// Invariant: entries[i].index === offset + i; a snapshot, if any, ends at offset - 1.

import { assert } from "./assert.ts";
import type { Entry, Snapshot } from "./types.ts";

export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];

  constructor(public offset: number) {}

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.meta.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.meta.index : undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** Entries up to (i, t) were persisted; drop them unless the log changed underneath. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    // Only drop if the term matches: a later append may have replaced the entry.
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.meta.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      // In place: nobody holds this array (unstableEntries() and slice() hand out copies), and
      // concat here made a Ready of n proposals cost O(n²) element copies.
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // The log is being replaced from `after` on, including part persisted already.
      this.offset = after;
      this.entries = [...ents];
    } else {
      this.entries = this.slice(this.offset, after).concat(ents);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi && this.offset <= lo && hi <= this.offset + this.entries.length, () =>
      `unstable.slice[${lo},${hi}) out of bound [${this.offset},${this.offset + this.entries.length}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
