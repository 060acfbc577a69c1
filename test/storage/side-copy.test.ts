// The side copy's parts without a member: SqlDb's recording of committed writes, the copy with
// the writes replayed giving the same rows as the file it copied (rowids included), and the
// switch's recovery at open (a decided copy is finished, an undecided one deleted).
import { afterEach, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqlDb } from "../../src/storage/sql-db.ts";
import { stateDdl, statePragmas } from "../../src/storage/schema.ts";
import { defragBySideCopy, recoverSideCopy, sideCopyPath, type SideCopyHost } from "../../src/server/side-copy-switch.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-side-copy-"));
  dirs.push(dir);
  return join(dir, "state.db");
}

function stateDb(path: string): SqlDb {
  const db = new SqlDb(path);
  for (const p of statePragmas) db.executeMultiple(p);
  for (const d of stateDdl) db.execute(d);
  return db;
}

/** Every row of kv with its rowid, and meta: what two files must agree on. */
function dump(db: SqlDb): string {
  const kv = db.execute("SELECT rowid, revision, sub, hex(key), hex(value), lease, tombstone FROM kv ORDER BY rowid").rows;
  const meta = db.execute("SELECT * FROM meta").rows;
  return JSON.stringify({ kv, meta });
}

test("recording keeps committed writes in order, not reads, PRAGMAs or a rolled-back group", () => {
  const db = stateDb(tempPath());
  try {
    db.startRecording();
    db.write([{ sql: "INSERT INTO kv VALUES (?, 0, ?, ?, 1, 1, '0', 0)", args: [1, new Uint8Array([1]), new Uint8Array([2])] }, "SELECT COUNT(*) FROM kv"], 1);
    expect(db.recordedCount).toBe(0); // not committed yet
    db.commitGroup();
    db.executeMultiple("PRAGMA incremental_vacuum(1)");
    db.execute("UPDATE meta SET revision = 7 WHERE id = 1");
    expect(() => db.write([{ sql: "INSERT INTO kv VALUES (?, 0, ?, ?, 1, 1, '0', 0)", args: [2, new Uint8Array([1]), new Uint8Array([2])] }, "INSERT INTO nope VALUES (1)"], 2)).toThrow();
    const got = db.takeRecorded().map((r) => r.sql);
    expect(got).toEqual(["INSERT INTO kv VALUES (?, 0, ?, ?, 1, 1, '0', 0)", "UPDATE meta SET revision = 7 WHERE id = 1"]);
    expect(db.takeRecorded()).toEqual([]);
    db.stopRecording();
    db.execute("UPDATE meta SET revision = 8 WHERE id = 1");
    expect(db.recordedCount).toBe(0);
  } finally {
    db.close();
  }
});

