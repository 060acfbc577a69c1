// Preallocated segments (src/storage/wal.ts): a new segment is extended to its full size at once
// and batches overwrite its zero tail; replay reads that tail as the log's end, a torn batch in
// it is still cut with a warning, and only the last segment may end in zeros.
import { expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { openWal } from "../../src/storage/index.ts";
import { entries, entry, tempDir } from "./helpers.ts";

const FIRST_SEGMENT = "0000000000000000-0000000000000001.wal";
const MiB = 1 << 20;

const allZero = (b: Uint8Array) => b.every((x) => x === 0);

test("a new segment is preallocated; batches fill it from the start and it reopens without a warning", async () => {
  const { dir, cleanup } = tempDir("wal-prealloc");
  try {
    const { wal } = await openWal(dir, { segmentBytes: MiB });
    const path = join(dir, FIRST_SEGMENT);
    expect(statSync(path).size).toBe(MiB);
    wal.append(entries(1, 20, 1));
    wal.setHardState({ term: 1, vote: 1n, commit: 20 });
    await wal.sync();
    const used = wal.bytesWritten;
    await wal.close();
    expect(statSync(path).size).toBe(MiB);
    const bytes = readFileSync(path);
    expect(allZero(bytes.subarray(0, 8))).toBe(false);
    expect(allZero(bytes.subarray(used))).toBe(true);

    const warnings: string[] = [];
    const again = await openWal(dir, { segmentBytes: MiB, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(again.contents.entries.map((e) => e.index)).toEqual(entries(1, 20, 1).map((e) => e.index));
    expect(again.contents.hardState.commit).toBe(20);
    again.wal.append([entry(21, 2)]);
    await again.wal.close();
    const third = await openWal(dir, { segmentBytes: MiB, warn: (m) => warnings.push(m) });
    expect(third.contents.entries.map((e) => `${e.index}/${e.term}`).slice(-2)).toEqual(["20/1", "21/2"]);
    expect(warnings).toEqual([]);
    await third.wal.close();
  } finally {
    cleanup();
  }
});

test("a torn batch in a preallocated segment is cut with a warning and the segment preallocated again", async () => {
  const { dir, cleanup } = tempDir("wal-prealloc-torn");
  try {
    const { wal } = await openWal(dir, { segmentBytes: MiB });
    const path = join(dir, FIRST_SEGMENT);
    wal.append(entries(1, 5, 1));
    await wal.sync();
    const used = wal.bytesWritten;
    await wal.close();
    // Part of a batch that a crash tore: some octets landed after the durable records.
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 2, 9, 9, 9]), 0, 12, used);
    closeSync(fd);

    const warnings: string[] = [];
    const again = await openWal(dir, { segmentBytes: MiB, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([`wal: truncated torn tail at offset ${used} in ${path}`]);
    expect(again.contents.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
    expect(statSync(path).size).toBe(MiB);
    expect(allZero(readFileSync(path).subarray(used))).toBe(true);
    again.wal.append([entry(6, 1)]);
    await again.wal.close();
    const third = await openWal(dir, { segmentBytes: MiB, warn: (m) => warnings.push(m) });
    expect(third.contents.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(warnings.length).toBe(1);
    await third.wal.close();
  } finally {
    cleanup();
  }
});

test("a full segment is cut back to its records before the next one starts: only the last ends in zeros", async () => {
  const { dir, cleanup } = tempDir("wal-prealloc-rotate");
  try {
    // Preallocated at 64 KiB, then reopened with 16 KiB segments: the first segment is past its
    // size with a zero tail behind its records when the next one starts.
    const first = await openWal(dir, { segmentBytes: 64 * 1024 });
    for (let i = 1; i <= 200; i++) first.wal.append([entry(i, 1, "x".repeat(100))]);
    await first.wal.close();
    expect(statSync(join(dir, FIRST_SEGMENT)).size).toBe(64 * 1024);

    const { wal } = await openWal(dir, { segmentBytes: 16 * 1024 });
    for (let i = 201; i <= 400; i++) {
      wal.append([entry(i, 1, "y".repeat(100))]);
      await wal.sync();
    }
    await wal.close();
    const segs = readdirSync(dir).filter((n) => n.endsWith(".wal")).sort();
    expect(segs.length).toBeGreaterThan(2);
    for (const name of segs.slice(0, -1)) {
      const b = readFileSync(join(dir, name));
      expect(allZero(b.subarray(b.length - 8))).toBe(false);
    }
    // Replay reads every segment but the last strictly: a zero tail there would be an error.
    const warnings: string[] = [];
    const again = await openWal(dir, { segmentBytes: 16 * 1024, warn: (m) => warnings.push(m) });
    expect(again.contents.entries.length).toBe(400);
    expect(again.contents.entries[399]!.index).toBe(400);
    expect(warnings).toEqual([]);
    await again.wal.close();
  } finally {
    cleanup();
  }
});
