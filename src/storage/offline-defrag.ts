// Defragmenting the state file of a member that is not running (`conclave ctl defrag
// --data-dir`, etcdctl's offline defrag): the data dir's lock is taken first, so a running
// member is never touched; then the same work as the Defragment RPC (the free pages given back
// to the file system, SQLite's WAL folded in and truncated).
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "libsql";
import { lockDir } from "./dir-lock.ts";

export const STATE_FILE = "state.db";

/** Throws with one line when the dir holds no Conclave state file or its member is running. */
export function defragmentOffline(dataDir: string): void {
  const memberDir = join(dataDir, "member");
  const path = join(memberDir, STATE_FILE);
  if (!existsSync(path)) {
    throw new Error(
      existsSync(join(memberDir, "snap", "db"))
        ? `${dataDir} is an etcd data dir (member/snap/db), not a Conclave one: defragment it with etcdctl`
        : `open ${path}: no such file or directory`,
    );
  }
  const lock = lockDir(memberDir, dataDir);
  try {
    const db = new Database(path);
    try {
      db.exec("PRAGMA incremental_vacuum");
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } finally {
      db.close();
    }
  } finally {
    lock.release();
  }
}
