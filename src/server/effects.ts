// The effects a member reaches outside its own memory, apart from the Raft log and SQLite:
// wall-clock time, randomness, timers and the few file operations on snapshot images. The
// member takes them as one object (src/runtime/effects.ts builds the real one for main), so the
// seeded simulator (test/sim) runs the very same server, raft loop, state machine, MVCC and
// lease code on simulated time and deterministic files.
import { open, rename, rm } from "node:fs/promises";
import { openSync, closeSync, fsyncSync } from "node:fs";

/** Timer functions (the Web/Node ones by default). Handles are opaque. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  /** Runs `fn` after pending I/O callbacks (lets other work in between long loops). */
  setImmediate(fn: () => void): void;
}

/** A file opened for reading in chunks. */
export interface ReadableFile {
  readonly size: number;
  /** Reads into `buf` from `position`; resolves with the bytes read. */
  read(buf: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

/** File operations on snapshot images and the state file. */
export interface FileEffects {
  openRead(path: string): Promise<ReadableFile>;
  /** Removes a file; no error if it is not there. */
  remove(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Makes a directory's entries (a rename into it) survive a power loss. */
  syncDir(path: string): Promise<void>;
}

export interface MemberEffects {
  /** Wall-clock milliseconds (lease deadlines, request deadlines, IDs). */
  readonly clock: () => number;
  readonly rng: () => number;
  readonly timers: Timers;
  readonly files: FileEffects;
}

/** The host's timers (Web standard and Node's setImmediate). */
export const hostTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
  setImmediate: (fn) => void setImmediate(fn),
};

/** node:fs, asynchronous (the thread pool does the I/O). */
export const hostFiles: FileEffects = {
  async openRead(path) {
    const fh = await open(path, "r");
    const size = (await fh.stat()).size;
    return {
      size,
      read: async (buf, position) => (await fh.read(buf, 0, buf.length, position)).bytesRead,
      close: () => fh.close(),
    };
  },
  remove: (path) => rm(path, { force: true }),
  rename: (from, to) => rename(from, to),
  async syncDir(path) {
    const fd = openSync(path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};
