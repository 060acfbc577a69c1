// The raft log packs entry data into 1 MiB slabs: entries that straddle slab boundaries,
// truncations and compactions across them must read back exactly what was appended.
import { expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import type { Entry } from "../../src/raft/types.ts";
import { nodeWalFs, openRaftLog, type WalFs } from "../../src/storage/index.ts";
import { rng, seedFromEnv, tempDir } from "./helpers.ts";

const KiB = 1024;

function bigEntry(index: number, term: number, size: number, tag: number): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + tag * 7 + index) & 0xff;
  return { index, term, type: index % 5 === 0 ? 1 : 0, data };
}

function fingerprint(es: Entry[]): string[] {
  return es.map((e) => {
    let h = 0;
    for (let i = 0; i < e.data.length; i++) h = (h * 33 + e.data[i]!) >>> 0;
    return `${e.index}/${e.term}/${e.type}/${e.data.length}/${h}`;
  });
}

test("entries larger than and straddling 1 MiB slabs survive truncation, compaction and restart (seeded)", async () => {
  const seed = seedFromEnv("RAFT_LOG_PACKED_SEED", 7);
  const rand = rng(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const { dir, cleanup } = tempDir("rlog-packed");
  const opts = { unsafeNoFsync: true, warn: () => {} };
  try {
    let log = await openRaftLog(dir, opts);
    let model = new MemoryStorage();
    let term = 1;
    let commit = 0;
    let snapIndex = 0;
    for (let step = 0; step < 40; step++) {
      const op = pick(10);
      const last = model.lastIndex();
      if (op < 6) {
        // Sizes from empty to 1.5 MiB, so runs cross one or more slab boundaries.
        const rewrite = pick(3) === 0 && last > commit;
        const start = rewrite ? commit + 1 + pick(last - commit) : last + 1;
        if (rewrite) term++;
        const ents: Entry[] = [];
        for (let i = 0; i < 1 + pick(4); i++) {
          const size = pick(4) === 0 ? 0 : pick(1536 * KiB);
          ents.push(bigEntry(start + i, term, size, step));
        }
        log.append(ents);
        model.append(ents);
      } else if (op < 8 && last > commit) {
        commit += 1 + pick(last - commit);
        log.setHardState({ term, vote: 1n, commit });
        model.setHardState({ term, vote: 1n, commit });
        await log.sync();
      } else if (op < 9 && commit > snapIndex) {
        snapIndex = snapIndex + 1 + pick(commit - snapIndex);
        log.createSnapshot(snapIndex, { voters: [1n], learners: [] });
        model.createSnapshot(snapIndex, { voters: [1n], learners: [] }, new Uint8Array(0));
        log.compact(snapIndex);
        model.compact(snapIndex);
      } else {
        await log.close();
        log = await openRaftLog(dir, opts);
        const m = new MemoryStorage();
        const snap = log.snapshotMeta();
        if (snap.index > 0) m.applySnapshot({ meta: snap, data: new Uint8Array(0) });
        if (model.lastIndex() > snap.index) m.append(model.entries(snap.index + 1, model.lastIndex() + 1));
        model = m;
      }
      const ctx = `seed ${seed} step ${step}`;
      expect(`${ctx} ${log.firstIndex()}..${log.lastIndex()}`).toBe(`${ctx} ${model.firstIndex()}..${model.lastIndex()}`);
      if (model.lastIndex() >= model.firstIndex()) {
        const lo = model.firstIndex();
        const hi = model.lastIndex() + 1;
        expect(fingerprint(log.entries(lo, hi))).toEqual(fingerprint(model.entries(lo, hi)));
        // A size limit stops where MemoryStorage's does.
        const limit = pick(3 * 1024 * KiB);
        expect(fingerprint(log.entries(lo, hi, limit))).toEqual(fingerprint(model.entries(lo, hi, limit)));
      }
    }
    await log.close();
  } finally {
    cleanup();
  }
});

test("read entries are copies: a later conflicting append does not change them", async () => {
  const { dir, cleanup } = tempDir("rlog-copies");
  try {
    const log = await openRaftLog(dir, { unsafeNoFsync: true });
    log.append([bigEntry(1, 1, 100, 1), bigEntry(2, 1, 100, 1)]);
    const before = log.entries(2, 3)[0]!;
    const saved = before.data.slice();
    log.append([bigEntry(2, 2, 100, 9)]);
    expect(before.data).toEqual(saved);
    expect(log.entries(2, 3)[0]!.data).toEqual(bigEntry(2, 2, 100, 9).data);
    expect(log.term(2)).toBe(2);
    await log.close();
  } finally {
    cleanup();
  }
});

test("durable entry data beyond the newest 8 MiB is read back from the WAL, rewrites included", async () => {
  const { dir, cleanup } = tempDir("rlog-evict");
  let reads = 0;
  const fs: WalFs = {
    ...nodeWalFs,
    readAt: (path, position, length) => {
      reads++;
      return nodeWalFs.readAt!(path, position, length);
    },
  };
  const opts = { unsafeNoFsync: true, fs, segmentBytes: 6 * 1024 * KiB };
  try {
    const log = await openRaftLog(dir, opts);
    const want = new Map<number, Entry>();
    const put = async (ents: Entry[]) => {
      log.append(ents);
      for (const e of ents) want.set(e.index, e);
      for (const k of [...want.keys()]) if (k > ents[ents.length - 1]!.index) want.delete(k);
      await log.sync();
    };
    for (let b = 0; b < 10; b++) {
      const ents: Entry[] = [];
      for (let i = 1; i <= 4; i++) ents.push(bigEntry(b * 4 + i, 1, 512 * KiB, b));
      await put(ents);
    }
    const all = () => [...want.values()].sort((a, b) => a.index - b.index);
    expect(fingerprint(log.entries(1, 41))).toEqual(fingerprint(all()));
    expect(reads).toBeGreaterThan(20); // most of the 20 MiB came from disk
    const before = reads;
    expect(fingerprint(log.entries(40, 41))).toEqual(fingerprint([want.get(40)!]));
    expect(reads).toBe(before); // the newest entry is in memory
    // A conflicting rewrite from index 5 (its old copies are on disk, evicted), then enough new
    // entries that the rewritten ones are evicted and read back too.
    await put([bigEntry(5, 2, 300 * KiB, 99), bigEntry(6, 2, 0, 99)]);
    expect(fingerprint(log.entries(5, 7))).toEqual(fingerprint([want.get(5)!, want.get(6)!]));
    for (let b = 0; b < 6; b++) {
      const first = 7 + b * 4;
      await put([0, 1, 2, 3].map((i) => bigEntry(first + i, 2, 512 * KiB, 100 + b)));
    }
    const r0 = reads;
    expect(fingerprint(log.entries(1, log.lastIndex() + 1))).toEqual(fingerprint(all()));
    expect(reads).toBeGreaterThan(r0);
    // Compaction, then restart: what remains reads the same.
    log.setHardState({ term: 2, vote: 1n, commit: 20 });
    log.createSnapshot(12, { voters: [1n], learners: [] });
    log.compact(12);
    await log.sync();
    for (let k = 1; k <= 12; k++) want.delete(k);
    expect(fingerprint(log.entries(13, log.lastIndex() + 1))).toEqual(fingerprint(all()));
    await log.close();
    const again = await openRaftLog(dir, opts);
    expect(fingerprint(again.entries(13, again.lastIndex() + 1))).toEqual(fingerprint(all()));
    await again.close();
  } finally {
    cleanup();
  }
});

test("a WAL location reported for an entry replaced meanwhile is ignored (term differs)", async () => {
  const { dir, cleanup } = tempDir("rlog-stale-loc");
  // Holds the first write after `armed` until released, so an append can land while it is in flight.
  let armed = false;
  let entered!: () => void;
  const writing = new Promise<void>((r) => (entered = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fs: WalFs = {
    ...nodeWalFs,
    write: async (fd, data, off, len, pos) => {
      if (armed) {
        armed = false;
        entered();
        await gate;
      }
      return nodeWalFs.write(fd, data, off, len, pos);
    },
  };
  try {
    const log = await openRaftLog(dir, { unsafeNoFsync: true, fs });
    log.append([bigEntry(1, 1, 1000, 1)]);
    armed = true;
    const inFlight = log.sync(); // writes the term-1 entry 1
    await writing;
    // Replaced while that write is in flight, and followed by more than 8 MiB, so a location
    // wrongly taken for the new entry 1 would let it be evicted and read back as the old one.
    const fresh = [bigEntry(1, 2, 1000, 2)];
    for (let i = 2; i <= 11; i++) fresh.push(bigEntry(i, 2, 1024 * KiB, i));
    log.append(fresh);
    release();
    await inFlight;
    expect(fingerprint(log.entries(1, 2))).toEqual(fingerprint([fresh[0]!]));
    await log.sync();
    expect(fingerprint(log.entries(1, 12))).toEqual(fingerprint(fresh));
    await log.close();
  } finally {
    cleanup();
  }
});
