// The index keeps key and value bytes packed in arena slabs: reads return the bytes written,
// overwrites and deletes are accounted as dead bytes, and a repack moves live keys to fresh
// slabs without changing what earlier-handed-out entries read.
import { SqlDb } from "../../src/storage/sql-db.ts";
import { expect, test } from "bun:test";
import { fromKey, MvccStore, ValueArena, type LiveKey } from "../../src/mvcc/index.ts";
import { stateDdl } from "../../src/storage/schema.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function bigValue(tag: number, size: number): Uint8Array {
  const v = new Uint8Array(size);
  for (let i = 0; i < size; i++) v[i] = (i + tag * 13) & 0xff;
  return v;
}

test("ArenaKey reads back copies of its key and value, large pairs included", () => {
  const a = new ValueArena();
  const small = a.pack("k1", enc.encode("k1"), enc.encode("hello"), 2, 3, 1, 5n);
  const empty = a.pack("k2", enc.encode("k2"), new Uint8Array(0), 4, 4, 1, 0n);
  const large = a.pack("k3", enc.encode("k3"), bigValue(1, 600 * 1024), 5, 5, 1, 0n);
  expect(dec.decode(small.key)).toBe("k1");
  expect(dec.decode(small.value)).toBe("hello");
  expect([small.createRevision, small.modRevision, small.version, small.lease]).toEqual([2, 3, 1, 5n]);
  expect(empty.value.length).toBe(0);
  expect(large.value).toEqual(bigValue(1, 600 * 1024));
  // A caller mutating what it read does not reach the arena.
  small.value[0] = 0;
  expect(dec.decode(small.value)).toBe("hello");
  // Large pairs live in their own buffer and are not counted in the slabs.
  expect(a.stats()).toEqual({ live: 2 + 5 + 2, dead: 0 });
  a.retire(small);
  a.retire(large);
  expect(a.stats()).toEqual({ live: 2, dead: 7 });
});

test("overwrites trigger a repack that keeps every live key and leaves old entries readable", async () => {
  const db = new SqlDb(":memory:");
  for (const s of stateDdl) await db.execute(s);
  const store = await MvccStore.open(db, { revision: 1, compactRevision: 0, scheduledCompact: 0 });
  const first = new Map<string, LiveKey>();
  const size = 100 * 1024;
  let repacks = 0;
  let lastDead = 0;
  for (let round = 0; round < 30; round++) {
    for (const name of ["a", "b", "c", "d"]) {
      const txn = store.beginWrite();
      const { kv } = txn.put(fromKey(name), name, bigValue(round, size), 0n);
      txn.end();
      if (round === 0) first.set(name, kv);
    }
    const dead = store.arena.stats().dead;
    if (dead < lastDead) repacks++;
    lastDead = dead;
    store.takeStatements();
    store.takeChanges();
  }
  expect(repacks).toBeGreaterThan(0);
  // The repack dropped the dead bytes: only the four live values remain counted.
  expect(store.arena.stats().live).toBe(4 * (1 + size));
  for (const name of ["a", "b", "c", "d"]) {
    const kv = store.index.get(name)!;
    expect(kv.value).toEqual(bigValue(29, size));
    expect(kv.version).toBe(30);
    expect(dec.decode(kv.key)).toBe(name);
    // Entries handed out before any repack still read their own bytes.
    expect(first.get(name)!.value).toEqual(bigValue(0, size));
  }
  // Deletes count as dead bytes too.
  const txn = store.beginWrite();
  txn.deleteRange({ start: "a", end: "c" });
  txn.end();
  expect(store.arena.stats().live).toBe(2 * (1 + size));
  db.close();
});
