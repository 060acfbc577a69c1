// The side copy's thread (see src/runtime/side-copy.ts): writes a compact copy of the state file's
// live data into a new file, replays onto it the writes the member made since the copy's
// snapshot, and syncs it. The member's thread never writes the bulk.
//
// Says {ready} once loaded. Messages in, one at a time (each answered before the next is sent):
//   {open: {path, to}}  open `path` and create `to`: {opened}
//   {copy: true}        begin a read transaction on `path` (the snapshot), answer {snapshot},
//                       then copy every table into `to` and answer {copied, ms}
//   {checkpoint: true}  a passive WAL checkpoint of `path`, then its connection closed: {log, checkpointed}
//   {replay: stmts}     the statements in one transaction on the copy: {replayed, ms}
//   {settle: true}      the copy's WAL folded in and the copy synced: {settled, ms}
//   {finish: stmts}     replay, fold the copy's WAL in (emptied) and sync the copy: {finished, ms}
//   {abort: true}       close every connection: {aborted}
// Errors answer {error}.
import { parentPort } from "node:worker_threads";
import { writeSync } from "node:fs";
import Database from "libsql";
import { fsyncPath } from "../storage/fsync-path.ts";

type Args = unknown[];
interface Stmt {
  raw(on: boolean): Stmt;
  all(args?: Args): unknown[][];
  run(args?: Args): unknown;
  readonly reader: boolean;
}
interface Msg {
  open?: { path: string; to: string };
  copy?: boolean;
  checkpoint?: boolean;
  settle?: boolean;
  replay?: Array<{ sql: string; args: Args }>;
  finish?: Array<{ sql: string; args: Args }>;
  abort?: boolean;
}

const port = parentPort;
if (port === null) throw new Error("side-copy-worker: not a worker thread");
/** The state file, read at the snapshot (and checkpointed before the switch). */
let old: InstanceType<typeof Database> | undefined;
/** The copy. */
let copy: InstanceType<typeof Database> | undefined;
let copyPath = "";
const prepared = new Map<string, Stmt>();

function stmt(db: InstanceType<typeof Database>, sql: string): Stmt {
  return db.prepare(sql) as unknown as Stmt;
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Test hook, inert unless CONCLAVE_TEST_SIDE_COPY_STOP=copy: says so on stderr and blocks this
 * thread mid-copy (the crash test SIGKILLs the member there).
 */
function testPause(): void {
  if (process.env.CONCLAVE_TEST_SIDE_COPY_STOP !== "copy") return;
  writeSync(2, "side copy: at copy\n");
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
}

let schema: Array<[string, string, string]> = [];

function openBoth(path: string, to: string): void {
  old = new Database(path);
  old.exec("PRAGMA wal_autocheckpoint=0");
  // The copy is scratch until it is switched in (a crash leaves it to be deleted at open): no
  // journal, no syncs but the ones below. auto_vacuum must be set before its first table.
  copyPath = to;
  copy = new Database(to);
  copy.exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;");
  const pageSize = Number(stmt(old, "PRAGMA page_size").raw(true).all()[0]![0]);
  const autoVacuum = Number(stmt(old, "PRAGMA auto_vacuum").raw(true).all()[0]![0]);
  copy.exec(`PRAGMA page_size=${pageSize}; PRAGMA auto_vacuum=${autoVacuum};`);
}

function startCopy(): void {
  const db = old!;
  db.exec("BEGIN");
  // The first read fixes the snapshot: the state at the point the member's thread holds still.
  const meta = stmt(db, "SELECT applied_index FROM meta WHERE id = 1").raw(true).all()[0];
  schema = stmt(db, "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid").raw(true).all() as Array<[string, string, string]>;
  port!.postMessage({ snapshot: Number(meta?.[0] ?? 0) });
  copyRows(db, copy!);
}

/** Bytes written to the copy between two syncs: its dirty pages stay few (see copyRows). */
const SYNC_EVERY_BYTES = 4 << 20;

function copyRows(old: InstanceType<typeof Database>, copy: InstanceType<typeof Database>): void {
  const t0 = performance.now();
  let written = 0;
  const tables = schema.filter((r) => r[0] === "table" && !r[1].startsWith("sqlite_"));
  for (const [, , sql] of tables) copy.exec(sql);
  copy.exec("BEGIN");
  for (const [, name, sql] of tables) {
    const cols = (stmt(old, `PRAGMA table_info(${quote(name)})`).raw(true).all() as Array<[number, string, string, number, unknown, number]>);
    const names = cols.map((c) => quote(c[1]));
    // Rowids are kept: rows keep the rowids the member's file gives them, so statements
    // replayed here (and every later write) find and number rows the same way.
    const pk = cols.filter((c) => c[5] > 0);
    const rowidAlias = pk.length === 1 && pk[0]![2].toUpperCase() === "INTEGER";
    const keepRowid = !/WITHOUT\s+ROWID/i.test(sql) && !rowidAlias;
    const list = keepRowid ? ["rowid", ...names] : names;
    const ins = stmt(copy, `INSERT INTO ${quote(name)} (${list.join(", ")}) VALUES (${list.map(() => "?").join(", ")})`);
    const sel = stmt(old, `SELECT ${list.join(", ")} FROM ${quote(name)}`).raw(true) as unknown as { iterate(a?: Args): IterableIterator<Args> };
    for (const row of sel.iterate([])) {
      ins.run(row);
      for (const v of row) written += v instanceof Uint8Array || typeof v === "string" ? v.length + 8 : 8;
      if (written < SYNC_EVERY_BYTES) continue;
      // Synced as it goes: with the whole copy dirty in the page cache, its writeback throttled
      // the member's own writes and its fsyncs (700 ms stalls measured, docs/benchmarks.md).
      written = 0;
      copy.exec("COMMIT");
      syncFile(copyPath);
      testPause(); // the copy half written
      copy.exec("BEGIN");
    }
  }
  copy.exec("COMMIT");
  old.exec("COMMIT");
  // Indexes after the rows: built sorted, in one pass.
  for (const [type, , sql] of schema) if (type === "index" || type === "trigger" || type === "view") copy.exec(sql);
  // In WAL mode from here (the mode is in the file's header, so the member's writer opens it in
  // WAL mode without a journaled header write at the switch); the replayed statements go
  // through the copy's own WAL, which closing the copy folds in and deletes.
  copy.exec("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;");
  // Synced now, so the sync at the switch has only the replayed pages to write.
  syncFile(copyPath);
  port!.postMessage({ copied: true, ms: performance.now() - t0 });
}

function replay(stmts: Array<{ sql: string; args: Args }>): void {
  const db = copy!;
  db.exec("BEGIN");
  try {
    for (const s of stmts) {
      let p = prepared.get(s.sql);
      if (p === undefined) {
        p = stmt(db, s.sql);
        if (prepared.size > 64) prepared.clear();
        prepared.set(s.sql, p);
      }
      p.run(s.args);
    }
    db.exec("COMMIT");
  } catch (e) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw e;
  }
}

