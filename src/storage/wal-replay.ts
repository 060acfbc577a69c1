// Rebuilds the log's state from its records in write order (etcd's WAL ReadAll semantics).
import { emptyHardState, type Entry, type HardState, type SnapshotMeta } from "../raft/types.ts";
import { WalCorruptError } from "./wal-segment.ts";
import type { WalRecord } from "./wal-record.ts";

export class ReplayState {
  hardState: HardState = emptyHardState;
  /** The latest snapshot marker. */
  snapshot: SnapshotMeta | undefined = undefined;
  /**
   * The live entries after the snapshot. Invariant: contiguous indexes, non-decreasing terms.
   * Until finish(), entries[0] may sit above snapshot.index + 1: when old segments have been
   * released, the first surviving segment restarts the log above an older marker, and a later
   * marker covers the gap.
   */
  entries: Entry[] = [];

  snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  lastIndex(): number {
    const n = this.entries.length;
    return n > 0 ? this.entries[n - 1]!.index : this.snapshotIndex();
  }

  apply(r: WalRecord, where: () => string): void {
    switch (r.kind) {
      case "crcSeed":
        return;
      case "hardState":
        this.hardState = r.hardState;
        return;
      case "entry":
        return this.applyEntry(r.entry, where);
      case "snapshot":
        if (r.mode === "restore") {
          this.snapshot = r.meta;
          this.entries = [];
          return;
        }
        return this.applyCompaction(r.meta, where);
    }
  }

  /** Checks that the entries continue the snapshot; call after the last record. */
  finish(): void {
    const first = this.entries[0];
    const want = this.snapshotIndex() + 1;
    if (first !== undefined && first.index !== want) {
      throw new WalCorruptError(`wal: entries ${want} to ${first.index - 1} are missing from the log`);
    }
  }

  private applyEntry(e: Entry, where: () => string): void {
    if (e.index <= this.snapshotIndex()) return; // covered by the snapshot
    const ents = this.entries;
    const n = ents.length;
    if (n === 0) {
      ents.push(e);
      return;
    }
    const first = ents[0]!.index;
    const last = first + n - 1;
    if (e.index < first || e.index > last + 1) {
      // Continues a log whose earlier part was released (checked in finish()).
      this.entries = [e];
      return;
    }
    // e.index <= last: raft replaced a conflicting suffix; drop it.
    if (e.index <= last) ents.length = e.index - first;
    const prev = ents[ents.length - 1];
    if (prev !== undefined && e.term < prev.term) {
      throw new WalCorruptError(`wal: entry ${e.index} has term ${e.term} below its predecessor's ${prev.term} (${where()})`);
    }
    ents.push(e);
  }

  private applyCompaction(meta: SnapshotMeta, where: () => string): void {
    if (meta.index < this.snapshotIndex()) return; // an older marker repeated; the newer one stands
    this.snapshot = meta;
    const ents = this.entries;
    if (ents.length === 0) return;
    const k = meta.index - ents[0]!.index + 1; // entries covered by the marker
    if (k <= 0) return;
    if (k <= ents.length && ents[k - 1]!.term !== meta.term) {
      throw new WalCorruptError(
        `wal: snapshot marker ${meta.index} has term ${meta.term} but the entry there has term ${ents[k - 1]!.term} (${where()})`,
      );
    }
    this.entries = k >= ents.length ? [] : ents.slice(k);
  }
}
