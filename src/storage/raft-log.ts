// The durable Raft log: the Raft core's Storage (src/raft/storage.ts) on top of the WAL. Term and
// type of every live (unsnapshotted) entry are in memory; entry data is in memory for the newest
// entries and read back from the WAL segment for older durable ones. Writes are buffered in the
// WAL until sync().
//
// Entries are kept packed (PackedEntries below): data bytes copied into shared 1 MiB slabs, the
// rest in number arrays. With etcd's --snapshot-count of 100000 the log holds up to 100k
// entries; kept as Entry objects they cost an object, a typed array and (once decoded through a
// view) a separately allocated ArrayBuffer each, about 500 bytes beside the data, and the data
// itself (~30 MB for 100k small puts) is live memory the JS collector lets the heap grow twice
// over. Once durable, data older than the newest MEMORY_BYTES leaves memory (etcd keeps it all
// in its MemoryStorage; only slow followers and replays read that far back). Reads materialize
// fresh Entry objects with copied data, so a later truncation or compaction never changes
// bytes a caller still holds.
//
// Per Ready, the server calls: applySnapshot (if any), append(entries), setHardState(hs), then
// `await sync()` before sending messages or acknowledging anything.
import { assert } from "../raft/assert.ts";
import {
  CompactedError,
  entrySize,
  SnapOutOfDateError,
  UnavailableError,
  type InitialState,
  type Storage,
} from "../raft/storage.ts";
import type { ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMeta } from "../raft/types.ts";
import { Wal, type WalOptions } from "./wal.ts";

export { CompactedError as ErrCompacted, UnavailableError as ErrUnavailable, SnapOutOfDateError as ErrSnapOutOfDate };

export type RaftLogOptions = WalOptions;

const EMPTY = new Uint8Array(0);
/** entrySize(e) - e.data.length: the per-entry part of the raft core's size accounting. */
const ENTRY_OVERHEAD = entrySize({ term: 0, index: 0, type: 0, data: EMPTY });
const SLAB = 1 << 20;
/** Entry data kept in memory beyond what is not yet durable. */
const MEMORY_BYTES = 8 * SLAB;
const noSnapshot: SnapshotMeta = { index: 0, term: 0, confState: { voters: [], learners: [] } };

export async function openRaftLog(dir: string, opts: RaftLogOptions = {}): Promise<RaftLog> {
  const { wal, contents } = await Wal.open(dir, opts);
  return new RaftLog(wal, contents.hardState, contents.snapshot ?? noSnapshot, contents.entries);
}

export class RaftLog implements Storage {
  /** Bytes the WAL has written since open (/metrics). */
  get walBytesWritten(): number {
    return this.wal.bytesWritten;
  }

  /** Entries <= offset are compacted; offset <= snap.index. */
  private offset: number;
  private offsetTerm: number;
  /** Invariant: entry i of ents has index offset + 1 + i; terms non-decreasing. */
  private ents: PackedEntries;
  /** WAL segments holding only entries <= this may be deleted once a covering marker is durable. */
  private releaseIndex: number;
  private released = 0;

  constructor(
    private readonly wal: Wal,
    private hs: HardState,
    private snap: SnapshotMeta,
    entries: Entry[],
  ) {
    this.offset = snap.index;
    this.offsetTerm = snap.term;
    this.ents = this.newEntries();
    for (const e of entries) this.ents.push(e);
    wal.onEntriesDurable((seq, locs, base) => {
      for (let k = 0; k < locs.length; k += 3) {
        this.ents.locate(locs[k]! - this.offset - 1, locs[k + 1]!, seq, base + locs[k + 2]!);
      }
    });
    this.releaseIndex = snap.index;
    assert(entries.length === 0 || entries[0]!.index === snap.index + 1, "raft log: entries do not follow the snapshot");
  }

  initialState(): InitialState {
    return { hardState: this.hs, confState: this.snap.confState };
  }

