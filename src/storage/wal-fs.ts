// The file operations the WAL needs, as an injectable interface: tests wrap it to inject faults
// (a failing fsync, a short write), and the real one is plain `node:fs` on file descriptors so it
// runs unchanged on Bun, Node and Deno.
import * as fs from "node:fs";
import { allZero } from "./wal-segment.ts";

export interface WalFs {
  /** Creates the directory (and parents) if missing. */
  mkdir(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Reads a file from its start up to its end or up to and including the first `chunk`-sized
   * block that is all zero: a preallocated segment's unused tail is not read (or held) whole.
   */
  readUntilZeros(path: string, chunk: number): Promise<Uint8Array>;
  /** "create": create or truncate, read-write. "existing": open an existing file read-write. */
  open(path: string, mode: "create" | "existing"): Promise<number>;
  /** Writes at the given file position; may write fewer bytes than asked (returns the count). */
  write(fd: number, data: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  /**
   * fdatasync on the calling thread (optional: without it every sync goes through fdatasync).
   * It blocks the event loop for the flush, and saves the thread pool's two hand-offs.
   */
  fdatasyncInline?(fd: number): void;
  ftruncate(fd: number, length: number): Promise<void>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes directory entries (creations, renames, deletions) durable. */
  fsyncDir(dir: string): Promise<void>;
  /**
   * Reads `length` bytes at `position` of a closed-or-open file, synchronously: the raft log
   * reads evicted entry data back through it (optional: without it nothing is evicted).
   */
  readAt?(path: string, position: number, length: number): Uint8Array;
}

function cb<T>(run: (done: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
}

export const nodeWalFs: WalFs = {
  mkdir: async (dir) => {
    await fs.promises.mkdir(dir, { recursive: true });
  },
  readdir: (dir) => fs.promises.readdir(dir),
  readFile: async (path) => new Uint8Array(await fs.promises.readFile(path)),
  readUntilZeros: async (path, chunk) => {
    const fh = await fs.promises.open(path, "r");
    try {
      const parts: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const b = new Uint8Array(chunk);
        let n = 0;
        while (n < chunk) {
          const { bytesRead } = await fh.read(b, n, chunk - n, total + n);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
        parts.push(n === chunk ? b : b.subarray(0, n));
        total += n;
        if (n < chunk || allZero(b, 0, n)) break;
      }
      return parts.length === 1 ? parts[0]! : new Uint8Array(Buffer.concat(parts));
    } finally {
      await fh.close();
    }
  },
  open: (path, mode) => cb<number>((done) => fs.open(path, mode === "create" ? "w+" : "r+", 0o600, done)),
  // Written in place (a copy into the page cache, microseconds): an asynchronous write would
  // cost a round trip through the thread pool before the fdatasync that follows takes another.
  write: (fd, data, offset, length, position) => {
    try {
      return Promise.resolve(fs.writeSync(fd, data, offset, length, position));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  },
  fdatasync: (fd) => cb<void>((done) => fs.fdatasync(fd, (err) => done(err, undefined))),
  fdatasyncInline: (fd) => fs.fdatasyncSync(fd),
  ftruncate: (fd, length) => cb<void>((done) => fs.ftruncate(fd, length, (err) => done(err, undefined))),
  close: (fd) => cb<void>((done) => fs.close(fd, (err) => done(err, undefined))),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  readAt: (path, position, length) => {
    const out = new Uint8Array(length);
    const fd = fs.openSync(path, "r");
    try {
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, out, done, length - done, position + done);
        if (n <= 0) throw new Error(`wal: short read of ${path} at ${position + done}`);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return out;
  },
  fsyncDir: async (dir) => {
    // Opening a directory read-only and fsyncing it persists its entries on Linux and macOS.
    // Platforms that refuse (Windows) have no such guarantee to offer; skip there.
    let fd: number;
    try {
      fd = await cb<number>((done) => fs.open(dir, "r", done));
    } catch (err) {
      if (isCode(err, "EISDIR") || isCode(err, "EPERM") || isCode(err, "EACCES")) return;
      throw err;
    }
    try {
      await cb<void>((done) => fs.fsync(fd, (err) => done(err, undefined)));
    } catch (err) {
      if (!isCode(err, "EINVAL") && !isCode(err, "EBADF")) throw err;
    } finally {
      await cb<void>((done) => fs.close(fd, (err) => done(err, undefined)));
    }
  },
};

function isCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}
