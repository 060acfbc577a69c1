// A snapshot file on disk: the bbolt image, usually followed by the 32-byte SHA-256 of it
// (etcd's snapshot save writes both; a db file copied out of a data dir has no trailer).
// Reads are positional and synchronous: status and restore run outside the member's event loop.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { BoltReader, type RandomAccess } from "../bbolt/index.ts";
import { asSnapshotError, SnapshotError, SnapshotErrors } from "./errors.ts";
import { collectEvery } from "../runtime/heap-governor.ts";

const SHA_SIZE = 32;
const HASH_CHUNK = 1 << 20;

export class SnapshotFile {
  private closed = false;
  /** Counts the bytes read; a collection every COLLECT_EVERY_BYTES of them. */
  private readonly gc: (bytes: number) => void;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    /** Size of the whole file. */
    readonly size: number,
    collectGarbage: (() => void) | undefined,
  ) {
    this.gc = collectEvery(collectGarbage);
  }

  /** Told the size of every read (hash pass and pages), for a progress display. */
  onRead: ((bytes: number) => void) | undefined;

  /**
   * Opens path; failures read as Go's ("stat s.db: no such file or directory"). Each page read
   * is a fresh buffer that dies young; `collectGarbage` (a full collection, from src/runtime)
   * is called every COLLECT_EVERY_BYTES read to keep the peak down (RestoreOptions.collectGarbage).
   */
  static open(path: string, op: "stat" | "open", collectGarbage?: () => void): SnapshotFile {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw fsError(e, op, path);
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new SnapshotError(`read ${path}: is a directory`);
      return new SnapshotFile(path, fd, st.size, collectGarbage);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** etcd's rule: a file whose size is 32 mod 512 ends with a SHA-256 trailer. */
  get hasHash(): boolean {
    return this.size % 512 === SHA_SIZE;
  }

  /** Bytes of the bbolt image (the file without its trailer). */
  get imageSize(): number {
    return this.hasHash ? this.size - SHA_SIZE : this.size;
  }

  /**
   * etcd's restore check: without a trailer the file is refused unless skipHashCheck; with one,
   * the SHA-256 of the image must match it (skipped with skipHashCheck). Says whether it did.
   */
  verifyHash(skipHashCheck: boolean): boolean {
    if (!this.hasHash) {
      if (!skipHashCheck) throw SnapshotErrors.missingHash();
      return false;
    }
    if (skipHashCheck) return false;
    const expected = this.read(this.imageSize, SHA_SIZE);
    const h = createHash("sha256");
    const buf = new Uint8Array(HASH_CHUNK);
    for (let pos = 0; pos < this.imageSize; ) {
      const n = readSync(this.fd, buf, 0, Math.min(HASH_CHUNK, this.imageSize - pos), pos);
      if (n <= 0) throw new SnapshotError(`read ${this.path}: unexpected end of file`);
      h.update(buf.subarray(0, n));
      pos += n;
      this.onRead?.(n);
    }
    const got = new Uint8Array(h.digest());
    if (!bytesEqual(expected, got)) throw SnapshotErrors.hashMismatch(expected, got);
    return true;
  }

  /** The bbolt image: `whole` reads the file as bbolt would (trailer and all, as etcd's status). */
  bolt(whole = false): BoltReader {
    const size = whole ? this.size : this.imageSize;
    const access: RandomAccess = { size, read: (pos, len) => this.read(pos, len) };
    try {
      return BoltReader.open(access);
    } catch (e) {
      throw asSnapshotError(e);
    }
  }

  read(pos: number, len: number): Uint8Array {
    this.onRead?.(len);
    this.gc(len);
    const b = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, b, got, len - got, pos + got);
      if (n <= 0) throw new SnapshotError(`read ${this.path}: unexpected end of file`);
      got += n;
    }
    return b;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

function fsError(e: unknown, op: "stat" | "open", path: string): SnapshotError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return SnapshotErrors.noFile(op, path);
  if (code === "EACCES") return SnapshotErrors.unreadable(op, path, "permission denied");
  return SnapshotErrors.unreadable(op, path, (e as Error).message);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