  /** Entries in [lo, hi), at least one if any, limited to about maxSize bytes. */
  entries(lo: number, hi: number, maxSize?: number): Entry[] {
    if (lo <= this.offset) throw new CompactedError();
    if (hi > this.lastIndex() + 1) throw new UnavailableError();
    assert(lo <= hi, () => `raft log: invalid range [${lo}, ${hi})`);
    const base = this.offset + 1;
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      // limitSize's rule without materializing what it would cut: at least one entry.
      size += this.ents.dataLength(i - base) + ENTRY_OVERHEAD;
      if (maxSize !== undefined && out.length > 0 && size > maxSize) break;
      out.push(this.ents.entry(i - base, i));
    }
    return out;
  }

  term(i: number): number {
    if (i === this.offset) return this.offsetTerm;
    if (i < this.offset) throw new CompactedError();
    if (i > this.lastIndex()) throw new UnavailableError();
    return this.ents.term(i - this.offset - 1);
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length;
  }

  /**
   * The latest snapshot's metadata, with no data: the state-machine image lives in the state
   * database and travels beside the raft message, as etcd sends its v3 backend.
   */
  snapshot(): Snapshot {
    return { meta: this.snap, data: EMPTY };
  }

  snapshotMeta(): SnapshotMeta {
    return this.snap;
  }

  hardState(): HardState {
    return this.hs;
  }

  /** Appends entries, replacing any conflicting suffix (entries already compacted are skipped). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const lastNew = entries[0]!.index + entries.length - 1;
    if (lastNew < first) return; // all already compacted
    const ents = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const start = ents[0]!.index;
    assert(start <= this.lastIndex() + 1, () => `missing log entry [last: ${this.lastIndex()}, append at: ${start}]`);
    let prevTerm = this.term(start - 1);
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      assert(e.index === start + i, () => `raft log: non-contiguous append: ${e.index} at position ${i} from ${start}`);
      assert(e.term >= prevTerm, () => `raft log: entry ${e.index} term ${e.term} below its predecessor's ${prevTerm}`);
      prevTerm = e.term;
    }
    assert(start > this.hs.commit, () => `raft log: append at ${start} would overwrite committed entries (commit ${this.hs.commit})`);
    this.wal.append(ents);
    this.ents.truncate(start - this.offset - 1); // drop a conflicting suffix
    for (const e of ents) this.ents.push(e);
  }

  setHardState(hs: HardState): void {
    assert(hs.term >= this.hs.term, () => `raft log: hardState term ${hs.term} below ${this.hs.term}`);
    assert(hs.commit <= this.lastIndex(), () => `raft log: commit ${hs.commit} is out of range [lastIndex(${this.lastIndex()})]`);
    this.hs = hs;
    this.wal.setHardState(hs);
  }

  /** Makes everything appended so far durable; then deletes WAL segments that compaction freed. */
  /** `inline`: see Wal.sync. */
  async sync(inline = false): Promise<void> {
    await this.wal.sync(inline);
    this.ents.evict();
    const r = Math.min(this.releaseIndex, this.wal.durableSnapshotIndex);
    if (r > this.released) {
      this.released = r;
      await this.wal.releaseTo(r);
    }
  }

  /**
   * Records that the state machine has a snapshot at `index` (<= commit), whose configuration is
   * `confState`. Restart then begins at this snapshot; call compact() to free the entries.
   */
  createSnapshot(index: number, confState: ConfState): SnapshotMeta {
    if (index <= this.snap.index) throw new SnapOutOfDateError();
    assert(index <= this.hs.commit, () => `raft log: snapshot ${index} is above commit ${this.hs.commit}`);
    const meta: SnapshotMeta = { index, term: this.term(index), confState };
    this.wal.saveSnapshot(meta, "compact");
    this.snap = meta;
    return meta;
  }

  /**
   * Drops entries <= index from memory (etcd keeps some entries below the snapshot for slow
   * followers, so index may lag the snapshot). Their WAL segments go at a later sync().
   */
  compact(index: number): void {
    if (index <= this.offset) throw new CompactedError();
    assert(index <= this.snap.index, () => `raft log: compact ${index} is above the snapshot ${this.snap.index}`);
    this.offsetTerm = this.term(index);
    this.ents.dropFront(index - this.offset);
    this.offset = index;
    this.releaseIndex = index;
  }

  /** Replaces the whole log with a snapshot received from the leader (its data is not kept here). */
  applySnapshot(snap: SnapshotMeta | Snapshot): void {
    const meta = "meta" in snap ? snap.meta : snap;
    if (meta.index <= this.snap.index) throw new SnapOutOfDateError();
    this.wal.saveSnapshot(meta, "restore");
    this.snap = meta;
    this.offset = meta.index;
    this.offsetTerm = meta.term;
    this.ents = this.newEntries();
    this.releaseIndex = meta.index;
    // The snapshot is committed: a restart must not find a commit index below it.
    if (this.hs.commit < meta.index) this.setHardState({ ...this.hs, commit: meta.index });
  }

  private newEntries(): PackedEntries {
    return new PackedEntries(this.wal.canReadBack ? (seq, pos, len) => this.wal.readBack(seq, pos, len) : undefined);
  }

  /** Syncs what is buffered and closes the WAL. */
  close(): Promise<void> {
    return this.wal.close();
  }
}

/**
 * A run of entries stored packed. Data bytes are appended to a virtual byte stream cut into
 * SLAB-sized slabs (an entry may span slabs); the stream only grows, so a truncation leaves the
 * dropped bytes behind rather than rewriting bytes a slab still holds. Stream positions below
 * `floor` are no longer in memory: those entries are read back from their WAL location.
 */
