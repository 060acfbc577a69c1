// Cutting the state file's SQLite WAL back in steps (src/storage/sqlite-wal-trim.ts): the used
// length read from the wal-index agrees with the file SQLite wrote, a cut never reaches a frame
// SQLite may still read (every row survives a reopen, which replays the WAL), and after a
// restart the file goes down to the size kept.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "libsql";
import { SqlDb } from "../../src/storage/sql-db.ts";
import { stateDdl, statePragmas } from "../../src/storage/schema.ts";
import { trimWalStep, walExtent } from "../../src/storage/sqlite-wal-trim.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const MB = 1 << 20;

function fresh(): { path: string; db: SqlDb } {
  const dir = mkdtempSync(join(tmpdir(), "conclave-wal-trim-"));
  dirs.push(dir);
  const path = join(dir, "state.db");
  const db = new SqlDb(path);
  for (const p of statePragmas) db.executeMultiple(p);
  for (const d of stateDdl) db.execute(d);
  // As while the checkpointer thread runs: the writer never checkpoints by itself.
  db.executeMultiple("PRAGMA wal_autocheckpoint=0");
  return { path, db };
}

let rev = 0;
function puts(db: SqlDb, n: number): void {
  const value = new Uint8Array(3000).fill(5);
  for (let i = 0; i < n; i++) {
    rev++;
    db.batch([
      { sql: "INSERT INTO kv VALUES (?, 0, ?, ?, ?, 1, '0', 0)", args: [rev, new TextEncoder().encode(`k${rev}`), value, rev] },
      { sql: "UPDATE meta SET applied_index = ?, revision = ? WHERE id = 1", args: [rev, rev] },
    ]);
  }
}

function count(path: string): number {
  const db = new SqlDb(path);
  const n = Number(db.execute("SELECT COUNT(*) FROM kv").rows[0]![0]);
  expect(db.execute("PRAGMA integrity_check").rows[0]![0]).toBe("ok");
  db.close();
  return n;
}

/** A checkpoint by a second connection, as the checkpointer thread's: copies every frame. */
function checkpointElsewhere(path: string): void {
  const other = new Database(path);
  other.exec("PRAGMA wal_checkpoint(PASSIVE)");
  other.close();
}

test("the used length read from the wal-index is the file SQLite wrote, until it restarts", () => {
  const { path, db } = fresh();
  puts(db, 3000);
  const e = walExtent(path)!;
  expect(e.size).toBeGreaterThan(8 * MB);
  // Nothing restarted the WAL: every frame in the file is in use.
  expect(e.used).toBe(e.size);
  db.close();
});

test("a WAL that has not restarted is not cut at all: every row survives a reopen", () => {
  const { path, db } = fresh();
  puts(db, 3000);
  const before = statSync(`${path}-wal`).size;
  expect(trimWalStep(path, 4 * MB, 8 * MB)).toBe("wait");
  expect(statSync(`${path}-wal`).size).toBe(before);
  const rows = Number(db.execute("SELECT COUNT(*) FROM kv").rows[0]![0]);
  // A copy of the files as they are (no checkpoint at close): the reopen replays the WAL.
  const copy = `${path}.copy`;
  for (const s of ["", "-wal"]) Bun.spawnSync(["cp", path + s, copy + s]);
  expect(count(copy)).toBe(rows);
  db.close();
});

test("after a restart the WAL is cut back in steps to the size kept, never below what the writer used since", () => {
  const { path, db } = fresh();
  puts(db, 6000);
  const grown = statSync(`${path}-wal`).size;
  expect(grown).toBeGreaterThan(16 * MB);
  checkpointElsewhere(path);
  // The next write restarts the WAL from its start: a few frames in use, the rest stale.
  puts(db, 20);
  const e = walExtent(path)!;
  expect(e.size).toBe(grown);
  expect(e.used).toBeLessThan(2 * MB);
  const steps: string[] = [];
  for (let r = ""; r !== "done" && steps.length < 100; ) steps.push((r = trimWalStep(path, 4 * MB, 8 * MB)));
  expect(steps.at(-1)).toBe("done");
  expect(steps.length).toBe(Math.ceil((grown - 4 * MB) / (8 * MB)));
  expect(statSync(`${path}-wal`).size).toBe(4 * MB);
  // The writer goes on past the cut, and every row is there after a reopen that replays the WAL.
  puts(db, 1500);
  const rows = Number(db.execute("SELECT COUNT(*) FROM kv").rows[0]![0]);
  const copy = `${path}.copy`;
  for (const s of ["", "-wal"]) Bun.spawnSync(["cp", path + s, copy + s]);
  expect(count(copy)).toBe(rows);
  db.close();
  expect(count(path)).toBe(rows);
});

test("a cut stops at the used length when the writer used more than the size kept", () => {
  const { path, db } = fresh();
  puts(db, 6000);
  checkpointElsewhere(path);
  puts(db, 2500); // ~10 MB in use after the restart
  const e = walExtent(path)!;
  expect(e.used).toBeGreaterThan(4 * MB);
  for (let i = 0; i < 100 && trimWalStep(path, 4 * MB, 8 * MB) === "more"; i++);
  expect(statSync(`${path}-wal`).size).toBe(e.used);
  const rows = Number(db.execute("SELECT COUNT(*) FROM kv").rows[0]![0]);
  const copy = `${path}.copy`;
  for (const s of ["", "-wal"]) Bun.spawnSync(["cp", path + s, copy + s]);
  expect(count(copy)).toBe(rows);
  db.close();
});
