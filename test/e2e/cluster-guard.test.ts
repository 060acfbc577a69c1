// A member must never fork or mix clusters. Each case starts a process the cluster should not
// accept and checks that it is refused with a clear message while the cluster carries on:
//   (a) a fresh member started with --initial-cluster-state new naming a running cluster;
//   (c) a member restarted on a data dir from another cluster;
//   (b) a member removed from the cluster restarted on its old data dir.
// (WAL damage is in cluster-guard-wal.test.ts.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, renameSync } from "node:fs";
import { join } from "node:path";
import {
  Cluster, type ClusterMember, FAST_RAFT_FLAGS, freePorts, hexId, isEtcd, LineProcess, makeTempDir, memberBinary, pollUntil,
  removeDir, withTimeout,
} from "../helpers/index.ts";

let cluster: Cluster | undefined;
const scratch = makeTempDir("e2e-guard");
const c = (): Cluster => {
  if (!cluster) throw new Error("cluster did not start (see beforeAll failure)");
  return cluster;
};
const spawned: LineProcess[] = [];

beforeAll(async () => {
  cluster = await Cluster.start({ size: 3 });
}, 60_000);
afterAll(async () => {
  await Promise.all(spawned.map((p) => p.kill()));
  await cluster?.cleanup();
  removeDir(scratch);
});

/** The member list (IDs and names) as the running members see it, and a write that works. */
async function clusterIntact(expectIds: bigint[], key: string, ms: ClusterMember[] = c().running()): Promise<void> {
  const cl = c();
  const list = await cl.memberList(ms);
  expect(list.map((m) => m.id).sort()).toEqual([...expectIds].sort());
  await ms[0]!.ctl.ok("put", key, "ok");
  await cl.waitConverged(ms);
  for (const m of ms) expect((await m.localRange(key)).kvs.get(key)?.value).toBe("ok");
}

/**
 * Makes `target` the leader (move-leader through the current leader). Taking a member down
 * right after it led costs an election; removing a leader from a two-voter cluster can leave
 * the survivor without the commit (etcd then stalls), so the tests remove and stop followers.
 */
async function makeLeader(target: ClusterMember, among: ClusterMember[]): Promise<void> {
  const cl = c();
  const leader = await cl.waitLeader(among);
  if (leader === target) return;
  const id = (await target.status()).id;
  await leader.ctl.ok("move-leader", hexId(id));
  const now = await cl.waitLeader(among);
  expect(now).toBe(target);
}

/** Waits for `p` to exit; returns its exit code and the non-empty stderr lines. */
/**
 * What a member refused at start printed, without log warnings: a running member may reach its
 * peer port before it exits (it is still in that member's list), which logs a warning there —
 * timing, not part of the refusal.
 */
const refusal = (lines: string[]): string[] => lines.filter((l) => !/^\d{4}-\d\d-\d\d [\d:.]+ W \| /.test(l));

async function exitOf(p: LineProcess, ms = 20_000): Promise<{ code: number | null; lines: string[] }> {
  const info = await withTimeout(p.exited, ms, `process exits\n${p.describe()}`);
  // The test runner's own CONCLAVE_BIN/ETCD_BIN variables draw a warning line: not the member's.
  const lines = p.stderrLines.filter((l) => l.trim() !== "" && !/unrecognized environment variable/.test(l));
  return { code: info.code, lines };
}

test("(a) a new member naming a running cluster with --initial-cluster-state new is refused", async () => {
  const cl = c();
  const before = (await cl.memberList()).map((m) => m.id);
  const [clientPort, peerPort] = await freePorts(2);
  const peerURL = `http://127.0.0.1:${peerPort}`;
  const clientURL = `http://127.0.0.1:${clientPort}`;
  const initial = [...cl.members.map((m) => `${m.name}=${m.peerURL}`), `intruder=${peerURL}`].join(",");
  const proc = new LineProcess(memberBinary(), [
    "--name", "intruder", "--data-dir", join(scratch, "intruder.data"),
    "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
    "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
    "--initial-cluster", initial, "--initial-cluster-token", cl.token, "--initial-cluster-state", "new",
    ...FAST_RAFT_FLAGS,
  ], { maxLines: 3000 });
  spawned.push(proc);
  if (isEtcd()) {
    // etcd does not refuse at start: its bootstrap check only looks for its own ID among the
    // peers' published members. It runs with a 4-voter configuration of its own (another cluster
    // ID), can never elect a leader, and the running members refuse its messages with
    // "request cluster ID mismatch". We assert the cluster is unaffected.
    const line = await proc.lineMatching(/cluster ID mismatch/, 20_000);
    expect(proc.hasExited).toBe(false);
    console.log(`etcd intruder keeps running: ${line.slice(0, 300)}`);
    await proc.kill();
  } else {
    // Ours probes the listed peers first and refuses the cluster ID they answer with.
    const { code, lines } = await exitOf(proc);
    expect(code).not.toBe(0);
    expect(refusal(lines).length).toBe(1);
    expect(refusal(lines)[0]).toMatch(/^conclave: peer answered with cluster ID [0-9a-f]+, expected [0-9a-f]+: check --initial-cluster-token and --initial-cluster$/);
  }
  await clusterIntact(before, "guard/a");
}, 60_000);

