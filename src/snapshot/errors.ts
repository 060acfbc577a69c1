// The messages snapshot status and restore fail with: one line each, etcdctl 3.4.23's text
// where etcdctl has one (observed with Debian's etcdctl against the same damaged files).
import { BoltError } from "../bbolt/index.ts";

export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
}

/** A damaged page found while reading (BoltError) reads as a snapshot error; others pass. */
export function asSnapshotError(e: unknown): unknown {
  return e instanceof BoltError ? new SnapshotError(e.message) : e;
}

/** Go's %v of a []byte: "[1 2 3]". */
function goBytes(b: Uint8Array): string {
  return `[${Array.from(b).join(" ")}]`;
}

export const SnapshotErrors = {
  /** The file's size is not 32 mod 512, so it carries no SHA-256 trailer. */
  missingHash: () => new SnapshotError("snapshot missing hash but --skip-hash-check=false"),
  hashMismatch: (expected: Uint8Array, got: Uint8Array) => new SnapshotError(`expected sha256 ${goBytes(expected)}, got ${goBytes(got)}`),
  /** os.Stat / os.Open failures, as Go prints them. */
  noFile: (op: "stat" | "open", path: string) => new SnapshotError(`${op} ${path}: no such file or directory`),
  unreadable: (op: "stat" | "open", path: string, why: string) => new SnapshotError(`${op} ${path}: ${why}`),
  dataDirExists: (dir: string) => new SnapshotError(`data-dir ${JSON.stringify(dir)} exists`),
  walDirExists: (dir: string) => new SnapshotError(`wal-dir ${JSON.stringify(dir)} exists`),
  /**
   * bbolt's tx.Check found problems. etcdctl prints the count, then one problem per line; here
   * the same text on one line, with the first few problems.
   */
  integrity: (errors: readonly string[]) =>
    new SnapshotError(
      `snapshot file integrity check failed. ${errors.length} errors found. ${errors.slice(0, 3).join("; ")}${errors.length > 3 ? "; …" : ""}`,
    ),
  missingBucket: (name: string) => new SnapshotError(`snapshot has no ${JSON.stringify(name)} bucket: not an etcd snapshot`),
} as const;
