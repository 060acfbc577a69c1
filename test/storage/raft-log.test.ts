import { expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import type { ConfState, Entry, HardState, SnapshotMeta } from "../../src/raft/types.ts";
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable, openRaftLog, type RaftLog } from "../../src/storage/index.ts";
import { entries, entry, rng, seedFromEnv, tempDir } from "./helpers.ts";

const cs: ConfState = { voters: [1n, 2n, 3n], learners: [] };

test("an empty log answers like etcd's MemoryStorage", async () => {
  const { dir, cleanup } = tempDir("rlog-empty");
  try {
    const log = await openRaftLog(dir);
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(0);
    expect(log.term(0)).toBe(0);
    expect(() => log.term(1)).toThrow(ErrUnavailable);
    expect(() => log.entries(0, 1)).toThrow(ErrCompacted);
    expect(log.entries(1, 1)).toEqual([]);
    expect(log.initialState()).toEqual({ hardState: { term: 0, vote: 0n, commit: 0 }, confState: { voters: [], learners: [] } });
    await log.close();
  } finally {
    cleanup();
  }
});

test("reads, bounds and size limits; restart replays the exact entries and hardState", async () => {
  const { dir, cleanup } = tempDir("rlog-rt");
  try {
    const log = await openRaftLog(dir);
    log.append(entries(1, 30, 1));
    log.append(entries(31, 40, 2));
    log.setHardState({ term: 2, vote: 3n, commit: 35 });
    await log.sync();
    expect(log.lastIndex()).toBe(40);
    expect(log.term(31)).toBe(2);
    expect(() => log.term(41)).toThrow(ErrUnavailable);
    expect(() => log.entries(5, 42)).toThrow(ErrUnavailable);
    expect(log.entries(5, 8)).toEqual(entries(5, 7, 1));
    // Entry size is data + 16; "v5t1" is 4 bytes: 20 per entry.
    expect(log.entries(5, 20, 45).map((e) => e.index)).toEqual([5, 6]);
    expect(log.entries(5, 20, 0).map((e) => e.index)).toEqual([5]); // always at least one
    const before = { ents: log.entries(1, 41), hs: log.initialState().hardState };
    await log.close();

    const again = await openRaftLog(dir);
    expect(again.entries(1, 41)).toEqual(before.ents);
    expect(again.initialState().hardState).toEqual(before.hs);
    expect(again.firstIndex()).toBe(1);
    await again.close();
  } finally {
    cleanup();
  }
});

test("append replaces a conflicting suffix, and the replacement survives restart", async () => {
  const { dir, cleanup } = tempDir("rlog-conflict");
  try {
    const log = await openRaftLog(dir);
    log.append(entries(1, 10, 1));
    log.setHardState({ term: 1, vote: 1n, commit: 4 });
    await log.sync();
    log.append(entries(5, 7, 2));
    await log.sync();
    expect(log.lastIndex()).toBe(7);
    expect(() => log.append(entries(9, 9, 2))).toThrow("missing log entry");
    expect(() => log.append(entries(4, 4, 3))).toThrow("overwrite committed entries");
    expect(() => log.append([entry(8, 1)])).toThrow("below its predecessor's");
    await log.close();
    const again = await openRaftLog(dir);
    expect(again.entries(1, 8).map((e) => `${e.index}/${e.term}`)).toEqual(["1/1", "2/1", "3/1", "4/1", "5/2", "6/2", "7/2"]);
    await again.close();
  } finally {
    cleanup();
  }
});

