// Raft's data types, shared by the pure core (src/raft), durable storage (src/storage) and the
// server loop. Index and term are numbers (asserted safe integers); node IDs are bigint.

export const EntryType = {
  Normal: 0,
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Normal: an encoded InternalRaftRequest (empty for the leader's no-op); ConfChange: an encoded ConfChange. */
  readonly data: Uint8Array;
}

/** Persisted before any message that depends on it is sent (Raft thesis §3.8). */
export interface HardState {
  readonly term: number;
  readonly vote: bigint; // 0n = none
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly bigint[];
  readonly learners: readonly bigint[];
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine image; opaque to raft. */
  readonly data: Uint8Array;
}

export const emptyHardState: HardState = { term: 0, vote: 0n, commit: 0 };