function syncFile(path: string): void {
  fsyncPath(path, "r+");
}

/**
 * Closes the state file's connection for good. libsql closes a connection once its statements
 * are finalized, at a garbage collection: this thread's heap is small, so one runs here and now.
 */
function closeOld(): void {
  try {
    old?.close();
  } finally {
    old = undefined;
    Bun.gc(true);
  }
}

function closeAll(): void {
  prepared.clear();
  try {
    closeOld();
  } finally {
    try {
      copy?.close();
    } finally {
      copy = undefined;
      Bun.gc(true);
    }
  }
}

port.postMessage({ ready: true });
port.on("message", (m: Msg) => {
  try {
    if (m.open !== undefined) {
      openBoth(m.open.path, m.open.to);
      port.postMessage({ opened: true });
    } else if (m.copy) startCopy();
    else if (m.checkpoint) {
      const row = stmt(old!, "PRAGMA wal_checkpoint(PASSIVE)").raw(true).all()[0] ?? [];
      closeOld();
      // Finalized (libsql closes a connection with its statements' finalization) before the
      // answer: the member's writer must be the file's only connection at the switch.
      setImmediate(() => port.postMessage({ log: Number(row[1] ?? 0), checkpointed: Number(row[2] ?? 0) }));
    } else if (m.settle) {
      const t0 = performance.now();
      // The replayed pages into the copy and onto the disk now, so the switch's sync has only
      // its last statements to write.
      copy!.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      syncFile(copyPath);
      port.postMessage({ settled: true, ms: performance.now() - t0 });
    } else if (m.replay !== undefined) {
      const t0 = performance.now();
      replay(m.replay);
      port.postMessage({ replayed: true, ms: performance.now() - t0 });
    } else if (m.finish !== undefined) {
      const t0 = performance.now();
      // The last statements, then the copy's WAL folded in and emptied and the copy synced: once
      // the member renames it into place it must hold everything it says it holds, whatever
      // happens to the machine. The connection stays open until {abort}, after the switch:
      // closing it here meant collections and a wait for libsql to finalize it (12 of a 20 ms
      // hold). Its own WAL and index keep the copy's names, which nothing else opens; a later
      // close finds the WAL empty and writes nothing to the file.
      if (m.finish.length > 0) replay(m.finish);
      const tf = performance.now();
      const row = stmt(copy!, "PRAGMA wal_checkpoint(TRUNCATE)").raw(true).all()[0] ?? [];
      if (Number(row[0]) !== 0 || Number(row[1]) > 0) throw new Error(`side copy: its WAL was not emptied (${row.join(",")})`);
      const t1 = performance.now();
      syncFile(copyPath);
      port.postMessage({ finished: true, ms: performance.now() - t0, foldMs: t1 - tf, syncMs: performance.now() - t1 });
    } else if (m.abort) {
      closeAll();
      port.postMessage({ aborted: true });
    }
  } catch (e) {
    try {
      closeAll();
    } catch {
      // already reported below
    }
    port.postMessage({ error: String(e) });
  }
});