test("a side copy switched in holds what the file held, rowids and later writes included", async () => {
  const path = tempPath();
  const db = stateDb(path);
  const key = (i: number) => new TextEncoder().encode(`k${i % 50}`);
  const value = new Uint8Array(3000).fill(9);
  let rev = 0;
  const put = () => {
    rev++;
    db.write([
      { sql: "INSERT INTO kv VALUES (?, 0, ?, ?, ?, 1, '0', 0)", args: [rev, key(rev), value, rev] },
      { sql: "UPDATE meta SET applied_index = ?, revision = ? WHERE id = 1", args: [rev, rev] },
    ], rev);
    db.commitGroup();
  };
  for (let i = 0; i < 2000; i++) put();
  // Most of the file freed, rows left with scattered rowids (as a compaction leaves them).
  db.execute("DELETE FROM kv WHERE rowid NOT IN (SELECT MAX(rowid) FROM kv GROUP BY key)");
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => T | Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => undefined);
    return p;
  };
  // Writes go on while the copy is made; a second file gets the same writes without a copy.
  const twin = stateDb(`${path}.twin`);
  twin.executeMultiple(`ATTACH '${path}' AS src; DELETE FROM main.kv; INSERT INTO main.kv (rowid, revision, sub, key, value, create_revision, version, lease, tombstone) SELECT rowid, * FROM src.kv; DELETE FROM main.meta; INSERT INTO main.meta SELECT * FROM src.meta; DETACH src;`);
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await serial(() => {
        put();
        twin.execute({ sql: "INSERT INTO kv VALUES (?, 0, ?, ?, ?, 1, '0', 0)", args: [rev, key(rev), value, rev] });
        twin.execute({ sql: "UPDATE meta SET applied_index = ?, revision = ? WHERE id = 1", args: [rev, rev] });
        // A delete by a rowid the same statement selects: replays alike only if rowids are kept.
        const del = { sql: "DELETE FROM kv WHERE rowid IN (SELECT rowid FROM kv WHERE revision < ? ORDER BY rowid LIMIT 1)", args: [rev - 40] };
        db.execute(del);
        twin.execute(del);
      });
      await new Promise((r) => setImmediate(r));
    }
  })();
  const r = await defragBySideCopy(
    {
      db,
      path,
      pragmas: statePragmas,
      closed: false,
      serial: (_kind, fn) => serial(fn),
      fail: (e) => {
        throw e;
      },
      othersClosed: () => true,
      readersGone: () => Promise.resolve(true),
    },
    () => performance.now(),
  );
  writing = false;
  await writer;
  expect(r.reason).toBeUndefined();
  expect(r.switched).toBe(true);
  for (const s of ["", "-wal", "-shm", "-journal"]) expect(existsSync(sideCopyPath(path) + s)).toBe(false);
  // Writes after the switch land in the new file and number rows as the twin does.
  for (let i = 0; i < 10; i++) {
    put();
    twin.execute({ sql: "INSERT INTO kv VALUES (?, 0, ?, ?, ?, 1, '0', 0)", args: [rev, key(rev), value, rev] });
    twin.execute({ sql: "UPDATE meta SET applied_index = ?, revision = ? WHERE id = 1", args: [rev, rev] });
  }
  expect(dump(db)).toBe(dump(twin));
  const [pages, free] = db.execute("SELECT * FROM pragma_page_count(), pragma_freelist_count()").rows[0]!.map(Number);
  expect(free!).toBeLessThan(pages! / 4); // the free pages went with the old file
  expect(db.execute("PRAGMA integrity_check").rows[0]![0]).toBe("ok");
  expect(String(db.execute("PRAGMA journal_mode").rows[0]![0])).toBe("wal");
  db.close();
  twin.close();
});

test("at open, a decided copy is switched in and an undecided one deleted", () => {
  const path = tempPath();
  writeFileSync(path, "old");
  writeFileSync(`${path}-wal`, "old wal");
  writeFileSync(`${path}-shm`, "old shm");
  writeFileSync(sideCopyPath(path), "half a copy");
  expect(recoverSideCopy(path)).toBe(false);
  expect(existsSync(sideCopyPath(path))).toBe(false);
  expect(existsSync(`${path}-wal`)).toBe(true); // an undecided copy leaves the old file alone

  writeFileSync(`${path}.switch`, "the copy");
  expect(recoverSideCopy(path)).toBe(true);
  expect(Bun.file(path).size).toBe("the copy".length);
  expect(existsSync(`${path}-wal`)).toBe(false);
  expect(existsSync(`${path}-shm`)).toBe(false);
  expect(existsSync(`${path}.switch`)).toBe(false);

  // The old file and WAL under the names a switch gives them while they are deleted.
  writeFileSync(`${path}.retired`, "old file");
  writeFileSync(`${path}.retired-log`, "old wal");
  expect(recoverSideCopy(path)).toBe(false);
  expect(existsSync(`${path}.retired`)).toBe(false);
  expect(existsSync(`${path}.retired-log`)).toBe(false);
  expect(Bun.file(path).size).toBe("the copy".length);
});

