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
  expect(await errText(m.server.put(create(PutRequestSchema, { key: enc("x"), value: enc("y") }), {})))
    .toBe("etcdserver: rpc not supported for learner");
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

test("strict reconfig check: adding a voter with a member down fails with not enough started members", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  cl.net.down.add(cl.followers()[0]!.id);
  expect(await errText(leader.server.memberAdd(create(MemberAddRequestSchema, { peerURLs: ["http://10.0.0.9:2380"] }), {})))
    .toBe("etcdserver: re-configuration failed due to not enough started members");
});
