// Snapshot streaming: a MsgSnap and its image, written to a temp file on the receiver.
import { expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { msg, MessageType, type Message } from "../../src/raft/message.ts";
import { startNode, useNodes } from "./harness.ts";

const node = useNodes();

const snapMsg = (from: bigint, to: bigint): Message =>
  msg({
    type: MessageType.MsgSnap, from, to, term: 5,
    snapshot: { meta: { index: 1234, term: 5, confState: { voters: [1n, 2n, 3n], learners: [] } }, data: new Uint8Array(0) },
  });

/** A deterministic image in uneven chunks (xorshift bytes, so misplaced chunks are detected). */
function image(total: number, chunk: number): { bytes: Uint8Array; chunks: () => AsyncIterable<Uint8Array> } {
  const bytes = new Uint8Array(total);
  let x = 0x9e3779b9;
  for (let i = 0; i < total; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return {
    bytes,
    chunks: async function* () {
      for (let i = 0; i < total; i += chunk) yield bytes.subarray(i, Math.min(total, i + chunk));
    },
  };
}

test("a multi-MiB image arrives byte-identical through a temp file", async () => {
  const a = await node({ id: 1n });
  const b = await node({ id: 2n });
  a.t.addPeer(2n, [b.url]);
  const img = image(6 * 1024 * 1024 + 123, 64 * 1024 + 7);
  a.t.sendSnapshot(snapMsg(1n, 2n), img.chunks);
  await a.until(() => a.rec.snapshotStatus.length === 1, "snapshot status");
  expect(a.rec.snapshotStatus).toEqual([{ id: 2n, ok: true }]);
  expect(b.rec.snapshots.length).toBe(1);
  const got = b.rec.snapshots[0]!;
  expect(got.m.type).toBe(MessageType.MsgSnap);
  expect(got.m.snapshot?.meta).toEqual({ index: 1234, term: 5, confState: { voters: [1n, 2n, 3n], learners: [] } });
  expect(got.path.startsWith(b.tmpDir)).toBe(true);
  const file = await readFile(got.path);
  expect(file.length).toBe(img.bytes.length);
  expect(Buffer.compare(file, Buffer.from(img.bytes))).toBe(0);
  expect(a.t.activeSince(2n)).toBeGreaterThanOrEqual(0);
});

test("both ends of a 40 MiB image ask for a collection every 16 MiB that went through", async () => {
  let sent = 0;
  let received = 0;
  const a = await node({ id: 1n, collectGarbage: () => sent++ });
  const b = await node({ id: 2n, collectGarbage: () => received++ });
  a.t.addPeer(2n, [b.url]);
  const img = image(40 * 1024 * 1024, 256 * 1024);
  a.t.sendSnapshot(snapMsg(1n, 2n), img.chunks);
  await a.until(() => a.rec.snapshotStatus.length === 1, "snapshot status", 30_000);
  expect(a.rec.snapshotStatus).toEqual([{ id: 2n, ok: true }]);
  expect([sent, received]).toEqual([2, 2]);
  expect((await readFile(b.rec.snapshots[0]!.path)).length).toBe(img.bytes.length);
});

test("a rejected snapshot reports failure, answers 500 with the reason and leaves no temp file", async () => {
  const a = await node({ id: 1n });
  const b = await node({
    id: 2n,
    handler: {
      receiveSnapshot: async () => {
        throw new Error("snapshot index is behind the applied index");
      },
    },
  });
  a.t.addPeer(2n, [b.url]);
  a.t.sendSnapshot(snapMsg(1n, 2n), image(100_000, 4096).chunks);
  await a.until(() => a.rec.snapshotStatus.length === 1, "snapshot status");
  expect(a.rec.snapshotStatus).toEqual([{ id: 2n, ok: false }]);
  const warn = a.rec.logs.find((l) => l.m === "failed to send snapshot");
  expect(warn?.f).toMatchObject({ status: 500, error: "snapshot index is behind the applied index" });
  expect(await readdir(b.tmpDir)).toEqual([]);
});

test("a snapshot to an unknown or unreachable peer reports failure", async () => {
  const a = await node({ id: 1n });
  a.t.sendSnapshot(snapMsg(1n, 9n), image(10, 10).chunks);
  await a.until(() => a.rec.snapshotStatus.length === 1, "status for unknown peer");
  expect(a.rec.snapshotStatus).toEqual([{ id: 9n, ok: false }]);
  const probe = await startNode({ id: 2n });
  const dead = probe.url;
  await probe.close();
  a.t.addPeer(2n, [dead]);
  a.t.sendSnapshot(snapMsg(1n, 2n), image(1000, 100).chunks);
  await a.until(() => a.rec.snapshotStatus.length === 2, "status for dead peer");
  expect(a.rec.snapshotStatus[1]).toEqual({ id: 2n, ok: false });
  expect(a.rec.unreachable).toContain(2n);
});

test("a snapshot from another cluster is refused before anything is written", async () => {
  const a = await node({ id: 1n, clusterId: 0x1n });
  const b = await node({ id: 2n, clusterId: 0x2n });
  a.t.addPeer(2n, [b.url]);
  a.t.sendSnapshot(snapMsg(1n, 2n), image(200_000, 8192).chunks);
  await a.until(() => a.rec.snapshotStatus.length === 1, "snapshot status");
  expect(a.rec.snapshotStatus).toEqual([{ id: 2n, ok: false }]);
  expect(b.rec.snapshots).toEqual([]);
  expect(await readdir(b.tmpDir)).toEqual([]);
  expect(a.rec.logs.some((l) => l.level === "error" && l.m.includes("cluster ID mismatch"))).toBe(true);
});

test("an image that ends short of the length its MsgSnap announces is refused, never handed over", async () => {
  const { imageLengthData } = await import("../../src/transport/index.ts");
  const a = await node({ id: 1n });
  const b = await node({ id: 2n });
  a.t.addPeer(2n, [b.url]);
  const img = image(200_000, 4096);
  const base = snapMsg(1n, 2n);
  // Announces 200 000 bytes; the sender's image source stops after 100 000 without an error
  // (a copy closed under it), so the request itself ends normally.
  const m: Message = { ...base, snapshot: { ...base.snapshot!, data: imageLengthData(200_000) } };
  a.t.sendSnapshot(m, async function* () {
    let n = 0;
    for await (const c of img.chunks()) {
      if (n >= 100_000) return;
      n += c.length;
      yield c;
    }
  });
  await a.until(() => a.rec.snapshotStatus.length === 1, "snapshot status");
  expect(a.rec.snapshotStatus).toEqual([{ id: 2n, ok: false }]);
  expect(b.rec.snapshots.length).toBe(0);
  expect(await readdir(b.tmpDir)).toEqual([]);
  // The same image in full is taken.
  a.t.sendSnapshot(m, img.chunks);
  await a.until(() => a.rec.snapshotStatus.length === 2, "second status");
  expect(a.rec.snapshotStatus[1]).toEqual({ id: 2n, ok: true });
  expect(b.rec.snapshots.length).toBe(1);
});