/** Resolves once `paths` are all gone (they are deleted on the pool, after the switch returns). */
async function gone(paths: string[]): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (paths.every((p) => !existsSync(p))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

test("the old file and its WAL leave the switch under second names, deleted after it", async () => {
  const { db, host, failures } = smallState(tempPath());
  const path = host.path;
  const before = dump(db);
  // The old file's inode, to see it emptied: its last name is the retired one once the copy
  // has taken the state file's name.
  const oldInode = statSync(path).ino;
  const links: Array<[string, number]> = [];
  const executeMultiple = db.executeMultiple.bind(db);
  db.executeMultiple = (sql) => {
    // Just before leaving WAL mode: both second names exist, on the old file and on its WAL.
    if (/synchronous=OFF/.test(sql)) {
      for (const p of [`${path}.retired`, `${path}.retired-log`]) links.push([p, existsSync(p) ? statSync(p).nlink : 0]);
      expect(statSync(`${path}.retired`).ino).toBe(oldInode);
    }
    executeMultiple(sql);
  };
  const r = await defragBySideCopy(host, () => performance.now());
  expect(r.reason).toBeUndefined();
  expect(r.switched).toBe(true);
  expect(links).toEqual([[`${path}.retired`, 2], [`${path}.retired-log`, 2]]);
  expect(statSync(path).ino).not.toBe(oldInode);
  expect(await gone([`${path}.retired`, `${path}.retired-log`])).toBe(true);
  expect(dump(db)).toBe(before);
  expect(failures).toEqual([]);
  db.close();
});

test("a switch undone keeps the state file whole: its second name goes, not its data", async () => {
  const { db, host, failures } = smallState(tempPath());
  const path = host.path;
  const before = dump(db);
  // Leaving WAL mode refused: the switch is undone after the names were given.
  const execute = db.execute.bind(db);
  db.execute = (s) => {
    if (typeof s === "string" && /journal_mode=DELETE/.test(s)) throw new Error("SQLITE_BUSY");
    return execute(s);
  };
  const r = await defragBySideCopy(host, () => performance.now());
  expect(r.switched).toBe(false);
  expect(r.reason).toContain("SQLITE_BUSY");
  expect(await gone([`${path}.retired`, `${path}.retired-log`])).toBe(true);
  // Neither the file nor its WAL (still in use: leaving WAL mode never happened) was cut:
  // the rows and the integrity check below read both.
  expect(statSync(path).nlink).toBe(1);
  expect(statSync(`${path}-wal`).nlink).toBe(1);
  expect(failures).toEqual([]);
  // Read afresh: the connection's own page cache would not see a file cut from outside.
  db.close();
  const again = new SqlDb(path);
  expect(dump(again)).toBe(before);
  expect(again.execute("PRAGMA integrity_check").rows[0]![0]).toBe("ok");
  again.close();
});

/** A file with a few rows, and a host for it whose steps run one after the other. */
function smallState(path: string): { db: SqlDb; host: SideCopyHost; failures: unknown[] } {
  const db = stateDb(path);
  for (let rev = 1; rev <= 20; rev++) {
    db.write([
      { sql: "INSERT INTO kv VALUES (?, 0, ?, ?, ?, 1, '0', 0)", args: [rev, new TextEncoder().encode(`k${rev}`), new Uint8Array(100), rev] },
      { sql: "UPDATE meta SET applied_index = ?, revision = ? WHERE id = 1", args: [rev, rev] },
    ], rev);
    db.commitGroup();
  }
  const failures: unknown[] = [];
  const host: SideCopyHost = {
    db, path, pragmas: statePragmas, closed: false,
    serial: async (_kind, fn) => fn(),
    fail: (e) => failures.push(e),
    othersClosed: () => true,
    readersGone: () => Promise.resolve(true),
  };
  return { db, host, failures };
}

test("through a symbolic link to the data dir, a descriptor still open on the old WAL is seen and the switch given up", async () => {
  const real = tempPath();
  const link = join(tmpdir(), `conclave-side-copy-link-${process.pid}-${Date.now()}`);
  symlinkSync(join(real, ".."), link);
  dirs.push(link);
  const path = join(link, "state.db");
  const { db, host, failures } = smallState(path);
  const before = dump(db);
  // As a connection closed but not finalized holds it: SQLite does not know of this one, so
  // leaving WAL mode deletes the file, and only /proc/self/fd (which names it by its real path,
  // "<real>-wal (deleted)") shows it open.
  const fd = openSync(`${real}-wal`, "r");
  try {
    const r = await defragBySideCopy(host, () => performance.now());
    expect(r.switched).toBe(false);
    expect(r.reason).toContain(`${real}-wal`);
  } finally {
    closeSync(fd);
  }
  expect(failures).toEqual([]);
  expect(existsSync(`${path}.switch`)).toBe(false);
  expect(dump(db)).toBe(before);
  expect(String(db.execute("PRAGMA journal_mode").rows[0]![0])).toBe("wal");
  db.close();
});

test("a step that throws past the decision stops the member's writes", async () => {
  const { db, host, failures } = smallState(tempPath());
  // Leaving WAL mode refused (another connection), then going back to it fails: the connection
  // would be left out of WAL mode with synchronous=OFF.
  const execute = db.execute.bind(db);
  db.execute = (s) => {
    if (typeof s === "string" && /journal_mode=DELETE/.test(s)) throw new Error("SQLITE_BUSY");
    return execute(s);
  };
  const executeMultiple = db.executeMultiple.bind(db);
  db.executeMultiple = (sql) => {
    if (/journal_mode=WAL/.test(sql)) throw new Error("disk I/O error");
    executeMultiple(sql);
  };
  const r = await defragBySideCopy(host, () => performance.now());
  expect(r.switched).toBe(false);
  expect(failures.map(String)).toEqual(["Error: disk I/O error"]);
  db.close();
});
