// A follower that is down while the leader compacts its Raft log catches up by snapshot.
// With --snapshot-count 100 the leader snapshots every 100 entries, but etcd keeps the last
// 5000 entries after a snapshot for slow followers (its SnapshotCatchUpEntries), so the
// follower must miss more than that for the log to be gone: 6000 writes over 4850 keys.
import { expect, test } from "bun:test";
import { writeKeys, useCluster } from "../helpers/index.ts";

const WRITES = 6000;
const PREFIX = "snap/";

const c = useCluster({ size: 3, extraArgs: ["--snapshot-count", "100"] });

test("a member down past a log compaction catches up by snapshot: same keys, same hashkv", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  await writeKeys(leader, `${PREFIX}early/`, 50);
  const follower = cl.members.find((m) => m !== leader)!;
  await cl.waitConverged(cl.members);
  const snapshotsBefore = await follower.metric("etcd_network_snapshot_receive_success");
  await follower.kill();

  const started = performance.now();
  // 1200 keys written twice (history has more revisions than keys), then fresh keys.
  await writeKeys(leader, PREFIX, 1200, 16);
  const lastRev = await writeKeys(leader, PREFIX, 1200, 16);
  await writeKeys(leader, `${PREFIX}more/`, WRITES - 2400, 16);
  console.log(`${WRITES} writes in ${(performance.now() - started).toFixed(0)} ms while ${follower.name} was down`);
  expect(lastRev).toBeGreaterThan(2400);

  await follower.start();
  const survivors = cl.members.filter((m) => m !== follower);
  const conv = await cl.waitConverged(cl.members, 60_000);
  const reference = await survivors[0]!.localRange(PREFIX);
  const caughtUp = await follower.localRange(PREFIX);
  expect(caughtUp.revision).toBe(conv.revision);
  expect(caughtUp.kvs.size).toBe(reference.kvs.size);
  expect(caughtUp.kvs.size).toBe(50 + WRITES - 1200);
  expect([...caughtUp.kvs.entries()]).toEqual([...reference.kvs.entries()]);
  expect(caughtUp.kvs.get(`${PREFIX}001199`)?.value).toBe("v1199");
  // The catch-up went through a snapshot, not the log (etcd's metric name and meaning).
  expect(await follower.metric("etcd_network_snapshot_receive_success")).toBeGreaterThan(snapshotsBefore);
}, 120_000);