test("(a) a member wiped and started again with --initial-cluster-state new is refused", async () => {
  const cl = c();
  const before = (await cl.memberList()).map((m) => m.id);
  const m3 = cl.member("m3");
  const m3Id = (await m3.status()).id;
  await m3.kill();
  const saved = join(scratch, "m3-saved.data");
  renameSync(m3.dataDir, saved);
  m3.spawn(); // the same flags as at first start: state new, an empty data dir
  const { code, lines } = await exitOf(m3.process);
  expect(code).not.toBe(0);
  const wanted = isEtcd()
    ? new RegExp(`member ${hexId(m3Id)} has already been bootstrapped`)
    : new RegExp(`^conclave: member ${hexId(m3Id)} has already been bootstrapped; use --initial-cluster-state=existing`);
  // etcd logs at info level before the fatal line; ours prints the one line.
  if (isEtcd()) {
    expect(lines.some((l) => wanted.test(l))).toBe(true);
    console.log(`etcd exit ${code}: ${lines.find((l) => wanted.test(l))!.slice(0, 300)}`);
  }
  else expect(refusal(lines)).toEqual([expect.stringMatching(wanted)]);
  removeDir(m3.dataDir);
  renameSync(saved, m3.dataDir);
  await m3.start();
  await clusterIntact(before, "guard/a2");
}, 60_000);

test("(c) a member restarted on a data dir from another cluster is refused, no data mixed", async () => {
  const cl = c();
  const before = (await cl.memberList()).map((m) => m.id);
  const other = await Cluster.start({ size: 1, namePrefix: "other" });
  try {
    await other.members[0]!.ctl.ok("put", "guard/other-only", "x");
    await other.members[0]!.kill();
    await cl.members[0]!.ctl.ok("put", "guard/a-only", "y");
    const m3 = cl.member("m3");
    await makeLeader(cl.member("m1"), cl.running());
    await m3.kill();
    const saved = join(scratch, "m3-own.data");
    renameSync(m3.dataDir, saved);
    cpSync(other.members[0]!.dataDir, m3.dataDir, { recursive: true });
    m3.spawn();
    // The process runs as the other cluster's member (its data dir says so; --initial-cluster
    // flags are ignored on a restart, as etcd does). The two clusters refuse each other's
    // messages: the receiver answers 412 "request cluster ID mismatch", the sender logs it.
    const refusedLine = await m3.process.lineMatching(/request cluster ID mismatch/, 20_000);
    const rest = [cl.member("m1"), cl.member("m2")];
    const senderLine = await Promise.any(rest.map((m) => m.process.lineMatching(/request sent was ignored \(cluster ID mismatch/, 20_000)));
    console.log(`on the foreign data dir: ${refusedLine.slice(0, 200)}\nthe cluster: ${senderLine.slice(0, 200)}`);
    // No data crosses: the foreign member has its own cluster's key only, the cluster never
    // sees that key, and the foreign member is not listed.
    await clusterIntact(before, "guard/c", rest);
    const foreign = await pollUntil(() => m3.localRange("guard/").catch(() => undefined), 10_000, "m3 answers reads");
    expect([...foreign.kvs.keys()]).toEqual(["guard/other-only"]);
    for (const m of rest) expect((await m.localRange("guard/other-only")).kvs.size).toBe(0);
    expect((await cl.memberList(rest)).some((m) => m.name === "other1")).toBe(false);

    await m3.kill();
    removeDir(m3.dataDir);
    renameSync(saved, m3.dataDir);
    await m3.start();
    await clusterIntact(before, "guard/c2");
  } finally {
    await other.cleanup();
  }
}, 90_000);

test("(b) a member removed while it was down is refused by its peers when it restarts", async () => {
  const cl = c();
  const m3 = cl.member("m3");
  const m3Id = (await m3.status()).id;
  const rest = [cl.member("m1"), cl.member("m2")];
  await makeLeader(rest[0]!, cl.running());
  await m3.kill();
  // Its log never sees the removal: only the peers can tell it (410 Gone on its messages).
  await cl.reconfigure(["member", "remove", hexId(m3Id)], rest);
  await rest[0]!.ctl.ok("put", "guard/after-remove", "v");
  m3.spawn();
  const { code, lines } = await exitOf(m3.process, 30_000);
  console.log(`member removed while down, restarted: exit ${code}: ${lines.filter((l) => /removed/.test(l)).join(" | ").slice(0, 400)}`);
  expect(lines.some((l) => l.includes("the member has been permanently removed from the cluster"))).toBe(true);
  const ids = await Promise.all(rest.map(async (m) => (await m.status()).id));
  await clusterIntact(ids, "guard/b", rest);
  expect((await cl.memberList(rest)).some((m) => m.id === m3Id)).toBe(false);
}, 60_000);

test("(b) a removed member restarted on its old data dir is refused and never rejoins", async () => {
  const cl = c();
  // Two voters left, both up: the removal commits, m1 carries on alone.
  const m3 = cl.member("m2");
  const m3Id = (await m3.status()).id;
  const rest = [cl.member("m1")];
  await makeLeader(rest[0]!, [rest[0]!, m3]);
  await cl.reconfigure(["member", "remove", hexId(m3Id)], rest);
  // The removed member stops by itself (etcd exits with status 0).
  const first = await withTimeout(m3.process.exited, 20_000, `removed m2 exits\n${m3.logTail()}`);
  expect(first.code).toBe(0);
  const after = (await cl.memberList(rest)).map((m) => m.id);
  expect(after).not.toContain(m3Id);
  await rest[0]!.ctl.ok("put", "guard/after-remove-2", "v");

  m3.spawn();
  const { code, lines } = await exitOf(m3.process);
  console.log(`removed member restarted: exit ${code}: ${lines.filter((l) => /removed/.test(l)).join(" | ").slice(0, 400)}`);
  expect(lines.some((l) => l.includes("the member has been permanently removed from the cluster"))).toBe(true);
  // Never rejoined: not listed, the cluster's writes since the removal never reached it.
  await clusterIntact(after, "guard/b2", rest);
  expect((await cl.memberList(rest)).some((m) => m.id === m3Id)).toBe(false);
}, 60_000);
