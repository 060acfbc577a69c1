// Runtime membership through the log: add a learner, let it join and catch up, promote it,
// remove a member, move the leader; with etcd's refusals.
import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import {
  MemberAddRequestSchema,
  MemberPromoteRequestSchema,
  MemberRemoveRequestSchema,
  MoveLeaderRequestSchema,
  PutRequestSchema,
} from "../../src/gen/rpc_pb.ts";
import { KV } from "../../src/gen/rpc_pb.ts";
import { Pipeline } from "../../src/api/pipeline/index.ts";
import { methodOf, type UnaryMethod } from "../../src/api/rpc/index.ts";
import { planBootstrap } from "../../src/server/bootstrap.ts";
import { join } from "node:path";
import { enc, TestCluster } from "./harness.ts";

let cl: TestCluster | undefined;
afterEach(async () => {
  await cl?.cleanup();
  cl = undefined;
});

const errText = async (p: Promise<unknown>) => {
  try {
    await p;
    return "ok";
  } catch (e) {
    return (e as Error).message;
  }
};

async function addLearner(c: TestCluster, name: string, url: string) {
  const leader = c.leader()!;
  const res = await c.run(leader.server.memberAdd(create(MemberAddRequestSchema, { peerURLs: [url], isLearner: true }), {}));
  const initial = new Map<string, string[]>();
  for (const m of res.members) initial.set(m.name === "" ? name : m.name, [...m.peerURLs]);
  const plan = await planBootstrap({
    name,
    initialCluster: initial,
    initialClusterState: "existing",
    token: "",
    fetchMembers: (urls) => c.net.transport(0n, c.root, { unreachable() {}, snapshot() {} }).fetchMembers(urls),
  });
  expect(plan.kind).toBe("join");
  expect(plan.identity.memberId).toBe(res.member!.ID);
  const m = await c.open(name, url, join(c.root, name), plan);
  return { m, id: res.member!.ID, res };
}

test("member add learner: listed unstarted, joins, catches up, refuses writes, then is promoted", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  for (let i = 0; i < 5; i++) await cl.put(leader, `k${i}`, "v");
  const { m, id, res } = await addLearner(cl, "m4", "http://10.0.0.4:2380");
  expect(res.member!.isLearner).toBe(true);
  expect(res.members.length).toBe(4);
  expect(res.header!.revision).toBe(0n);
  // A second learner is refused while one exists.
  expect(await errText(leader.server.memberAdd(create(MemberAddRequestSchema, { peerURLs: ["http://10.0.0.5:2380"], isLearner: true }), {})))
    .toBe("etcdserver: too many learner members in cluster");
  expect(await errText(leader.server.memberAdd(create(MemberAddRequestSchema, { peerURLs: ["http://10.0.0.4:2380"] }), {})))
    .toBe("etcdserver: Peer URLs already exists");
  await cl.until(() => m.server.loop.sm.appliedIndex >= leader.server.loop.sm.appliedIndex && m.server.loop.members.get(id)?.name === "m4");
  expect(await cl.get(m, "k4", true)).toBe("v");
  // The learner rule is the request pipeline's (etcd's interceptor), as every client meets it.
  const put = new Pipeline(m.server).unary(methodOf(KV.method.put) as UnaryMethod, create(PutRequestSchema, { key: enc("x"), value: enc("y") }), {});
  expect(await errText(put)).toBe("etcdserver: rpc not supported for learner");
  expect((await m.server.status({})).isLearner).toBe(true);
  await cl.run(leader.server.memberPromote(create(MemberPromoteRequestSchema, { ID: id }), {}));
  expect(await errText(leader.server.memberPromote(create(MemberPromoteRequestSchema, { ID: id }), {})))
    .toBe("etcdserver: can only promote a learner member");
  await cl.tick(3);
  expect((await m.server.status({})).isLearner).toBe(false);
  expect(leader.server.loop.node.raft.prs.confState().voters.length).toBe(4);
  await cl.put(m, "from-m4", "1");
  expect(await cl.get(leader, "from-m4")).toBe("1");
});

test("member remove: the list shrinks everywhere, the removed member is told, a second remove is not found", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  const victim = cl.followers()[0]!;
  let removed = false;
  (victim.server as unknown as { o: { onRemoved?: () => void } }).o.onRemoved = () => (removed = true);
  const res = await cl.run(leader.server.memberRemove(create(MemberRemoveRequestSchema, { ID: victim.id }), {}));
  expect(res.members.map((x) => x.ID)).not.toContain(victim.id);
  await cl.tick(3);
  expect(removed).toBe(true);
  expect(leader.server.isRemoved(victim.id)).toBe(true);
  expect(await errText(leader.server.memberRemove(create(MemberRemoveRequestSchema, { ID: victim.id }), {})))
    .toBe("etcdserver: member not found");
  const other = cl.running().find((x) => x !== leader && x !== victim)!;
  expect((await other.server.memberList({})).members.length).toBe(2);
  await cl.put(leader, "after", "1");
  expect(await cl.get(other, "after")).toBe("1");
});

test("move leader: the target takes over; learners and unknown IDs are refused; followers answer not leader", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  const target = cl.followers()[0]!;
  expect(await errText(target.server.moveLeader(create(MoveLeaderRequestSchema, { targetID: leader.id }), {})))
    .toBe("etcdserver: not leader");
  expect(await errText(leader.server.moveLeader(create(MoveLeaderRequestSchema, { targetID: 12345n }), {})))
    .toBe("etcdserver: bad leader transferee");
  await cl.run(leader.server.moveLeader(create(MoveLeaderRequestSchema, { targetID: target.id }), {}));
  expect(cl.leader()!.id).toBe(target.id);
  expect((await leader.server.status({})).leader).toBe(target.id);
});