class PackedEntries {
  private terms: number[] = [];
  private types: number[] = [];
  /** Stream position and length of each entry's data. */
  private starts: number[] = [];
  private lens: number[] = [];
  /** WAL location of the entry's data once durable: segment seq and file position (-1: none). */
  private segs: number[] = [];
  private poss: number[] = [];
  /** Stream position after the last written byte. */
  private end = 0;
  /** Invariant: every entry with starts[i] < floor has a WAL location. */
  private floor = 0;
  /** First entry whose data may still be in memory (entries before it are below floor). */
  private memFirst = 0;
  /** slabs[j] holds stream positions [(slabBase + j) * SLAB, (slabBase + j + 1) * SLAB). */
  private slabs: Uint8Array[] = [];
  private slabBase = 0;

  constructor(private readonly readBack: ((seq: number, position: number, length: number) => Uint8Array) | undefined) {}

  get length(): number {
    return this.terms.length;
  }

  term(i: number): number {
    return this.terms[i]!;
  }

  dataLength(i: number): number {
    return this.lens[i]!;
  }

  push(e: Entry): void {
    this.terms.push(e.term);
    this.types.push(e.type);
    this.starts.push(this.end);
    this.lens.push(e.data.length);
    this.segs.push(-1);
    this.poss.push(-1);
    const d = e.data;
    let at = 0;
    while (at < d.length) {
      const pos = this.end + at;
      const j = Math.floor(pos / SLAB) - this.slabBase;
      while (this.slabs.length <= j) this.slabs.push(new Uint8Array(SLAB));
      const off = pos % SLAB;
      const n = Math.min(d.length - at, SLAB - off);
      // subarray only on the source (a short-lived entry), never on a slab.
      this.slabs[j]!.set(at === 0 && n === d.length ? d : d.subarray(at, at + n), off);
      at += n;
    }
    this.end += d.length;
  }

  /** Entry i is durable at (seq, position) — if it is still the entry of that term. */
  locate(i: number, term: number, seq: number, position: number): void {
    // Same index and term means the same entry (Log Matching), so a location reported for a
    // write that a later conflicting append replaced is ignored by its term.
    if (i < 0 || i >= this.terms.length || this.terms[i] !== term) return;
    this.segs[i] = seq;
    this.poss[i] = position;
  }

  /** Moves the memory floor up to keep about MEMORY_BYTES of the newest data, durable data only. */
  evict(): void {
    if (this.readBack === undefined) return;
    const target = this.end - MEMORY_BYTES;
    let i = this.memFirst;
    while (i < this.terms.length && this.starts[i]! + this.lens[i]! <= target && this.poss[i]! >= 0) i++;
    if (i === this.memFirst) return;
    this.memFirst = i;
    this.floor = i < this.terms.length ? this.starts[i]! : this.end;
    this.dropSlabsBelow(this.floor);
  }

  /** A fresh Entry for position i (which has raft index `index`), its data a copy. */
  entry(i: number, index: number): Entry {
    const start = this.starts[i]!;
    const len = this.lens[i]!;
    let data: Uint8Array = EMPTY;
    if (len > 0 && start < this.floor) {
      data = this.readBack!(this.segs[i]!, this.poss[i]!, len);
    } else if (len > 0) {
      const j = Math.floor(start / SLAB) - this.slabBase;
      const off = start % SLAB;
      if (off + len <= SLAB) {
        data = this.slabs[j]!.slice(off, off + len);
      } else {
        data = new Uint8Array(len);
        for (let at = 0; at < len; ) {
          const pos = start + at;
          const o = pos % SLAB;
          const n = Math.min(len - at, SLAB - o);
          data.set(this.slabs[Math.floor(pos / SLAB) - this.slabBase]!.slice(o, o + n), at);
          at += n;
        }
      }
    }
    return { term: this.terms[i]!, index, type: this.types[i] as EntryType, data };
  }

  /** Keeps the first n entries (their bytes stay where they are; new ones go after `end`). */
  truncate(n: number): void {
    assert(n >= 0 && n <= this.length, () => `raft log: truncate to ${n} of ${this.length}`);
    if (n === this.length) return;
    for (const a of [this.terms, this.types, this.starts, this.lens, this.segs, this.poss]) a.length = n;
    this.memFirst = Math.min(this.memFirst, n);
  }

  /** Drops the first n entries and the slabs only they used. */
  dropFront(n: number): void {
    assert(n >= 0 && n <= this.length, () => `raft log: drop ${n} of ${this.length}`);
    this.terms = this.terms.slice(n);
    this.types = this.types.slice(n);
    this.starts = this.starts.slice(n);
    this.lens = this.lens.slice(n);
    this.segs = this.segs.slice(n);
    this.poss = this.poss.slice(n);
    this.memFirst = Math.max(0, this.memFirst - n);
    const first = this.starts.length > 0 ? this.starts[0]! : this.end;
    this.dropSlabsBelow(Math.max(first, this.floor));
  }

  private dropSlabsBelow(pos: number): void {
    const keepFrom = Math.floor(pos / SLAB);
    if (keepFrom > this.slabBase) {
      this.slabs = this.slabs.slice(Math.min(this.slabs.length, keepFrom - this.slabBase));
      this.slabBase = keepFrom;
    }
  }
}
