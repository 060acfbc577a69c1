// The side copy's parts without a member: SqlDb's recording of committed writes, the copy with
// the writes replayed giving the same rows as the file it copied (rowids included), and the
// switch's recovery at open (a decided copy is finished, an undecided one deleted).
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqlDb } from "../../src/storage/sql-db.ts";
import { stateDdl, statePragmas } from "../../src/storage/schema.ts";
import { defragBySideCopy, recoverSideCopy, sideCopyPath } from "../../src/server/side-copy-switch.ts";

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
  expect(existsSync(sideCopyPath(path))).toBe(false);
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
});
