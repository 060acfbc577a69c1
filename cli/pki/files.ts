// Writing what a command made: every file goes to a temporary name first and is renamed into
// place only when all were written, so a failure leaves no half set (a new CA without its key,
// a certificate without its key). Keys are 0600 from the first byte; certificates 0644.
// Existing files are kept unless --force: replacing a CA silently would orphan every
// certificate it signed.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PkiError } from "./args.ts";

export interface OutputFile {
  readonly path: string;
  readonly content: string;
  /** A private key: mode 0600. */
  readonly secret: boolean;
}

/** A one-line reason for a file-system error ("permission denied", "not a directory"). */
export function fsReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  const known: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    ENOTDIR: "a parent is not a directory",
    ENOENT: "no such file or directory",
    EEXIST: "already exists",
    EISDIR: "is a directory",
    EROFS: "read-only file system",
    ENOSPC: "no space left on device",
  };
  return (code !== undefined ? known[code] : undefined) ?? (e instanceof Error ? e.message : String(e));
}

export function writeOutputs(files: readonly OutputFile[], force: boolean): void {
  if (!force) {
    for (const f of files) if (existsSync(f.path)) throw new PkiError(`${f.path} already exists (use --force to replace it)`);
  }
  const written: string[] = [];
  try {
    for (const f of files) {
      try {
        mkdirSync(dirname(f.path), { recursive: true, mode: 0o755 });
      } catch (e) {
        throw new PkiError(`cannot create directory ${dirname(f.path)}: ${fsReason(e)}`);
      }
      const tmp = `${f.path}.tmp-${process.pid}`;
      try {
        writeFileSync(tmp, f.content, { mode: f.secret ? 0o600 : 0o644, flag: "wx" });
        chmodSync(tmp, f.secret ? 0o600 : 0o644);
      } catch (e) {
        throw new PkiError(`cannot write ${f.path}: ${fsReason(e)}`);
      }
      written.push(tmp);
    }
    for (const f of files) renameSync(`${f.path}.tmp-${process.pid}`, f.path);
  } catch (e) {
    for (const tmp of written) rmSync(tmp, { force: true });
    throw e;
  }
}

export function readInput(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new PkiError(`cannot read ${what} ${path}: ${fsReason(e)}`);
  }
}
