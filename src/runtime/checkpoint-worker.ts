// The checkpointer's thread (see src/storage/checkpointer.ts): its own SQLite connection on the
// state file, a passive checkpoint every CHECKPOINT_EVERY_MS, a report to the writer's thread
// whenever the WAL held frames. Messages in: {path} to open, {stop: true} to close and exit.
import { parentPort } from "node:worker_threads";
import Database from "libsql";

const CHECKPOINT_EVERY_MS = 10;

interface RawStatement {
  raw(on: boolean): RawStatement;
  all(args: unknown[]): unknown[][];
}

const port = parentPort;
if (port === null) throw new Error("checkpoint-worker: not a worker thread");
let db: InstanceType<typeof Database> | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;

function tick(stmt: RawStatement): void {
  try {
    // [busy, frames in the WAL, frames copied]; busy = another checkpointer held the lock.
    const row = stmt.all([])[0] ?? [];
    const log = Number(row[1] ?? 0);
    const checkpointed = Number(row[2] ?? 0);
    if (log > 0) port!.postMessage({ log, checkpointed });
  } catch (e) {
    port!.postMessage({ error: String(e) });
  }
  timer = setTimeout(() => tick(stmt), CHECKPOINT_EVERY_MS);
}

port.on("message", (m: { path?: string; stop?: boolean }) => {
  if (m.stop) {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined; // its callback holds the statement
    db?.close();
    db = undefined;
    // libsql closes the connection when its statements are finalized, at a collection; a thread
    // that exits first leaves it open for good (with the WAL's descriptor, which would keep the
    // state file's other connection from being its last).
    // Collected from a fresh turn, where no frame of this one still holds the statement.
    setTimeout(() => {
      Bun.gc(true);
      port.postMessage({ stopped: true });
      port.close();
    }, 0);
    return;
  }
  if (m.path !== undefined && db === undefined) {
    db = new Database(m.path);
    db.exec("PRAGMA wal_autocheckpoint=0");
    const stmt = (db.prepare("PRAGMA wal_checkpoint(PASSIVE)") as unknown as RawStatement).raw(true);
    port.postMessage({ opened: true });
    tick(stmt);
  }
});
