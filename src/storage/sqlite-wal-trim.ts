// Giving back the state file's SQLite WAL (`<file>-wal`) a step at a time. While background work
// runs, the checkpointer thread trails the writer and the WAL never restarts, so it grows to the
// size of everything written meanwhile (340 MB measured during a 500 MB compaction). SQLite's own
// way back is journal_size_limit: the writer's first commit after the WAL restarts truncates the
// file, in one ftruncate on the member's thread, with the chain held — freeing 340 MB of blocks
// and page cache took 130-150 ms there. Here the file is cut from its end in bounded steps
// instead, each run by the caller on the writer chain, between apply batches.
//
// Safe because nothing is cut that SQLite may still read: on the chain, with the writer's group
// committed, no frame is being written (the writer's connection is the only one that appends
// frames; an open transaction may have spilled frames past mxFrame), and the WAL's used
// length is read from the wal-index header SQLite keeps in `<file>-shm` (its mxFrame and page
// size; sqlite/src/wal.c, WalIndexHdr). Frames past mxFrame are stale: a reader never reads
// past the mxFrame of its snapshot, and the WAL restarts only when no reader uses it.
import { closeSync, openSync, readSync, statSync, truncateSync } from "node:fs";

/** The WAL file's header (sqlite/src/wal.c WAL_HDRSIZE) and each frame's (WAL_FRAME_HDRSIZE). */
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

export interface WalExtent {
  /** Bytes of the WAL file in use: its header and frames 1..mxFrame. */
  readonly used: number;
  /** The file's size. */
  readonly size: number;
}

/**
 * The WAL's used length and size, or undefined when the file has no WAL or its index is not a
 * SQLite wal-index this code knows (not initialised, another version).
 */
export function walExtent(path: string): WalExtent | undefined {
  let size: number;
  let fd: number;
  try {
    size = statSync(`${path}-wal`).size;
    fd = openSync(`${path}-shm`, "r");
  } catch {
    return undefined;
  }
  const h = Buffer.alloc(48);
  try {
    if (readSync(fd, h, 0, 48, 0) < 48) return undefined;
  } finally {
    closeSync(fd);
  }
  // iVersion 3007000 (WALINDEX_MAX_VERSION), isInit set; little- or big-endian as written.
  const le = h.readUInt32LE(0) === 3007000;
  if ((!le && h.readUInt32BE(0) !== 3007000) || h[12] !== 1) return undefined;
  const sz = le ? h.readUInt16LE(14) : h.readUInt16BE(14);
  const mxFrame = le ? h.readUInt32LE(16) : h.readUInt32BE(16);
  const pageSize = sz === 1 ? 65536 : sz;
  return { used: WAL_HEADER_BYTES + mxFrame * (FRAME_HEADER_BYTES + pageSize), size };
}

/** Where the WAL can be cut down to now: never below what is in use nor below `keepBytes`. */
export function trimFloor(e: WalExtent, keepBytes: number): number {
  return Math.max(e.used, keepBytes);
}

/**
 * One step: cuts at most `stepBytes` off the WAL's end, never below trimFloor. "done" when the
 * file is down to `keepBytes`, "wait" when what is in use is all that is above it (the WAL has
 * not restarted yet), "more" after a cut with more to go.
 * Must run on the writer chain with no transaction open (see the top).
 */
export function trimWalStep(path: string, keepBytes: number, stepBytes: number): "done" | "wait" | "more" {
  const e = walExtent(path);
  if (e === undefined || e.size <= keepBytes) return "done";
  const floor = trimFloor(e, keepBytes);
  if (e.size <= floor) return "wait";
  const to = Math.max(floor, e.size - stepBytes);
  truncateSync(`${path}-wal`, to);
  if (to <= keepBytes) return "done";
  return to === floor ? "wait" : "more";
}
