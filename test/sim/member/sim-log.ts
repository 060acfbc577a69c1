// The simulated durable Raft log: the member's MemberLog (src/server/assemble.ts) on an
// in-memory "disk" that knows what has been written and what has been made durable, like the
// WAL (src/storage/wal.ts): appends, hard states and snapshot markers are buffered, a sync hands
// the batch to the disk ("written") and resolves once it is durable, after a simulated fsync
// delay. A crash keeps what was durable, and — when only the process died, not the power — also
// what was written; the member then restarts on a log rebuilt from those records, in order.
import { assert } from "../../../src/raft/assert.ts";
import { MemoryStorage } from "../../../src/raft/memory-storage.ts";
import type { InitialState } from "../../../src/raft/storage.ts";
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from "../../../src/raft/types.ts";
import type { MemberLog } from "../../../src/server/assemble.ts";

type Rec =
  | { readonly kind: "entries"; readonly entries: readonly Entry[] }
  | { readonly kind: "hard"; readonly hs: HardState }
  | { readonly kind: "restore"; readonly meta: SnapshotMeta }
  | { readonly kind: "marker"; readonly meta: SnapshotMeta };

const EMPTY = new Uint8Array(0);

/** What one member's log device holds across crashes. */
export class SimDisk {
  /** Records made durable, in order. */
  durable: Rec[] = [];
  /** Records handed to the device by a sync that has not finished. */
  written: Rec[] = [];

  /** After a crash: what survives. `processOnly`: the OS still wrote out what it was given. */
  crash(processOnly: boolean): void {
    if (processOnly) this.durable.push(...this.written);
    this.written = [];
  }
}

export class SimLog implements MemberLog {
  private readonly mem = new MemoryStorage();
  private hs: HardState;
  private snap: SnapshotMeta;
  /** Records not yet handed to the disk. */
  private buffer: Rec[] = [];
  private dead = false;
  private chain: Promise<void> = Promise.resolve();

  /**
   * @param fsync resolves once a sync's records are durable (the simulator picks the delay)
   */
  constructor(
    private readonly disk: SimDisk,
    private readonly fsync: () => Promise<void>,
  ) {
    this.hs = { term: 0, vote: 0n, commit: 0 };
    this.snap = { index: 0, term: 0, confState: { voters: [], learners: [] } };
    // Replay the device, as the WAL does at open.
    for (const r of disk.durable) this.replay(r);
    const snapIndex = this.snap.index;
    if (snapIndex > this.mem.firstIndex() - 1 && snapIndex <= this.mem.lastIndex()) this.mem.compact(snapIndex);
  }

  /** A crashed member's log: nothing more reaches the disk, syncs never finish. */
  fence(): void {
    this.dead = true;
  }

  private replay(r: Rec): void {
    switch (r.kind) {
      case "entries":
        if (r.entries.length > 0 && r.entries[r.entries.length - 1]!.index >= this.mem.firstIndex()) this.mem.append(r.entries);
        break;
      case "hard":
        this.hs = r.hs;
        this.mem.setHardState(r.hs);
        break;
      case "restore":
        this.restore(r.meta);
        break;
      case "marker":
        this.snap = r.meta;
        break;
    }
  }

  private restore(meta: SnapshotMeta): void {
    this.snap = meta;
    this.mem.applySnapshot({ meta, data: EMPTY });
    if (this.hs.commit < meta.index) {
      this.hs = { ...this.hs, commit: meta.index };
      this.mem.setHardState(this.hs);
    }
  }

  private record(r: Rec): void {
    if (!this.dead) this.buffer.push(r);
  }

  // ---- Storage (the core reads it) ----

  initialState(): InitialState {
    return { hardState: this.hs, confState: this.snap.confState };
  }
  entries(lo: number, hi: number, maxSize?: number): Entry[] {
    return this.mem.entries(lo, hi, maxSize);
  }
  term(i: number): number {
    return this.mem.term(i);
  }
  firstIndex(): number {
    return this.mem.firstIndex();
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  snapshot(): Snapshot {
    return { meta: this.snap, data: EMPTY };
  }

  // ---- what the loop writes ----

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    // The real log refuses this too (raft-log.ts): committed entries are never overwritten.
    assert(entries[0]!.index > this.hs.commit || entries[entries.length - 1]!.index <= this.hs.commit, () => `sim log: append at ${entries[0]!.index} would overwrite committed entries (commit ${this.hs.commit})`);
    this.mem.append(entries);
    this.record({ kind: "entries", entries: [...entries] });
  }

  setHardState(hs: HardState): void {
    assert(hs.term >= this.hs.term, () => `sim log: hardState term ${hs.term} below ${this.hs.term}`);
    this.hs = hs;
    this.mem.setHardState(hs);
    this.record({ kind: "hard", hs });
  }

  applySnapshot(snap: Snapshot | SnapshotMeta): void {
    const meta = "meta" in snap ? snap.meta : snap;
    this.restore(meta);
    this.record({ kind: "restore", meta });
  }

  createSnapshot(index: number, confState: ConfState): SnapshotMeta {
    const meta: SnapshotMeta = { index, term: this.term(index), confState };
    this.snap = meta;
    this.record({ kind: "marker", meta });
    return meta;
  }

  compact(index: number): void {
    this.mem.compact(index);
  }

  snapshotMeta(): SnapshotMeta {
    return this.snap;
  }

  /** Hands what is buffered to the disk; resolves once it is durable. */
  sync(): Promise<void> {
    if (this.dead) return new Promise(() => {});
    const batch = this.buffer;
    this.buffer = [];
    const p = this.chain.then(async () => {
      if (this.dead) return new Promise<void>(() => {});
      this.disk.written.push(...batch);
      await this.fsync();
      if (this.dead) return new Promise<void>(() => {});
      // Durable now: everything written so far (this batch and any before it) is on the device.
      this.disk.durable.push(...this.disk.written);
      this.disk.written = [];
    });
    this.chain = p.catch(() => {});
    return p;
  }

  async close(): Promise<void> {
    if (!this.dead) await this.sync();
  }
}
