// Partitions in a three-member cluster. Where network namespaces can be built (root, `ip`),
// the partition is real: each member runs in its own namespace and its peer link is cut
// while clients still reach it, so both sides stay alive. Elsewhere (or E2E_PARTITION=sigstop)
// it is emulated by freezing members with SIGSTOP: a frozen member keeps its sockets but
// answers nothing, as if the links to it were cut; SIGCONT heals. Test names say which ran.
// A lone member is a minority: writes and linearizable reads fail, serializable reads answer.
// Two members are a majority: they keep serving, and the cut-off one catches up when healed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Cluster, type ClusterMember, errorLine, NetnsLab, netnsAvailable, writeKeys } from "../helpers/index.ts";

const REAL = netnsAvailable();
const MODE = REAL ? "real partition, network namespaces" : "emulated partition, SIGSTOP";
console.log(`partition tests: ${MODE}`);

let lab: NetnsLab | undefined;
let cluster: Cluster | undefined;
const c = (): Cluster => {
  if (!cluster) throw new Error("cluster did not start (see beforeAll failure)");
  return cluster;
};

beforeAll(async () => {
  if (REAL) lab = NetnsLab.create(3);
  cluster = await Cluster.start({ size: 3, addresses: lab?.addresses });
}, 60_000);
afterAll(async () => {
  await cluster?.cleanup();
  lab?.cleanup();
});

/** Separates `alone` from the others: cut its peer link, or freeze the others. */
function isolate(alone: ClusterMember): () => void {
  const cl = c();
  if (lab) {
    const i = cl.members.indexOf(alone);
    lab.cut(i);
    return () => lab!.heal(i);
  }
  const others = cl.members.filter((m) => m !== alone);
  for (const m of others) m.pause();
  return () => {
    for (const m of others) m.resume();
  };
}

/** Freezes or cuts one member off; the others form a majority. */
function cutOff(m: ClusterMember): () => void {
  if (lab) return isolate(m);
  m.pause();
  return () => m.resume();
}

// What a client sees from a member that cannot reach a quorum, within its 2 s budget: etcdctl's
// own deadline (or the server's, relayed as Unknown: both seen from etcd 3.4 on a linearizable
// get), or etcd's refusal once the member knows it has no leader.
const MINORITY_ERRORS = [
  "Error: context deadline exceeded",
  "Error: rpc error: code = Unknown desc = context deadline exceeded",
  "Error: etcdserver: request timed out",
  "Error: etcdserver: no leader",
  "Error: etcdserver: leader changed",
];

test(`minority (${MODE}): writes and linearizable reads fail on the lone member, serializable reads answer`, async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  await leader.ctl.ok("put", "part/k", "before");
  await cl.waitConverged(cl.members);
  const others = cl.members.filter((m) => m !== leader);
  // The leader is left alone: with check-quorum it must stop acting as leader.
  const heal = isolate(leader);
  try {
    const put = await leader.ctl.run("put", "part/k", "during", "--command-timeout=2s");
    expect(put.code).not.toBe(0);
    console.log(`minority put: ${errorLine(put)}`);
    expect(MINORITY_ERRORS).toContain(errorLine(put)!);
    const lin = await leader.ctl.run("get", "part/k", "--command-timeout=2s");
    expect(lin.code).not.toBe(0);
    console.log(`minority linearizable get: ${errorLine(lin)}`);
    expect(MINORITY_ERRORS).toContain(errorLine(lin)!);
    const ser = await leader.ctl.run("get", "part/k", "--consistency=s", "--print-value-only", "--command-timeout=2s");
    expect(ser.code).toBe(0);
    expect(ser.stdout).toBe("before\n");
    // The lone member no longer claims a leader once an election timeout has passed without
    // hearing from a quorum (check-quorum); /health says false.
    const health = await fetch(`${leader.clientURL}/health`, { signal: AbortSignal.timeout(5000) });
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ health: "false" });
    if (lab) {
      // Real partition: the other side is alive, elects a leader and takes writes meanwhile,
      // which the lone member cannot see.
      const newLeader = await cl.waitLeader(others, 15_000);
      expect(newLeader).not.toBe(leader);
      await others[0]!.ctl.ok("put", "part/k", "majority");
      expect(await others[1]!.ctl.ok("get", "part/k", "--print-value-only")).toBe("majority\n");
      expect((await leader.localRange("part/")).kvs.get("part/k")?.value).toBe("before");
    }
  } finally {
    heal();
  }
  // Healed: one leader again; the write that timed out may or may not have been applied
  // (it was never acknowledged), but all three agree on whatever history is.
  await cl.waitLeader(cl.members, 15_000);
  await cl.members[1]!.ctl.ok("put", "part/k", "after");
  await cl.waitConverged(cl.members);
  for (const m of cl.members) expect((await m.localRange("part/")).kvs.get("part/k")?.value).toBe("after");
}, 60_000);

test(`majority (${MODE}): with the leader cut off the other two elect a leader and keep serving; healed, it catches up`, async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const majority = cl.members.filter((m) => m !== leader);
  const heal = cutOff(leader);
  try {
    const newLeader = await cl.waitLeader(majority, 15_000);
    expect(newLeader).not.toBe(leader);
    const lastRev = await writeKeys(majority[0]!, "part/maj/", 200);
    expect(await majority[1]!.ctl.ok("get", "part/maj/000199", "--print-value-only")).toBe("v199\n");
    const conv = await cl.waitConverged(majority);
    expect(conv.revision).toBeGreaterThanOrEqual(lastRev);
    // Real partition: the cut-off member still answers, from its old state.
    if (lab) expect((await leader.localRange("part/maj/")).kvs.size).toBe(0);
  } finally {
    heal();
  }
  const all = await cl.waitConverged(cl.members);
  const view = await leader.localRange("part/maj/");
  expect(view.revision).toBe(all.revision);
  expect(view.kvs.size).toBe(200);
  // The healed member rejoins as a follower of the new term's leader.
  const agreed = await cl.waitLeader(cl.members);
  expect(agreed).not.toBe(leader);
}, 60_000);
