// Three members in one process: writes replicate, followers forward proposals and serve
// linearizable reads, a leader failure elects a new leader that keeps acknowledged writes.
import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { PutRequestSchema, RangeRequestSchema } from "../../src/gen/rpc_pb.ts";
import { dec, enc, TestCluster } from "./harness.ts";

let cl: TestCluster | undefined;
afterEach(async () => {
  await cl?.cleanup();
  cl = undefined;
});

test("a write on the leader is applied on every member", async () => {
  cl = await TestCluster.start(3);
  const leader = cl.leader()!;
  const r = await cl.put(leader, "k", "v1");
  expect(Number(r.header!.revision)).toBe(2);
  await cl.tick(2);
  for (const m of cl.members) expect(await cl.get(m, "k", true)).toBe("v1");
});

test("a follower forwards proposals and serves linearizable reads", async () => {
  cl = await TestCluster.start(3);
  const [f1, f2] = cl.followers();
  await cl.put(f1!, "a", "1");
  // Linearizable: the other follower sees the write without waiting for a heartbeat.
  expect(await cl.get(f2!, "a")).toBe("1");
  const st = await f2!.server.status({});
  expect(st.leader).toBe(cl.leader()!.id);
  expect(st.isLearner).toBe(false);
});

test("the members table is filled by applying the bootstrap entries and published attributes", async () => {
  cl = await TestCluster.start(3);
  await cl.tick(3);
  for (const m of cl.members) {
    const list = await m.server.memberList({});
    expect(list.members.map((x) => x.name).sort()).toEqual(["m1", "m2", "m3"]);
    expect(list.members.every((x) => x.clientURLs.length === 1)).toBe(true);
    expect(list.header!.revision).toBe(0n);
  }
});

test("leader failure: a new leader is elected and acknowledged writes are kept", async () => {
  cl = await TestCluster.start(3);
  const old = cl.leader()!;
  for (let i = 0; i < 5; i++) await cl.put(old, `k${i}`, `v${i}`);
  await cl.kill(old);
  const nl = await cl.waitLeader();
  expect(nl.id).not.toBe(old.id);
  for (let i = 0; i < 5; i++) expect(await cl.get(nl, `k${i}`)).toBe(`v${i}`);
  await cl.put(cl.followers()[0]!, "after", "x");
  expect(await cl.get(nl, "after")).toBe("x");
});

test("reads issued at once on every member all complete (read contexts differ per member)", async () => {
  cl = await TestCluster.start(3);
  await cl.put(cl.leader()!, "r", "1");
  const reads = Promise.all(cl.members.map((m) => m.server.range(create(RangeRequestSchema, { key: enc("r") }), {})));
  const out = await cl.run(reads);
  expect(out.map((r) => dec(r.kvs[0]!.value))).toEqual(["1", "1", "1"]);
});

test("an isolated follower's proposal times out with etcd's text", async () => {
  cl = await TestCluster.start(3);
  const f = cl.followers()[0]!;
  cl.net.down.add(f.id);
  let err: unknown;
  // Time passes only for the others; the isolated member is ticked by hand.
  const p = f.server.put(create(PutRequestSchema, { key: enc("x"), value: enc("1") }), {}).catch((e: unknown) => (err = e));
  for (let i = 0; i < 80 && err === undefined; i++) {
    cl.now += 100;
    f.server.tick();
    await cl.settle();
  }
  await p;
  expect((err as Error).message).toBe("etcdserver: request timed out");
});

test("raft_term in headers and Status is the term of the last applied entry, as etcd's: an isolated follower's elections do not move it", async () => {
  cl = await TestCluster.start(3, { preVote: false });
  const f = cl.followers()[0]!;
  await cl.put(cl.leader()!, "t", "1");
  await cl.tick(2);
  const before = (await f.server.status({})).raftTerm;
  cl.net.down.add(f.id);
  // Without pre-vote the isolated member campaigns again and again: its Raft term climbs.
  for (let i = 0; i < 60; i++) {
    cl.now += 100;
    f.server.tick();
    await cl.settle();
  }
  expect(BigInt(f.server.loop.term())).toBeGreaterThan(before + 1n);
  const st = await f.server.status({});
  expect(st.raftTerm).toBe(before);
  expect(st.header!.raftTerm).toBe(before);
  const r = await f.server.range(create(RangeRequestSchema, { key: enc("t"), serializable: true }), {});
  expect(r.header!.raftTerm).toBe(before);
  // Back in the cluster it forces an election at a higher term; once the new leader's first
  // entry is applied, every member reports that term.
  cl.net.down.delete(f.id);
  const nl = await cl.waitLeader();
  await cl.put(nl, "t", "2");
  await cl.tick(2);
  const term = BigInt(nl.server.loop.term());
  expect(term).toBeGreaterThan(before + 1n);
  for (const m of cl.members) expect((await m.server.status({})).raftTerm).toBe(term);
});