test("snapshot and compaction: entries below a lagging compact index stay readable; restart starts at the snapshot", async () => {
  const { dir, cleanup } = tempDir("rlog-compact");
  try {
    const log = await openRaftLog(dir, { segmentBytes: 2048 });
    for (let i = 1; i <= 300; i += 20) {
      log.append(entries(i, i + 19, 1 + Math.floor(i / 100)));
      log.setHardState({ term: 3, vote: 1n, commit: i + 19 });
      await log.sync();
    }
    expect(() => log.createSnapshot(301, cs)).toThrow("above commit");
    const meta = log.createSnapshot(250, cs);
    expect(meta).toEqual({ index: 250, term: 3, confState: cs });
    expect(() => log.createSnapshot(250, cs)).toThrow(ErrSnapOutOfDate);
    expect(() => log.compact(260)).toThrow("above the snapshot");
    log.compact(200); // keep 50 entries for slow followers
    expect(log.firstIndex()).toBe(201);
    expect(log.term(200)).toBe(2);
    expect(() => log.term(199)).toThrow(ErrCompacted);
    expect(() => log.entries(200, 210)).toThrow(ErrCompacted);
    expect(log.entries(201, 203).map((e) => e.index)).toEqual([201, 202]);
    expect(() => log.compact(200)).toThrow(ErrCompacted);
    expect(log.snapshot()).toEqual({ meta, data: new Uint8Array(0) });

    const segsBefore = (await import("node:fs")).readdirSync(dir).length;
    await log.sync(); // the marker becomes durable; segments wholly <= 200 go
    const { readdirSync } = await import("node:fs");
    const names = readdirSync(dir).sort();
    expect(names.length).toBeLessThan(segsBefore);
    const firsts = names.map((n) => Number.parseInt(n.slice(17, 33), 16));
    expect(firsts[1]! - 1).toBeGreaterThan(200); // the oldest survivor still holds entry 201..
    await log.close();

    const again = await openRaftLog(dir, { segmentBytes: 2048 });
    expect(again.snapshotMeta()).toEqual(meta);
    expect(again.firstIndex()).toBe(251);
    expect(again.term(250)).toBe(3);
    expect(again.lastIndex()).toBe(300);
    expect(again.initialState()).toEqual({ hardState: { term: 3, vote: 1n, commit: 300 }, confState: cs });
    await again.close();
  } finally {
    cleanup();
  }
});

test("applySnapshot discards the whole log and lifts commit to the snapshot", async () => {
  const { dir, cleanup } = tempDir("rlog-restore");
  try {
    const log = await openRaftLog(dir);
    log.append(entries(1, 10, 1));
    log.setHardState({ term: 2, vote: 0n, commit: 3 });
    await log.sync();
    const meta: SnapshotMeta = { index: 100, term: 2, confState: { voters: [4n], learners: [5n] } };
    log.applySnapshot(meta);
    expect(log.firstIndex()).toBe(101);
    expect(log.lastIndex()).toBe(100);
    expect(log.term(100)).toBe(2);
    expect(() => log.term(10)).toThrow(ErrCompacted);
    expect(log.initialState().hardState.commit).toBe(100);
    expect(() => log.applySnapshot(meta)).toThrow(ErrSnapOutOfDate);
    log.append(entries(101, 105, 2));
    await log.close();
    const again = await openRaftLog(dir);
    expect(again.firstIndex()).toBe(101);
    expect(again.entries(101, 106)).toEqual(entries(101, 105, 2));
    expect(again.initialState()).toEqual({ hardState: { term: 2, vote: 0n, commit: 100 }, confState: meta.confState });
    await again.close();
  } finally {
    cleanup();
  }
});

/** Compares the durable log with the reference MemoryStorage on everything the core can ask. */
function expectSame(log: RaftLog, model: MemoryStorage, ctx: string): void {
  const first = model.firstIndex();
  const last = model.lastIndex();
  const got = {
    first: log.firstIndex(),
    last: log.lastIndex(),
    prevTerm: log.term(first - 1),
    ents: log.entries(first, last + 1).map((e) => `${e.index}/${e.term}/${new TextDecoder().decode(e.data)}`),
    init: log.initialState(),
  };
  const want = {
    first,
    last,
    prevTerm: model.term(first - 1),
    ents: model.entries(first, last + 1).map((e) => `${e.index}/${e.term}/${new TextDecoder().decode(e.data)}`),
    init: model.initialState(),
  };
  if (JSON.stringify(got, big) !== JSON.stringify(want, big)) {
    expect(`${ctx}: ${JSON.stringify(got, big)}`).toBe(`${ctx}: ${JSON.stringify(want, big)}`);
  }
}
const big = (_: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : v);

