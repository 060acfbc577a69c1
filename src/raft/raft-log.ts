// The node's view of the log: persisted Storage plus the Unstable tail (etcd's raft/log.go).
// Invariant: applied <= committed <= lastIndex().

import { assert, assertIndex } from "./assert.ts";
import { CompactedError, limitSize, UnavailableError, type Storage } from "./storage.ts";
import type { Entry, Snapshot } from "./types.ts";
import { Unstable } from "./unstable.ts";

export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be stored on a quorum. */
  committed: number;
  /** Highest index the application has been told to apply. */
  applied: number;

  constructor(
    readonly storage: Storage,
    readonly maxNextEntsSize: number | undefined = undefined,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.Entries)=${this.unstable.entries.length}`;
  }

  /** Appends entries following (index, logTerm) if they match; returns the new last index. */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, () => `entry ${ci} conflict with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, () => `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** The first entry whose term differs from ours (or that we lack); 0 if all match. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term; used to skip a whole
   * conflicting term per round trip when probing (thesis §5.3 optimization). An unknown
   * (compacted) term is reported as 0 so the caller assumes a possible match.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    const li = this.lastIndex();
    if (index > li) return [index, 0];
    for (; index > 0; index--) {
      let t: number;
      try {
        t = this.term(index);
      } catch {
        return [index, 0];
      }
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.length === 0 ? [] : [...this.unstable.entries];
  }

  /** Committed entries not yet handed to the application. */
  nextEnts(): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) return this.slice(off, this.committed + 1, this.maxNextEntsSize);
    return [];
  }

  hasNextEnts(): boolean {
    return this.committed + 1 > Math.max(this.applied + 1, this.firstIndex());
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(tocommit: number): void {
    if (this.committed < tocommit) {
      assert(this.lastIndex() >= tocommit, () =>
        `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`);
      this.committed = tocommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    assert(this.committed >= i && i >= this.applied, () =>
      `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term of entry i; 0 outside [firstIndex-1, lastIndex]; throws CompactedError if compacted. */
  term(i: number): number {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return 0;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    return this.storage.term(i);
  }

  zeroTermOnCompacted(i: number): number {
    try {
      return this.term(i);
    } catch (e) {
      if (e instanceof CompactedError) return 0;
      throw e;
    }
  }

  entries(i: number, maxSize: number | undefined): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), undefined);
  }

  /** Raft thesis §3.6.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lasti: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    try {
      return this.term(i) === term;
    } catch {
      return false;
    }
  }

  /** Commits maxIndex only if it is from the current term (thesis §3.6.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.zeroTermOnCompacted(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }

  /** Entries [lo, hi); throws CompactedError if lo is compacted. */
  slice(lo: number, hi: number, maxSize: number | undefined): Entry[] {
    assertIndex(lo, "lo");
    assert(lo <= hi, () => `invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new CompactedError();
    const length = this.lastIndex() + 1 - fi;
    assert(hi <= fi + length, () => `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    if (lo < this.unstable.offset) {
      let stored: Entry[];
      try {
        stored = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxSize);
      } catch (e) {
        if (e instanceof UnavailableError) {
          throw new UnavailableError();
        }
        throw e;
      }
      // Storage returned fewer than asked: the size limit was hit.
      if (stored.length < Math.min(hi, this.unstable.offset) - lo) return stored;
      ents = stored;
    }
    if (hi > this.unstable.offset) {
      const u = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      ents = ents.length > 0 ? ents.concat(u) : u;
    }
    return limitSize(ents, maxSize);
  }
}
