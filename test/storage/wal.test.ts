import { expect, test } from "bun:test";
import { readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32c } from "../../src/storage/wal-crc32c.ts";
import { openWal, WalCorruptError, nodeWalFs, type WalFs } from "../../src/storage/index.ts";
import { entries, entry, tempDir, text } from "./helpers.ts";

const FIRST_SEGMENT = "0000000000000000-0000000000000001.wal";
/** Segments that grow as they are written: tests that model the file as exactly its records. */
const PLAIN = { preallocate: false } as const;

test("crc32c matches the Castagnoli check value and chains like Go's crc32.Update", () => {
  const data = new TextEncoder().encode("123456789");
  expect(crc32c(data)).toBe(0xe3069283);
  const long = new Uint8Array(1000).map((_, i) => (i * 7 + 3) & 0xff);
  expect(crc32c(long, crc32c(long, 0, 0, 333), 333)).toBe(crc32c(long));
  // slice-by-8 and byte-at-a-time paths agree at every split
  for (let k = 0; k < 20; k++) expect(crc32c(long, crc32c(long, 0, 0, k), k)).toBe(crc32c(long));
});

test("a fresh WAL creates its first segment and round-trips entries and hardState", async () => {
  const { dir, cleanup } = tempDir("wal");
  try {
    const { wal, contents } = await openWal(dir);
    expect(contents.entries).toEqual([]);
    expect(readdirSync(dir)).toEqual([FIRST_SEGMENT]);
    wal.append(entries(1, 50, 1));
    wal.setHardState({ term: 1, vote: 0xabcdef0123456789n, commit: 40 });
    await wal.sync();
    wal.append([entry(51, 2, "")]);
    await wal.close();

    const again = await openWal(dir);
    expect(again.contents.hardState).toEqual({ term: 1, vote: 0xabcdef0123456789n, commit: 40 });
    expect(again.contents.entries.length).toBe(51);
    expect(again.contents.entries[0]).toEqual(entry(1, 1));
    expect(again.contents.entries[50]).toEqual(entry(51, 2, "")); // close() synced it
    await again.wal.close();
  } finally {
    cleanup();
  }
});

/** Builds a log whose last sync wrote exactly one entry record; returns the sizes around it. */
async function logWithLastRecord(dir: string): Promise<{ before: number; after: number; path: string }> {
  const { wal } = await openWal(dir, PLAIN);
  const path = join(dir, FIRST_SEGMENT);
  for (let i = 1; i <= 5; i++) {
    wal.append([entry(i, 1)]);
    wal.setHardState({ term: 1, vote: 1n, commit: i - 1 });
    await wal.sync();
  }
  const before = statSync(path).size;
  wal.append([entry(6, 1, "the last record, which a crash tears")]);
  await wal.sync();
  const after = statSync(path).size;
  await wal.close();
  return { before, after, path };
}

