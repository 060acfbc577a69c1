// A WAL checkpointer that runs beside the writer (on another thread, see
// src/runtime/checkpointer.ts). SQLite's automatic checkpoint runs inside a commit: it copies the
// WAL into the database file and fsyncs both, on the thread that committed — here the event
// loop, where it was the longest step of the apply loop (100-160 ms against sub-millisecond
// batches, docs/benchmarks.md). With a checkpointer the writer's connection turns its automatic
// checkpoint off and another connection runs `wal_checkpoint(PASSIVE)`, which never blocks the
// writer. Same durability: in WAL mode with synchronous=NORMAL a checkpoint syncs the WAL before
// copying and the file after, wherever it runs.

/** What the checkpointer reported after its last checkpoint. */
export interface CheckpointReport {
  /** Frames in the WAL. */
  readonly log: number;
  /** Frames of them copied into the database file. */
  readonly checkpointed: number;
}

export interface Checkpointer {
  /** Frames written to the WAL and not yet copied into the file, as last reported. */
  readonly backlog: number;
  /**
   * Resolves once the backlog is at most `frames` (background work waits on it so the WAL
   * cannot outgrow the checkpointer), or at once if it is already.
   */
  caughtUp(frames: number): Promise<void>;
  /** Stops checkpointing and closes the connection; resolves when it is closed. */
  stop(): Promise<void>;
}

/** Starts a checkpointer for the database file at `path` (already in WAL mode). */
export type OpenCheckpointer = (path: string) => Promise<Checkpointer>;