/** What a restart must recover: the snapshot, the entries after it, the hardState. */
function restartModel(model: MemoryStorage, snap: SnapshotMeta): MemoryStorage {
  const m = new MemoryStorage();
  if (snap.index > 0) m.applySnapshot({ meta: snap, data: new Uint8Array(0) });
  if (model.lastIndex() > snap.index) m.append(model.entries(snap.index + 1, model.lastIndex() + 1));
  m.setHardState(model.initialState().hardState);
  return m;
}

test("random operations match MemoryStorage, before and after every restart (seeded)", async () => {
  const seed = seedFromEnv("RAFT_LOG_SEED", 20260);
  console.log(`raft-log model test seed=${seed} (rerun with RAFT_LOG_SEED=${seed})`);
  const rand = rng(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const { dir, cleanup } = tempDir("rlog-model");
  const opts = { segmentBytes: 700, warn: () => {} };
  try {
    let log = await openRaftLog(dir, opts);
    let model = new MemoryStorage();
    let snap: SnapshotMeta = { index: 0, term: 0, confState: { voters: [], learners: [] } };
    let hs: HardState = { term: 1, vote: 0n, commit: 0 };
    for (let step = 0; step < 600; step++) {
      const op = pick(100);
      const ctx = `seed ${seed} step ${step}`;
      if (op < 45) {
        // Append: a fresh run, or a conflicting rewrite from some point after commit.
        const last = model.lastIndex();
        // Raft never rewrites committed entries; a third of the appends rewrite a suffix.
        const low = Math.max(hs.commit, model.firstIndex() - 1) + 1;
        const start = pick(3) === 0 ? low + pick(last + 2 - low) : last + 1;
        if (start !== last + 1) hs = { ...hs, term: hs.term + 1 };
        const n = 1 + pick(8);
        const ents: Entry[] = [];
        for (let i = 0; i < n; i++) ents.push(entry(start + i, hs.term, `s${step}-${start + i}`));
        log.append(ents);
        model.append(ents);
        if (pick(2) === 0) hs = { ...hs, term: hs.term + 1, vote: BigInt(1 + pick(3)) };
      } else if (op < 65) {
        const last = model.lastIndex();
        hs = { ...hs, commit: hs.commit + pick(last - hs.commit + 1) };
        log.setHardState(hs);
        model.setHardState(hs);
      } else if (op < 72 && hs.commit > snap.index) {
        const i = snap.index + 1 + pick(hs.commit - snap.index);
        const cs: ConfState = { voters: [BigInt(1 + pick(5))], learners: pick(2) ? [9n] : [] };
        snap = log.createSnapshot(i, cs);
        model.createSnapshot(i, cs, new Uint8Array(0));
        const c = Math.max(model.firstIndex(), i - pick(10));
        if (c > model.firstIndex() - 1 && c <= i) {
          log.compact(c);
          model.compact(c);
        }
      } else if (op < 75) {
        const index = Math.max(snap.index, model.lastIndex()) + pick(20) + 1;
        hs = { ...hs, term: hs.term + 1, commit: Math.max(hs.commit, index) };
        snap = { index, term: hs.term, confState: { voters: [1n, 2n], learners: [] } };
        log.applySnapshot(snap);
        model.applySnapshot({ meta: snap, data: new Uint8Array(0) });
        log.setHardState(hs);
        model.setHardState(hs);
      } else if (op < 92) {
        await log.sync();
      } else {
        await log.close();
        log = await openRaftLog(dir, opts);
        model = restartModel(model, snap);
        expect(log.snapshotMeta()).toEqual(snap);
      }
      expectSame(log, model, ctx);
    }
    await log.close();
    log = await openRaftLog(dir, opts);
    expectSame(log, restartModel(model, snap), `seed ${seed} final restart`);
    await log.close();
  } finally {
    cleanup();
  }
});
