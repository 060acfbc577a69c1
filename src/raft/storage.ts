// The read side of the Raft log, as the core sees it (modelled on etcd's raft.Storage).
//
// Contract for implementations (MemoryStorage here; a durable one elsewhere):
// - Synchronous. A durable implementation keeps the live log tail in memory (as etcd keeps a
//   MemoryStorage beside its WAL): it loads it at start and writes through on every Ready.
// - The log is the entries (firstIndex()-1, lastIndex()]. Index firstIndex()-1 is the last
//   compacted entry (the snapshot's index); term(firstIndex()-1) must still answer.
// - An empty log has firstIndex() = 1, lastIndex() = 0 and term(0) = 0.
// - entries/term throw CompactedError below firstIndex()-1 (resp. firstIndex()) and
//   UnavailableError above lastIndex(). The core turns CompactedError into a snapshot send.
// - snapshot() returns the most recent snapshot (index >= firstIndex()-1), or throws
//   SnapshotTemporarilyUnavailableError if it is being built; the core then retries later.
// - initialState().confState is the configuration as of the `applied` index given to the
//   RawNode (by default the snapshot's). The application re-applies committed conf changes
//   after that index when it replays the log.
// - Persist order for one Ready: snapshot (applySnapshot), then entries (append, which
//   truncates any conflicting suffix), then hardState. Only then send its messages.

import type { ConfState, Entry, HardState, Snapshot } from "./types.ts";

export class StorageError extends Error {}
/** The requested index is older than the first available entry. */
export class CompactedError extends StorageError {
  constructor() {
    super("requested index is unavailable due to compaction");
  }
}
/** The requested index is newer than the last available entry. */
export class UnavailableError extends StorageError {
  constructor() {
    super("requested entry at index is unavailable");
  }
}
/** The snapshot is older than one already in storage. */
export class SnapOutOfDateError extends StorageError {
  constructor() {
    super("requested index is older than the existing snapshot");
  }
}
export class SnapshotTemporarilyUnavailableError extends StorageError {
  constructor() {
    super("snapshot is temporarily unavailable");
  }
}

export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

export interface Storage {
  initialState(): InitialState;
  /** Entries in [lo, hi), at least one if any exist, at most maxSize bytes of data beyond the first. */
  entries(lo: number, hi: number, maxSize?: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** Keeps entries up to a total data size; always at least one. */
export function limitSize(ents: Entry[], maxSize: number | undefined): Entry[] {
  if (maxSize === undefined || ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/** Approximate encoded size of an entry (data plus a fixed header). */
export function entrySize(e: Entry): number {
  return e.data.length + 16;
}

export const emptyConfState: ConfState = { voters: [], learners: [] };
