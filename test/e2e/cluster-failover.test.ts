// Crash faults in a three-member cluster: the leader SIGKILLed under concurrent writers (a new
// leader takes over within a few election timeouts and no acknowledged write is lost), then
// every member SIGKILLed at once and restarted (same data, same revisions, same hashes).
import { expect, test } from "bun:test";
import { ELECTION_TIMEOUT_MS, measureFirstWrite, missingAcks, WriteLoad, useCluster } from "../helpers/index.ts";

const PREFIX = "fo/";

const c = useCluster({ size: 3 });

test("SIGKILL of the leader under write load: new leader quickly, no acknowledged write lost", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const survivors = cl.members.filter((m) => m !== leader);
  // Writers spread over all three members (followers forward to the leader).
  const load = new WriteLoad(() => cl.members, { writers: 4, prefix: PREFIX, requestTimeoutMs: 2000 });
  load.start();
  try {
    await load.waitAcks(40, 10_000);
    const killedAt = performance.now();
    await leader.kill();
    const first = await measureFirstWrite(survivors, killedAt);
    console.log(
      `failover: first write acknowledged ${first.ms.toFixed(0)} ms after SIGKILL of the leader ` +
        `(election timeout ${ELECTION_TIMEOUT_MS} ms, via ${first.member})`,
    );
    // "A few election timeouts": detection takes one, the election about one more.
    expect(first.ms).toBeLessThan(10 * ELECTION_TIMEOUT_MS);
    // The writers themselves got through too (a write they sent after the kill).
    await load.firstAckSentAfter(killedAt, 10_000);
    // Keep writing under the new leader for a while.
    const n = load.acks.length;
    await load.waitAcks(n + 40, 10_000);
  } finally {
    await load.stop();
  }
  console.log(`load: ${load.describe()}`);

  const newLeader = await cl.waitLeader(survivors);
  expect(newLeader).not.toBe(leader);
  const { revision } = await cl.waitConverged(survivors);
  expect(revision).toBeGreaterThanOrEqual(Math.max(...load.acks.map((a) => a.revision)));
  for (const m of survivors) {
    const view = await m.localRange(PREFIX);
    expect(missingAcks(load.acks, view.kvs)).toEqual([]);
  }

  // The killed member comes back on its data dir and catches up with the others.
  await leader.start();
  const after = await cl.waitConverged(cl.members);
  expect(after.revision).toBe(revision);
  const view = await leader.localRange(PREFIX);
  expect(missingAcks(load.acks, view.kvs)).toEqual([]);
  expect(view.revision).toBe(revision);
  expect((await cl.memberList()).every((m) => m.started)).toBe(true);
}, 90_000);

test("SIGKILL of every member, then restart: same keys, revisions and hashes", async () => {
  const cl = c();
  await cl.waitLeader();
  // A few more writes, including deletes and overwrites, so history is not trivial.
  const ctl = cl.members[0]!.ctl;
  await ctl.ok("put", `${PREFIX}over`, "1");
  await ctl.ok("put", `${PREFIX}over`, "2");
  await ctl.ok("del", `${PREFIX}w0/000000`);
  const before = await cl.waitConverged(cl.members);
  const beforeView = await cl.members[0]!.localRange(PREFIX);
  expect(beforeView.kvs.get(`${PREFIX}over`)?.value).toBe("2");

  await Promise.all(cl.members.map((m) => m.kill()));
  for (const m of cl.members) m.spawn();
  await Promise.all(cl.members.map((m) => m.waitHealthy(30_000)));

  const after = await cl.waitConverged(cl.members);
  expect(after.revision).toBe(before.revision);
  expect(after.hash).toBe(before.hash);
  for (const m of cl.members) {
    const v = await m.localRange(PREFIX);
    expect(v.revision).toBe(before.revision);
    expect([...v.kvs.entries()]).toEqual([...beforeView.kvs.entries()]);
  }
  // The restarted cluster takes writes again.
  await cl.members[1]!.ctl.ok("put", `${PREFIX}after-restart`, "ok");
  expect(await cl.members[2]!.ctl.ok("get", `${PREFIX}after-restart`, "--print-value-only")).toBe("ok\n");
}, 90_000);