test("strict reconfig check: a voter down or connected for less than 5 s makes the cluster unhealthy for a change", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  const add = (url: string) => errText(leader.server.memberAdd(create(MemberAddRequestSchema, { peerURLs: [url] }), {}));
  // Every voter published its name (started), but links younger than etcd's HealthInterval.
  cl.net.connectedForMs = 4999;
  expect(await add("http://10.0.0.9:2380")).toBe("etcdserver: unhealthy cluster");
  cl.net.connectedForMs = 60_000;
  // A voter down: still started (it published), but not connected.
  const down = cl.followers()[0]!;
  cl.net.down.add(down.id);
  expect(await add("http://10.0.0.9:2380")).toBe("etcdserver: unhealthy cluster");
  // Removing the down voter is allowed (etcd: a downed member is not part of the active quorum),
  // removing a connected one is not while another is down.
  const up = cl.followers().find((f) => f !== down)!;
  expect(await errText(leader.server.memberRemove(create(MemberRemoveRequestSchema, { ID: up.id }), {}))).toBe("etcdserver: unhealthy cluster");
  cl.net.down.delete(down.id);
  expect(await add("http://10.0.0.9:2380")).toBe("ok");
});

test("strict reconfig check: voters that never published their name are not started", async () => {
  cl = await TestCluster.start(1);
  const leader = cl.leader()!;
  const add = (url: string) => errText(cl!.run(leader.server.memberAdd(create(MemberAddRequestSchema, { peerURLs: [url] }), {})));
  // One member may grow to two (etcd's restore case) though the new one has not started...
  expect(await add("http://10.0.0.8:2380")).toBe("ok");
  // ... but then one started member of three is not a quorum.
  expect(await add("http://10.0.0.9:2380")).toBe("etcdserver: re-configuration failed due to not enough started members");
});

test("strict reconfig check: a one-member cluster may add a second voter (etcd's IsReadyToAddVotingMember)", async () => {
  cl = await TestCluster.start(1);
  const leader = cl.leader()!;
  const res = await leader.server.memberAdd(create(MemberAddRequestSchema, { peerURLs: ["http://10.0.0.9:2380"] }), {});
  expect(res.members.length).toBe(2);
  expect(res.member!.peerURLs).toEqual(["http://10.0.0.9:2380"]);
});

test("member promote on a follower is forwarded to the leader, which applies its in-sync rule", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  const follower = cl.followers()[0]!;
  // Count what reaches the leader's peer handler: the follower must not decide by itself.
  const forwarded: bigint[] = [];
  const leaderHandler = cl.net.handlers.get(leader.id)!;
  const realPromote = leaderHandler.promoteMember.bind(leaderHandler);
  cl.net.handlers.set(leader.id, Object.assign(Object.create(leaderHandler) as typeof leaderHandler, {
    promoteMember: (id: bigint) => {
      forwarded.push(id);
      return realPromote(id);
    },
  }));
  const { m, id } = await addLearner(cl, "m4", "http://10.0.0.4:2380");
  // Cut the learner off before it receives anything, then move the log on without it.
  cl.net.down.add(m.id);
  for (let i = 0; i < 20; i++) await cl.put(leader, `p${i}`, "v");
  expect(leader.server.loop.node.status().progress.get(id)!.match).toBeLessThan(leader.server.loop.commitIndex() * 0.9);

  const promote = (who: typeof follower, ID: bigint) =>
    errText(cl!.run(who.server.memberPromote(create(MemberPromoteRequestSchema, { ID }), {})));
  expect(await promote(follower, id)).toBe("etcdserver: can only promote a learner member which is in sync with leader");
  expect(await promote(follower, 0x12345n)).toBe("etcdserver: member not found");
  expect(await promote(follower, follower.id)).toBe("etcdserver: can only promote a learner member");
  expect(forwarded).toEqual([id, 0x12345n, follower.id]);
  expect(leader.server.loop.node.raft.prs.confState().learners).toEqual([id]);

  // Reconnected and caught up: the same request through the follower succeeds.
  cl.net.down.delete(m.id);
  await cl.until(() => leader.server.loop.node.status().progress.get(id)!.match >= leader.server.loop.commitIndex());
  const res = await cl.run(follower.server.memberPromote(create(MemberPromoteRequestSchema, { ID: id }), {}));
  expect(forwarded.length).toBe(4);
  expect(res.members.find((x) => x.ID === id)?.isLearner).toBe(false);
  expect(res.members.length).toBe(4);
  expect(res.header!.memberId).toBe(follower.id);
  await cl.tick(3);
  for (const x of cl.running()) expect(x.server.loop.node.raft.prs.confState().voters.length).toBe(4);
  expect((await m.server.status({})).isLearner).toBe(false);
});

test("member promote on a follower that cannot reach the leader times out", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  const follower = cl.followers()[0]!;
  const { id } = await addLearner(cl, "m4", "http://10.0.0.4:2380");
  // The follower still names the leader but cannot reach it (both stay up otherwise).
  const realReachable = cl.net.reachable.bind(cl.net);
  cl.net.reachable = (from, to) => !(from === follower.id && to === leader.id) && realReachable(from, to);
  expect(await errText(cl.run(follower.server.memberPromote(create(MemberPromoteRequestSchema, { ID: id }), {}), 400)))
    .toBe("etcdserver: request timed out");
  expect(leader.server.loop.node.raft.prs.confState().learners).toEqual([id]);
});
