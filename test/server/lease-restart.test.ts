// Leases across a leader change (checkpointed remaining TTL, not reset), keepalive and TTL
// forwarded from followers, restart replay, and a joining member fed by a snapshot.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  LeaseGrantRequestSchema,
  LeaseTimeToLiveRequestSchema,
  MemberAddRequestSchema,
  MoveLeaderRequestSchema,
} from "../../src/gen/rpc_pb.ts";
import { planBootstrap } from "../../src/server/bootstrap.ts";
import { TestCluster } from "./harness.ts";

let cl: TestCluster | undefined;
afterEach(async () => {
  await cl?.cleanup();
  cl = undefined;
});

const ttlOf = async (c: TestCluster, m: { server: TestCluster["members"][number]["server"] }, id: bigint) =>
  Number((await c.run(m.server.leaseTimeToLive(create(LeaseTimeToLiveRequestSchema, { ID: id }), {}))).TTL);

test("a lease keeps its remaining TTL across a forced leader change (not reset to the full TTL)", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  const g = await cl.run(leader.server.leaseGrant(create(LeaseGrantRequestSchema, { TTL: 60n }), {}));
  await cl.tick(200); // 20 s pass; checkpoints go through the log every 2 s
  const before = await ttlOf(cl, leader, g.ID);
  expect(before).toBeLessThanOrEqual(40);
  expect(before).toBeGreaterThanOrEqual(38);
  const target = cl.followers()[0]!;
  await cl.run(leader.server.moveLeader(create(MoveLeaderRequestSchema, { targetID: target.id }), {}));
  expect(cl.leader()!.id).toBe(target.id);
  const after = await ttlOf(cl, target, g.ID);
  // The new leader restarts the deadline at the checkpointed remaining TTL (+ one election
  // timeout of grace), far from the 60 s a reset would give.
  expect(after).toBeLessThanOrEqual(before + 1);
  expect(after).toBeGreaterThanOrEqual(before - 3);
  // A follower asks the leader: the same answer.
  expect(Math.abs((await ttlOf(cl, leader, g.ID)) - after)).toBeLessThanOrEqual(1);
});

test("keepalive on a follower renews at the leader; only the leader expires leases", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  const f = cl.followers()[0]!;
  const g = await cl.run(f.server.leaseGrant(create(LeaseGrantRequestSchema, { TTL: 10n }), {}));
  await cl.tick(50);
  expect(await ttlOf(cl, leader, g.ID)).toBeLessThanOrEqual(5);
  const ka = await cl.run(f.server.leaseKeepAlive(g.ID, {}));
  expect(Number(ka.TTL)).toBe(10);
  expect(await ttlOf(cl, leader, g.ID)).toBeGreaterThanOrEqual(9);
  await cl.tick(120); // past the TTL: the leader revokes it through the log
  for (const m of cl.members) expect(await ttlOf(cl, m, g.ID)).toBe(-1);
});

test("restart replays the log to the same state", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  for (let i = 0; i < 10; i++) await cl.put(leader, `k${i}`, `v${i}`);
  const f = cl.followers()[0]!;
  const hashBefore = await cl.run(f.server.hash({}));
  const applied = f.server.loop.sm.appliedIndex;
  await cl.kill(f);
  await cl.put(leader, "while-down", "x");
  const plan = await planBootstrap({
    name: f.name,
    initialCluster: new Map(),
    initialClusterState: "new",
    token: "",
    existing: { name: f.name, memberId: f.id, clusterId: leader.server.clusterId },
    fetchMembers: async () => undefined,
  });
  const back = await cl.open(f.name, f.peerURL, f.dataDir, plan);
  expect(back.server.loop.sm.appliedIndex).toBeGreaterThanOrEqual(applied);
  expect(await cl.get(back, "k9")).toBe("v9");
  expect(await cl.get(back, "while-down")).toBe("x");
  expect((await back.server.memberList({})).members.length).toBe(3);
  expect(hashBefore.hash).not.toBe(0);
});

test("a member joining after log compaction is sent a snapshot and installs it", async () => {
  cl = await TestCluster.start(3, { snapshotCount: 20, catchUpEntries: 2 });
  const leader = cl.leader()!;
  for (let i = 0; i < 40; i++) await cl.put(leader, `s${i}`, `v${i}`);
  expect(leader.m!.log.firstIndex()).toBeGreaterThan(20); // the leader compacted its log
  const res = await cl.run(leader.server.memberAdd(create(MemberAddRequestSchema, { peerURLs: ["http://10.0.0.4:2380"], isLearner: true }), {}));
  const plan = await planBootstrap({
    name: "m4",
    initialCluster: new Map(res.members.map((m) => [m.name === "" ? "m4" : m.name, [...m.peerURLs]])),
    initialClusterState: "existing",
    token: "",
    fetchMembers: (urls) => cl!.net.transport(0n, cl!.root, { unreachable() {}, snapshot() {} }).fetchMembers(urls),
  });
  const m4 = await cl.open("m4", "http://10.0.0.4:2380", join(cl.root, "m4"), plan);
  await cl.until(() => m4.server.loop.sm.appliedIndex >= leader.server.loop.sm.appliedIndex);
  expect(m4.m!.log.snapshotMeta().index).toBeGreaterThan(1); // started from a snapshot
  expect(await cl.get(m4, "s39", true)).toBe("v39");
  expect(m4.server.metrics()).toMatch(/^etcd_network_snapshot_receive_success\{From="[0-9a-f]+"\} 1$/m);
  expect((await m4.server.memberList({})).members.length).toBe(4);
});
