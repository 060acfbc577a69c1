// An exclusive lock on a data dir, held for as long as the member runs, so that a second
// process started on the same directory refuses to start instead of writing beside the first
// (etcd holds flocks on its WAL files and its database for the same reason).
//
// The lock is SQLite's own file lock on a tiny database in the directory, taken through the
// driver the member already loads: an exclusive transaction in exclusive locking mode that is
// never committed. The operating system drops it when the process ends, however it ends, so a
// SIGKILLed member never leaves a stale lock behind. No journal is written (journal_mode=OFF).
import Database from "libsql";

export const LOCK_FILE = "lock";

/** Another live process holds the lock. */
export class DirLockedError extends Error {
  constructor(readonly dir: string) {
    super(`another process is using data dir "${dir}" and holds its lock (${dir}/${LOCK_FILE}); stop it before starting this one`);
    this.name = "DirLockedError";
  }
}

export interface DirLock {
  /** Drops the lock (the member stopped). */
  release(): void;
}

/** Takes the lock on `dir` (which must exist) without waiting; throws DirLockedError if held. */
export function lockDir(dir: string, display = dir): DirLock {
  const db = new Database(`${dir}/${LOCK_FILE}`, { timeout: 0 });
  try {
    db.exec("PRAGMA journal_mode=OFF");
    db.exec("PRAGMA locking_mode=EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === "SQLITE_BUSY") throw new DirLockedError(display);
    throw err;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}
