// A watch on a follower survives the follower installing a snapshot from the leader: writes
// before, during (missed while cut off) and after the install arrive once each, in order.
import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { CompactionRequestSchema, type WatchResponse, WatchCreateRequestSchema } from "../../src/gen/rpc_pb.ts";
import { dec, enc, TestCluster, type TestMember } from "./harness.ts";

let cl: TestCluster | undefined;
afterEach(async () => {
  await cl?.cleanup();
  cl = undefined;
});

function watchOn(m: TestMember, key: string, rangeEnd = "") {
  const got: WatchResponse[] = [];
  const s = m.server.openWatchStream((r) => got.push(r), {}, () => {
    throw new Error("stream closed");
  });
  s.create(create(WatchCreateRequestSchema, { key: enc(key), rangeEnd: enc(rangeEnd) }));
  const events = () => got.flatMap((r) => r.events.map((e) => `${dec(e.kv!.key)}=${dec(e.kv!.value)}@${e.kv!.modRevision}`));
  return { s, got, events };
}

/** Cuts `f` off, lets the leader write and compact its log past it, reconnects it. */
async function lagPastLog(c: TestCluster, f: TestMember, leader: TestMember, from: number, to: number): Promise<void> {
  c.net.down.add(f.id);
  for (let i = from; i < to; i++) await c.put(leader, `w/${String(i).padStart(3, "0")}`, `v${i}`);
  expect(leader.m!.log.firstIndex()).toBeGreaterThan(f.server.loop.sm.appliedIndex + 1); // it needs a snapshot
  c.net.down.delete(f.id);
  await c.until(() => f.server.loop.sm.appliedIndex >= leader.server.loop.sm.appliedIndex);
}

test("a follower's watch keeps streaming across a snapshot install: every write once, in order", async () => {
  cl = await TestCluster.start(3, { snapshotCount: 20, catchUpEntries: 2 });
  const leader = cl.leader()!;
  const f = cl.followers()[0]!;
  const w = watchOn(f, "w/", "w0");
  for (let i = 0; i < 5; i++) await cl.put(leader, `w/${String(i).padStart(3, "0")}`, `v${i}`);
  await cl.until(() => w.events().length === 5);
  await lagPastLog(cl, f, leader, 5, 45);
  expect(f.server.metrics()).toMatch(/^etcd_network_snapshot_receive_success\{From="[0-9a-f]+"\} 1$/m);
  for (let i = 45; i < 50; i++) await cl.put(leader, `w/${String(i).padStart(3, "0")}`, `v${i}`);
  await cl.until(() => w.events().length >= 50);
  await cl.settle();
  const keys = w.events().map((e) => e.split("=")[0]);
  expect(keys).toEqual(Array.from({ length: 50 }, (_, i) => `w/${String(i).padStart(3, "0")}`));
  const revs = w.got.flatMap((r) => r.events.map((e) => Number(e.kv!.modRevision)));
  expect(revs).toEqual([...revs].sort((a, b) => a - b));
  expect(new Set(revs).size).toBe(50);
  expect(w.got.some((r) => r.canceled)).toBe(false);
  // The stream also still serves new watches on the new store.
  w.s.create(create(WatchCreateRequestSchema, { key: enc("later") }));
  await cl.put(leader, "later", "x");
  await cl.until(() => w.got.some((r) => r.watchId === 1n && r.events.length === 1));
});

test("a follower's watch the leader compacted past during the lag is canceled with compact_revision", async () => {
  cl = await TestCluster.start(3, { snapshotCount: 20, catchUpEntries: 2 });
  const leader = cl.leader()!;
  const f = cl.followers()[0]!;
  await cl.put(leader, "w/000", "v0");
  const w = watchOn(f, "w/", "w0");
  const next = f.server.loop.sm.revision + 1; // the watcher's next revision
  cl.net.down.add(f.id);
  for (let i = 1; i < 40; i++) await cl.put(leader, `w/${String(i).padStart(3, "0")}`, `v${i}`);
  const compactTo = leader.server.loop.sm.revision - 5;
  expect(compactTo).toBeGreaterThan(next);
  await cl.run(leader.server.compact(create(CompactionRequestSchema, { revision: BigInt(compactTo), physical: true }), {}));
  for (let i = 40; i < 45; i++) await cl.put(leader, `w/${String(i).padStart(3, "0")}`, `v${i}`);
  cl.net.down.delete(f.id);
  await cl.until(() => f.server.loop.sm.appliedIndex >= leader.server.loop.sm.appliedIndex);
  await cl.until(() => w.got.some((r) => r.canceled));
  expect(f.server.metrics()).toMatch(/^etcd_network_snapshot_receive_success\{From="[0-9a-f]+"\} 1$/m);
  const canceled = w.got.filter((r) => r.canceled);
  expect(canceled.length).toBe(1);
  expect(Number(canceled[0]!.compactRevision)).toBe(compactTo);
  expect(w.events()).toEqual([]);
});
