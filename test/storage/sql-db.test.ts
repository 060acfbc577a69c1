import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqlDb } from "../../src/storage/sql-db.ts";

const dirs: string[] = [];
const dbs: SqlDb[] = [];
afterEach(() => {
  for (const d of dbs.splice(0)) d.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(path?: string): SqlDb {
  if (path === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "conclave-sql-"));
    dirs.push(dir);
    path = join(dir, "t.db");
  }
  const db = new SqlDb(path);
  dbs.push(db);
  db.execute("PRAGMA journal_mode=WAL");
  db.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB NOT NULL, s TEXT NOT NULL)");
  return db;
}

const ins = (k: number) => ({ sql: "INSERT INTO t (k, v, s) VALUES (?, ?, ?)", args: [k, new Uint8Array([k, 1, 2]), `s${k}`] });
const count = (db: SqlDb) => Number(db.execute("SELECT COUNT(*) FROM t").rows[0]![0]);

test("values come back as numbers, Uint8Array and string, rows as arrays in column order", () => {
  const db = open();
  db.batch([ins(7)]);
  const row = db.execute({ sql: "SELECT k, v, s FROM t WHERE k = ?", args: [7] }).rows[0]!;
  expect(row[0]).toBe(7);
  expect(row[1]).toBeInstanceOf(Uint8Array);
  expect([...(row[1] as Uint8Array)]).toEqual([7, 1, 2]);
  expect(row[2]).toBe("s7");
  expect(db.execute({ sql: "SELECT k FROM t WHERE k = ?", args: [8] }).rows).toEqual([]);
});

test("a group stays open until commitGroup; other connections see it only then; durableMark follows", () => {
  const db = open();
  const reader = new SqlDb(join(dirs[0]!, "t.db"));
  dbs.push(reader);
  db.write([ins(1)], 10);
  db.write([ins(2), ins(3)], 11);
  expect(db.pending).toBe(true);
  expect(count(db)).toBe(3); // the writer reads its own group
  expect(count(reader)).toBe(0); // nobody else does (a crash now loses the group)
  expect(db.durableMark).toBe(0);
  db.commitGroup();
  expect(db.pending).toBe(false);
  expect(db.durableMark).toBe(11);
  expect(count(reader)).toBe(3);
});

test("syncToDisk commits the group and writes its touch under synchronous=FULL (NORMAL restored); OFF writes nothing", () => {
  const db = open();
  const wal = join(dirs[0]!, "t.db-wal");
  const reader = new SqlDb(join(dirs[0]!, "t.db"));
  dbs.push(reader);
  const level = () => Number(db.execute("PRAGMA synchronous").rows[0]![0]);
  db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
  const touch = "INSERT INTO m (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1";
  db.execute("PRAGMA synchronous=NORMAL");
  db.write([ins(1)], 5);
  db.syncToDisk(touch);
  expect(db.durableMark).toBe(5);
  expect(count(reader)).toBe(1);
  expect(level()).toBe(1);
  // With nothing pending, the touch alone is written (one more WAL frame: the commit that syncs).
  const before = statSync(wal).size;
  db.syncToDisk(touch);
  expect(statSync(wal).size).toBeGreaterThan(before);
  expect(level()).toBe(1);
  // synchronous=OFF (--unsafe-no-fsync): nothing is ever synced, so no extra write either.
  db.execute("PRAGMA synchronous=OFF");
  db.write([ins(2)], 6);
  db.commitGroup();
  const off = statSync(wal).size;
  db.syncToDisk(touch);
  expect(statSync(wal).size).toBe(off);
  expect(level()).toBe(0);
  expect(count(reader)).toBe(2);
});

test("a failing statement rolls back the whole open group and leaves the mark alone", () => {
  const db = open();
  db.write([ins(1)], 1);
  db.commitGroup();
  db.write([ins(2)], 2);
  expect(() => db.write([ins(3), ins(3)], 3)).toThrow(/UNIQUE/);
  expect(db.pending).toBe(false);
  expect(count(db)).toBe(1); // 2 went with the group
  expect(db.durableMark).toBe(1);
  db.write([ins(4)], 4); // a new group starts cleanly
  db.commitGroup();
  expect(count(db)).toBe(2);
  expect(db.durableMark).toBe(4);
});

test("a write through execute or executeMultiple commits the open group first", () => {
  const db = open();
  const reader = new SqlDb(join(dirs[0]!, "t.db"));
  dbs.push(reader);
  db.write([ins(1)], 5);
  db.execute({ sql: "DELETE FROM t WHERE k = ?", args: [99] });
  expect(db.pending).toBe(false);
  expect(db.durableMark).toBe(5);
  expect(count(reader)).toBe(1);
  db.write([ins(2)], 6);
  db.executeMultiple("PRAGMA incremental_vacuum;");
  expect(db.durableMark).toBe(6);
  expect(count(reader)).toBe(2);
});

test("close rolls back an uncommitted group (what a crash does)", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-sql-"));
  dirs.push(dir);
  const path = join(dir, "t.db");
  const db = new SqlDb(path);
  db.execute("PRAGMA journal_mode=WAL");
  db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL, s TEXT NOT NULL)");
  db.batch([ins(1)]);
  db.write([ins(2)], 2);
  db.close();
  const again = new SqlDb(path);
  dbs.push(again);
  expect(count(again)).toBe(1);
});

test("statements are prepared once per text: the cache is bounded and still correct past its size", () => {
  const db = open();
  for (let i = 0; i < 600; i++) db.batch([{ sql: `INSERT INTO t (k, v, s) VALUES (${i}, x'00', 'n${i}')` }]);
  expect(count(db)).toBe(600);
});
