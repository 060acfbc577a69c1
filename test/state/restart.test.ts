import { afterEach, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { InternalRaftRequestSchema } from "../../src/gen/internal_pb.ts";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ALREADY_APPLIED } from "../../src/server/state-machine-types.ts";
import { installStateImage } from "../../src/server/state-image.ts";
import { SqlDb } from "../../src/storage/sql-db.ts";
import { enc, fmtKvs, Harness } from "./harness.ts";

let h: Harness;
afterEach(async () => h?.close());

const entry = (index: number, r: Parameters<typeof create<typeof InternalRaftRequestSchema>>[1]) => ({
  index,
  data: toBinary(InternalRaftRequestSchema, create(InternalRaftRequestSchema, r)),
});

test("reopen: same revision, applied index, keys, history and compact revision", async () => {
  h = await new Harness().open();
  await h.put("a", "1");
  await h.put("b", "2");
  await h.put("a", "3");
  await h.do({ deleteRange: { key: enc("b") } });
  await h.do({ compaction: { revision: 3n } });
  await h.sm.compactionDone();
  const before = [h.sm.revision, h.sm.appliedIndex, h.sm.compactRevision];
  await h.reopen();
  expect([h.sm.revision, h.sm.appliedIndex, h.sm.compactRevision]).toEqual(before);
  expect(before).toEqual([5, 5, 3]);
  expect(fmtKvs((await h.get("\0", { rangeEnd: enc("\0") })).kvs)).toEqual(["a=3 c2 m4 v2"]);
  expect(fmtKvs((await h.get("b", { revision: 3n })).kvs)).toEqual(["b=2 c3 m3 v1"]);
  expect((await h.put("c", "x")).header.revision).toBe(6n);
});

test("apply is idempotent by index: entries ≤ appliedIndex are skipped, also after reopen", async () => {
  h = await new Harness().open();
  const e1 = entry(1, { put: { key: enc("k"), value: enc("1") } });
  const e2 = entry(2, { put: { key: enc("k"), value: enc("2") } });
  const e3 = entry(3, {}); // leader no-op
  const e4 = entry(4, { put: { key: enc("k"), value: enc("4") } });
  await h.sm.apply([e1, e2]);
  const again = await h.sm.apply([e1, e2, e3]);
  expect(again[0]).toBe(ALREADY_APPLIED);
  expect(again[1]).toBe(ALREADY_APPLIED);
  expect(h.sm.appliedIndex).toBe(3);
  expect(h.sm.revision).toBe(3);
  await h.reopen();
  // replay after a crash hands over the whole log again
  const res = await h.sm.apply([e1, e2, e3, e4]);
  expect(res.slice(0, 3)).toEqual([ALREADY_APPLIED, ALREADY_APPLIED, ALREADY_APPLIED]);
  expect((res[3] as any).header.revision).toBe(4n);
  expect(fmtKvs((await h.get("k")).kvs)).toEqual(["k=4 c2 m4 v3"]);
});

test("snapshot: chunks then sha256; size ≡ 32 mod 512; the image opens with the same state", async () => {
  h = await new Harness().open();
  for (let i = 0; i < 50; i++) await h.put(`key${i}`, "v".repeat(2000));
  const chunks: Uint8Array[] = [];
  let last: any;
  for await (const r of h.sm.snapshot()) {
    chunks.push(r.blob);
    last = r;
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  expect(total % 512).toBe(32);
  expect(last.remainingBytes).toBe(0n);
  expect(last.blob.length).toBe(32);
  const body = Buffer.concat(chunks.slice(0, -1));
  const { createHash } = await import("node:crypto");
  expect(Buffer.from(last.blob).equals(createHash("sha256").update(body).digest())).toBe(true);
  // the image is a complete state database
  const other = await new Harness().open();
  await other.put("stale", "x");
  await other.sm.close();
  await installStateImage(other.path, chunks.slice(0, -1));
  await other.open();
  try {
    expect(other.sm.revision).toBe(51);
    expect(other.sm.appliedIndex).toBe(50);
    expect((await other.get("key7")).kvs.length).toBe(1);
    expect((await other.get("stale")).kvs.length).toBe(0);
  } finally {
    await other.close();
  }
});

test("defragment reclaims free pages after compaction", async () => {
  h = await new Harness().open();
  const v = "x".repeat(4000);
  for (let i = 0; i < 200; i++) await h.put("k", v + i);
  await h.do({ compaction: { revision: 200n } });
  await h.sm.compactionDone();
  await h.sm.defragment();
  expect(h.sm.dbSize() - h.sm.dbSizeInUse()).toBe(0);
  expect(h.sm.dbSize()).toBeLessThan(200 * 4096);
});

test("group commit: applied batches reach the state file on the timer or commitGroup; a restart resumes from durableIndex", async () => {
  h = await new Harness({ groupCommitMs: 60_000 }).open();
  await h.sm.apply([entry(1, { put: { key: enc("k"), value: enc("1") } }), entry(2, { put: { key: enc("j"), value: enc("2") } })]);
  expect([h.sm.appliedIndex, h.sm.durableIndex]).toEqual([2, 0]);
  // Another connection sees only what is committed: what a crash right now would leave.
  const other = new SqlDb(h.path);
  const onDisk = () => Number(other.execute("SELECT applied_index FROM meta WHERE id = 1").rows[0]![0]);
  try {
    expect(onDisk()).toBe(0);
    h.sm.commitGroup();
    expect([h.sm.appliedIndex, h.sm.durableIndex, onDisk()]).toEqual([2, 2, 2]);
    // syncToDisk (before the log is cut) commits too, and leaves the file as it found it.
    await h.sm.apply([entry(3, { put: { key: enc("i"), value: enc("3") } })]);
    h.sm.syncToDisk();
    expect([h.sm.appliedIndex, h.sm.durableIndex, onDisk()]).toEqual([3, 3, 3]);
    expect(Number(other.execute("PRAGMA synchronous").rows[0]![0])).toBe(2); // a fresh connection's default
  } finally {
    other.close();
  }
  await h.sm.close();

  h = new Harness({ groupCommitMs: 5 });
  await h.open();
  await h.sm.apply([entry(1, { put: { key: enc("k"), value: enc("1") } })]);
  expect(h.sm.durableIndex).toBe(0);
  await Bun.sleep(50);
  expect(h.sm.durableIndex).toBe(1);

  // Uncommitted batches are lost by a crash and applied again from the log on restart.
  await h.sm.close();
  h = new Harness({ groupCommitMs: 60_000 });
  await h.open();
  const e = [1, 2, 3].map((i) => entry(i, { put: { key: enc("k"), value: enc(String(i)) } }));
  await h.sm.apply(e);
  // The files as a SIGKILL now would leave them (SQLite keeps only committed WAL frames).
  const crashed = new Harness({ groupCommitMs: 60_000 });
  mkdirSync(dirname(crashed.path), { recursive: true });
  for (const sfx of ["", "-wal"]) if (existsSync(h.path + sfx)) copyFileSync(h.path + sfx, crashed.path + sfx);
  await crashed.open();
  try {
    expect(crashed.sm.appliedIndex).toBe(0);
    const res = await crashed.sm.apply(e);
    expect((res[2] as any).header.revision).toBe(4n);
    expect(crashed.sm.appliedIndex).toBe(3);
    expect(fmtKvs((await crashed.get("k")).kvs)).toEqual(["k=3 c2 m4 v3"]);
  } finally {
    await crashed.close();
  }
});