test("a torn last record is cut away at every byte offset, with a warning; earlier entries survive", async () => {
  const { dir, cleanup } = tempDir("wal-torn");
  try {
    const { before, after, path } = await logWithLastRecord(dir);
    const full = readFileSync(path);
    expect(after - before).toBe(8 + 1 + 17 + 36);
    for (let cut = before; cut < after; cut++) {
      for (const variant of ["truncated", "zero-filled"] as const) {
        // "zero-filled": the file grew but the last bytes never reached the disk.
        const damaged = variant === "truncated" ? full.subarray(0, cut) : Buffer.concat([full.subarray(0, cut), Buffer.alloc(after - cut)]);
        writeFileSync(path, damaged);
        const warnings: string[] = [];
        const { wal, contents } = await openWal(dir, { ...PLAIN, warn: (m) => warnings.push(m) });
        const torn = variant === "zero-filled" || cut > before;
        expect(warnings).toEqual(torn ? [`wal: truncated torn tail at offset ${before} in ${path}`] : []);
        expect(contents.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
        expect(contents.hardState.commit).toBe(4);
        expect(statSync(path).size).toBe(before);
        // The log continues cleanly after the cut.
        wal.append([entry(6, 2)]);
        await wal.close();
        const again = await openWal(dir, { ...PLAIN, warn: (m) => warnings.push(m) });
        expect(again.contents.entries.map((e) => `${e.index}/${e.term}`)).toEqual(["1/1", "2/1", "3/1", "4/1", "5/1", "6/2"]);
        await again.wal.close();
        expect(warnings.length).toBe(torn ? 1 : 0);
      }
    }
  } finally {
    cleanup();
  }
});

test("a flipped bit in the middle of the log is a hard crc error, never applied", async () => {
  const { dir, cleanup } = tempDir("wal-flip");
  try {
    const { before, path } = await logWithLastRecord(dir);
    const full = readFileSync(path);
    // Find the third entry record: walk the records by their length fields.
    const offsets: number[] = [];
    for (let p = 0; p < full.length; p += 8 + full.readUInt32LE(p)) offsets.push(p);
    const entryOffsets = offsets.filter((p) => full[p + 8] === 2);
    expect(entryOffsets.length).toBe(6);
    const at = entryOffsets[2]!;
    for (const bit of [0, 3, 7]) {
      const damaged = Buffer.from(full);
      damaged[at + 8 + 17 + 1]! ^= 1 << bit; // inside the entry's data
      writeFileSync(path, damaged);
      const warnings: string[] = [];
      const err = await openWal(dir, { ...PLAIN, warn: (m) => warnings.push(m) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WalCorruptError);
      expect((err as Error).message).toBe(`wal: crc mismatch in ${path} at offset ${at}`);
      expect(warnings).toEqual([]);
    }
    // A flipped bit in the crc seed record (offset 0) breaks the chain from the start.
    const damaged = Buffer.from(full);
    damaged[9]! ^= 0x10;
    writeFileSync(path, damaged);
    await expect(openWal(dir, PLAIN)).rejects.toThrow(`wal: crc mismatch in ${path} at offset 0`);
    expect(before).toBeGreaterThan(0);
  } finally {
    cleanup();
  }
});

test("entries rewritten at a lower index replace the suffix, also after restart and across segments", async () => {
  const { dir, cleanup } = tempDir("wal-conflict");
  try {
    const { wal } = await openWal(dir, { segmentBytes: 300 });
    wal.append(entries(1, 10, 1));
    await wal.sync(); // > 300 bytes: the next batch goes to a new segment
    wal.append(entries(6, 8, 2));
    await wal.sync();
    wal.append(entries(9, 9, 3));
    await wal.close();
    expect(readdirSync(dir).length).toBeGreaterThanOrEqual(2);
    const again = await openWal(dir, { segmentBytes: 300 });
    expect(again.contents.entries.map((e) => `${e.index}/${e.term}`)).toEqual([
      "1/1", "2/1", "3/1", "4/1", "5/1", "6/2", "7/2", "8/2", "9/3",
    ]);
    expect(text(again.contents.entries[6]!)).toBe("v7t2");
    await again.wal.close();
  } finally {
    cleanup();
  }
});

test("segments rotate near segmentBytes, carry seq and first index, and releaseTo deletes whole segments below a snapshot", async () => {
  const { dir, cleanup } = tempDir("wal-rotate");
  try {
    const opts = { segmentBytes: 1024 };
    const { wal } = await openWal(dir, opts);
    for (let i = 1; i <= 200; i += 10) {
      wal.append(entries(i, i + 9, 1));
      wal.setHardState({ term: 1, vote: 2n, commit: i + 9 });
      await wal.sync();
    }
    const names = wal.segmentNames();
    expect(names.length).toBeGreaterThan(5);
    expect(readdirSync(dir).sort()).toEqual(names);
    names.forEach((n, seq) => expect(n.startsWith(seq.toString(16).padStart(16, "0") + "-")).toBe(true));
    const firsts = names.map((n) => Number.parseInt(n.slice(17, 33), 16));
    expect(firsts[0]).toBe(1);
    for (let i = 1; i < firsts.length; i++) expect(firsts[i]! % 10).toBe(1); // cut after a 10-entry batch
    for (const n of names.slice(0, -1)) expect(statSync(join(dir, n)).size).toBeGreaterThanOrEqual(1024);

    // Release cannot run ahead of a durable snapshot marker.
    await expect(wal.releaseTo(100)).rejects.toThrow("above the durable snapshot 0");
  } finally {
    cleanup();
  }
});

test("releaseTo keeps every segment holding a live entry above the index", async () => {
  const { dir, cleanup } = tempDir("wal-release");
  try {
    const opts = { segmentBytes: 1024 };
    const { wal } = await openWal(dir, opts);
    for (let i = 1; i <= 200; i += 10) {
      wal.append(entries(i, i + 9, 1));
      wal.setHardState({ term: 1, vote: 2n, commit: i + 9 });
      await wal.sync();
    }
    const names = wal.segmentNames();
    wal.saveSnapshot({ index: 150, term: 1, confState: { voters: [1n, 2n], learners: [3n] } }, "compact");
    await wal.sync();
    const deleted = await wal.releaseTo(150);
    const firsts = names.map((n) => Number.parseInt(n.slice(17, 33), 16));
    const expectDeleted = firsts.filter((_, i) => i + 1 < firsts.length && firsts[i + 1]! - 1 <= 150).length;
    expect(deleted).toBe(expectDeleted);
    expect(deleted).toBeGreaterThan(0);
    expect(readdirSync(dir).sort()).toEqual(names.slice(deleted));
    // The first surviving segment starts at or below 151: nothing above the snapshot was lost.
    expect(firsts[deleted]!).toBeLessThanOrEqual(151);
    await wal.close();

    const again = await openWal(dir, opts);
    expect(again.contents.snapshot).toEqual({ index: 150, term: 1, confState: { voters: [1n, 2n], learners: [3n] } });
    expect(again.contents.entries.map((e) => e.index)).toEqual(entries(151, 200, 1).map((e) => e.index));
    expect(again.contents.hardState).toEqual({ term: 1, vote: 2n, commit: 200 });
    await again.wal.close();
  } finally {
    cleanup();
  }
});

test("a restore marker voids every earlier entry, and the log continues after it across restarts", async () => {
  const { dir, cleanup } = tempDir("wal-restore");
  try {
    const { wal } = await openWal(dir, { segmentBytes: 400 });
    wal.append(entries(1, 20, 1));
    await wal.sync();
    wal.saveSnapshot({ index: 500, term: 4, confState: { voters: [7n], learners: [] } }, "restore");
    wal.append(entries(501, 510, 4));
    await wal.sync();
    wal.append(entries(511, 530, 5)); // lands in a later segment
    await wal.sync();
    expect(await wal.releaseTo(500)).toBeGreaterThan(0);
    await wal.close();
    const again = await openWal(dir, { segmentBytes: 400 });
    expect(again.contents.snapshot?.index).toBe(500);
    expect(again.contents.entries.map((e) => e.index)).toEqual(entries(501, 530, 0).map((e) => e.index));
    await again.wal.close();
  } finally {
    cleanup();
  }
});

test("a missing segment or a damaged non-last segment is a hard error", async () => {
  const { dir, cleanup } = tempDir("wal-missing");
  try {
    const { wal } = await openWal(dir, { segmentBytes: 300 });
    for (let i = 1; i <= 40; i += 10) {
      wal.append(entries(i, i + 9, 1));
      await wal.sync();
    }
    const names = wal.segmentNames();
    await wal.close();
    expect(names.length).toBeGreaterThanOrEqual(3);
    // Truncating a non-last segment is not a torn tail.
    const mid = join(dir, names[1]!);
    const size = statSync(mid).size;
    const saved = readFileSync(mid);
    truncateSync(mid, size - 3);
    await expect(openWal(dir)).rejects.toThrow(`wal: unexpected end of ${mid} at offset`);
    writeFileSync(mid, saved);
    // A seed that does not continue the previous segment's chain.
    const last = join(dir, names[names.length - 1]!);
    const lastBytes = readFileSync(last);
    const bad = Buffer.from(lastBytes);
    bad[9]! ^= 1;
    bad.writeUInt32LE(crc32c(bad, bad.readUInt32LE(9), 8, 13), 4); // self-consistent, wrong chain
    writeFileSync(last, bad);
    await expect(openWal(dir)).rejects.toThrow(`wal: crc mismatch in ${last} at offset 0`);
    writeFileSync(last, lastBytes);
    // A hole in the sequence.
    const { unlinkSync } = await import("node:fs");
    unlinkSync(mid);
    await expect(openWal(dir)).rejects.toThrow("wal: segment missing between");
  } finally {
    cleanup();
  }
});

test("a failed fsync makes the WAL refuse further work", async () => {
  const { dir, cleanup } = tempDir("wal-fsync");
  try {
    let fail = false;
    const fs: WalFs = {
      ...nodeWalFs,
      fdatasync: async (fd) => {
        if (fail) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
        return nodeWalFs.fdatasync(fd);
      },
    };
    const { wal } = await openWal(dir, { fs });
    wal.append(entries(1, 3, 1));
    await wal.sync();
    fail = true;
    wal.append(entries(4, 4, 1));
    await expect(wal.sync()).rejects.toThrow("EIO");
    expect(() => wal.append(entries(5, 5, 1))).toThrow("wal: unusable after an earlier write failure");
    await expect(wal.sync()).rejects.toThrow("wal: unusable");
    await wal.close();
  } finally {
    cleanup();
  }
});

test("an inline sync fsyncs on the calling thread; a failure there makes the WAL refuse further work too", async () => {
  const { dir, cleanup } = tempDir("wal-inline");
  try {
    const calls: string[] = [];
    let fail = false;
    const fs: WalFs = {
      ...nodeWalFs,
      fdatasync: (fd) => {
        calls.push("pool");
        return nodeWalFs.fdatasync(fd);
      },
      fdatasyncInline: (fd) => {
        calls.push("inline");
        if (fail) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
        nodeWalFs.fdatasyncInline!(fd);
      },
    };
    const { wal } = await openWal(dir, { fs });
    calls.length = 0;
    wal.append(entries(1, 1, 1));
    await wal.sync(true);
    wal.append(entries(2, 2, 1));
    await wal.sync();
    expect(calls).toEqual(["inline", "pool"]);
    fail = true;
    wal.append(entries(3, 3, 1));
    await expect(wal.sync(true)).rejects.toThrow("EIO");
    await expect(wal.sync()).rejects.toThrow("wal: unusable");
    await wal.close();
    // What was synced before the failure is there after a reopen.
    const again = await openWal(dir);
    expect(again.contents.entries.map((e) => e.index).slice(0, 2)).toEqual([1, 2]);
    await again.wal.close();
  } finally {
    cleanup();
  }
});

test("each sync writes only its own batch with one write and one fdatasync", async () => {
  const { dir, cleanup } = tempDir("wal-batch");
  try {
    const calls = { write: 0, bytes: 0, fdatasync: 0 };
    const fs: WalFs = {
      ...nodeWalFs,
      write: async (fd, data, off, len, pos) => {
        calls.write++;
        calls.bytes += len;
        return nodeWalFs.write(fd, data, off, len, pos);
      },
      fdatasync: async (fd) => {
        calls.fdatasync++;
        return nodeWalFs.fdatasync(fd);
      },
    };
    const { wal } = await openWal(dir, { fs });
    const many = entries(1, 10_000, 1);
    Object.assign(calls, { write: 0, bytes: 0, fdatasync: 0 });
    wal.append(many);
    wal.setHardState({ term: 1, vote: 1n, commit: 10_000 });
    await wal.sync();
    expect(calls.write).toBe(1);
    expect(calls.fdatasync).toBe(1);
    Object.assign(calls, { write: 0, bytes: 0, fdatasync: 0 });
    wal.append([entry(10_001, 1, "x")]);
    await wal.sync();
    expect(calls).toEqual({ write: 1, bytes: 8 + 1 + 17 + 1, fdatasync: 1 });
    // An empty sync touches nothing; an unchanged hardState is not rewritten.
    Object.assign(calls, { write: 0, bytes: 0, fdatasync: 0 });
    wal.setHardState({ term: 1, vote: 1n, commit: 10_000 });
    await wal.sync();
    expect(calls.write).toBe(0);
    // unsafeNoFsync skips the fsync.
    await wal.close();
    const again = await openWal(dir, { fs, unsafeNoFsync: true });
    expect(again.contents.entries.length).toBe(10_001);
    Object.assign(calls, { write: 0, bytes: 0, fdatasync: 0 });
    again.wal.append([entry(10_002, 1)]);
    await again.wal.sync();
    expect(calls.fdatasync).toBe(0);
    expect(calls.write).toBe(1);
    await again.wal.close();
  } finally {
    cleanup();
  }
});

test("appends made while a sync is in flight are written by the next sync, in order", async () => {
  const { dir, cleanup } = tempDir("wal-overlap");
  try {
    const { wal } = await openWal(dir);
    wal.append(entries(1, 5, 1));
    const first = wal.sync();
    wal.append(entries(6, 9, 1));
    wal.setHardState({ term: 1, vote: 0n, commit: 9 });
    const second = wal.sync();
    await Promise.all([first, second]);
    await wal.close();
    const again = await openWal(dir);
    expect(again.contents.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(again.contents.hardState.commit).toBe(9);
    await again.wal.close();
  } finally {
    cleanup();
  }
});

test("an unsynced batch with a page that never reached the disk is a torn tail, not corruption", async () => {
  const { dir, cleanup } = tempDir("wal-zero-page");
  try {
    const { wal } = await openWal(dir, PLAIN);
    const path = join(dir, FIRST_SEGMENT);
    wal.append(entries(1, 10, 1));
    await wal.sync();
    const before = statSync(path).size;
    const big: ReturnType<typeof entry>[] = [];
    for (let i = 11; i <= 40; i++) big.push(entry(i, 1, `${i}:`.padEnd(100, "z")));
    wal.append(big);
    await wal.sync();
    await wal.close();
    const full = readFileSync(path);
    // Zero one 512-byte sector inside the last batch, leaving later records intact.
    const sector = Math.ceil((before + 1024) / 512) * 512;
    const damaged = Buffer.from(full);
    damaged.fill(0, sector, sector + 512);
    writeFileSync(path, damaged);
    const warnings: string[] = [];
    const again = await openWal(dir, { ...PLAIN, warn: (m) => warnings.push(m) });
    const kept = again.contents.entries.length;
    expect(kept).toBeGreaterThanOrEqual(10);
    expect(kept).toBeLessThan(40);
    expect(again.contents.entries.map((e) => e.index)).toEqual(entries(1, kept, 1).map((e) => e.index));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(/^wal: truncated torn tail at offset \d+ in /);
    await again.wal.close();
  } finally {
    cleanup();
  }
});

test("a segment left half-started (.tmp) by a crash is discarded at open", async () => {
  const { dir, cleanup } = tempDir("wal-tmp");
  try {
    const { wal } = await openWal(dir);
    wal.append(entries(1, 3, 1));
    await wal.close();
    writeFileSync(join(dir, "0000000000000001-0000000000000004.wal.tmp"), Buffer.from([1, 2, 3]));
    const again = await openWal(dir);
    expect(readdirSync(dir)).toEqual([FIRST_SEGMENT]);
    expect(again.contents.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    await again.wal.close();
  } finally {
    cleanup();
  }
});

test("a write that runs out of space is retried at the same offset: no torn record, nothing skipped", async () => {
  const { dir, cleanup } = tempDir("wal-nospace");
  try {
    // Space for `room` more bytes at a time; a write past it lands partly, then fails ENOSPC.
    let room = Infinity;
    let failCreate = false;
    let createFailures = 0;
    const writes: number[] = [];
    const fs: WalFs = {
      ...nodeWalFs,
      open: async (path, mode) => {
        if (mode === "create" && failCreate) {
          createFailures++;
          throw Object.assign(new Error("ENOSPC: no space left on device, open"), { code: "ENOSPC" });
        }
        return nodeWalFs.open(path, mode);
      },
      write: async (fd, data, offset, length, position) => {
        writes.push(position);
        if (length <= room) {
          room -= length;
          return nodeWalFs.write(fd, data, offset, length, position);
        }
        if (room > 0) {
          const n = room;
          room = 0;
          return nodeWalFs.write(fd, data, offset, n, position); // a partial write first
        }
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      },
    };
    const { wal } = await openWal(dir, { ...PLAIN, fs, segmentBytes: 4096 });
    wal.append(entries(1, 3, 1));
    await wal.sync();
    const size = statSync(join(dir, FIRST_SEGMENT)).size;
    room = 10;
    wal.append(entries(4, 6, 1));
    await expect(wal.sync()).rejects.toThrow("ENOSPC");
    // The partial bytes were cut away: the file is what was durable.
    expect(statSync(join(dir, FIRST_SEGMENT)).size).toBe(size);
    // Appends go on while there is no space; a sync still fails and the WAL stays usable.
    wal.append(entries(7, 7, 1));
    await expect(wal.sync()).rejects.toThrow("ENOSPC");
    room = Infinity;
    writes.length = 0;
    await wal.sync();
    // The held batch went first, at the offset where the failed one started.
    expect(writes[0]).toBe(size);
    // Past the segment size: the new segment cannot be created, the batch is durable anyway and
    // the current segment grows; the cut happens at a later sync.
    failCreate = true;
    for (let i = 8; i < 60; i++) wal.append([entry(i, 1, "x".repeat(100))]);
    await wal.sync();
    expect(createFailures).toBe(1);
    expect(wal.segmentNames().length).toBe(1);
    failCreate = false;
    for (let i = 60; i <= 100; i++) wal.append([entry(i, 1, "x".repeat(100))]);
    await wal.sync();
    expect(wal.segmentNames().length).toBe(2);
    await wal.close();
    const warnings: string[] = [];
    const { wal: again, contents } = await openWal(dir, { ...PLAIN, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(contents.entries.map((e) => e.index)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(text(contents.entries[5]!)).toBe("v6t1");
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    await again.close();
  } finally {
    cleanup();
  }
});
