// An in-memory Storage (etcd's MemoryStorage): the reference implementation for tests and the
// simulator, and a model for the durable one.

import { assert } from "./assert.ts";
import {
  CompactedError,
  emptyConfState,
  limitSize,
  SnapOutOfDateError,
  UnavailableError,
  type InitialState,
  type Storage,
} from "./storage.ts";
import { emptyHardState, type ConfState, type Entry, type HardState, type Snapshot } from "./types.ts";

export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState;
  private snap: Snapshot = { meta: { index: 0, term: 0, confState: emptyConfState }, data: new Uint8Array(0) };
  /** ents[0] is a dummy standing for the snapshot: ents[i].index === snap.meta.index + i. */
  private ents: Entry[] = [{ term: 0, index: 0, type: 0, data: new Uint8Array(0) }];

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.meta.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  entries(lo: number, hi: number, maxSize?: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError();
    if (hi > this.lastIndex() + 1) throw new UnavailableError();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError();
    if (i - offset >= this.ents.length) throw new UnavailableError();
    return this.ents[i - offset]!.term;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.meta.index >= snap.meta.index) throw new SnapOutOfDateError();
    this.snap = snap;
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, type: 0, data: new Uint8Array(0) }];
  }

  /**
   * Records a snapshot of the application state at index i (<= lastIndex). `cs` is the
   * configuration as of i. Use compact() afterwards to drop the entries it covers.
   */
  createSnapshot(i: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (i <= this.snap.meta.index) throw new SnapOutOfDateError();
    assert(i <= this.lastIndex(), () => `snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    const offset = this.ents[0]!.index;
    this.snap = { meta: { index: i, term: this.ents[i - offset]!.term, confState: cs }, data };
    return this.snap;
  }

  /** Discards entries up to compactIndex; the entry at compactIndex stays as the dummy. */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new CompactedError();
    assert(compactIndex <= this.lastIndex(), () => `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - offset;
    const head = this.ents[i]!;
    this.ents = [{ term: head.term, index: head.index, type: 0, data: new Uint8Array(0) }, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, replacing any existing suffix they conflict with. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return; // all already compacted
    let ents = entries;
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const offset = ents[0]!.index - this.ents[0]!.index;
    assert(offset <= this.ents.length, () => `missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`);
    this.ents = [...this.ents.slice(0, offset), ...ents];
  }
}
