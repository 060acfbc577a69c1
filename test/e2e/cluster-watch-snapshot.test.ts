// A follower's watchers survive the follower installing a snapshot from the leader. The
// follower is frozen (SIGSTOP) while the leader writes past its log compaction (--snapshot-count
// 100, 5000 entries kept for slow followers: 6000 writes), then resumed: it catches up by
// snapshot, and a watch stream opened on it before the freeze receives every revision exactly
// once, in order: the ones before the freeze live, the ones it missed from the installed store's
// history (etcd's unsynced group after a restore), and later ones live again. Passes against etcd.
import { expect, test } from "bun:test";
import { b64, pollUntil, prefixEnd, useCluster, writeKeys } from "../helpers/index.ts";

const PREFIX = "wsnap/";
const WRITES = 6000;

const c = useCluster({ size: 3, extraArgs: ["--snapshot-count", "100"] });

test("a follower's watcher survives a snapshot install and receives every event exactly once", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const follower = cl.members.find((m) => m !== leader)!;
  const stream = await follower.gw.stream("/v3/watch", { create_request: { key: b64(PREFIX), range_end: prefixEnd(PREFIX) } });
  expect((await stream.next()).result.created).toBe(true);
  const revs: number[] = [];
  const keys: string[] = [];
  let ended: unknown;
  const reading = (async () => {
    for (;;) {
      const m = await stream.next(120_000);
      if (m.error !== undefined || m.result?.canceled) throw new Error(`watch ended: ${JSON.stringify(m)}`);
      for (const e of m.result?.events ?? []) {
        revs.push(Number(e.kv.mod_revision));
        keys.push(Buffer.from(e.kv.key, "base64").toString());
      }
    }
  })().catch((e: unknown) => (ended = e));

  // Live before the freeze.
  const firstRev = await writeKeys(leader, `${PREFIX}before/`, 50, 8);
  await pollUntil(() => (revs.length >= 50 ? true : undefined), 10_000, "live events before the freeze");
  const snapshotsBefore = await follower.metric("etcd_network_snapshot_receive_success");

  follower.pause();
  let lastRev: number;
  try {
    await writeKeys(leader, `${PREFIX}missed/`, WRITES, 16);
  } finally {
    follower.resume();
  }
  // Live again after the install.
  lastRev = await writeKeys(leader, `${PREFIX}after/`, 10, 2);

  await pollUntil(() => (revs.length >= WRITES + 60 || ended !== undefined ? true : undefined), 120_000, `all events (have ${revs.length})`);
  expect(ended).toBeUndefined();
  // The catch-up went through a snapshot install (etcd's metric name and meaning).
  expect(await follower.metric("etcd_network_snapshot_receive_success")).toBeGreaterThan(snapshotsBefore);
  // Every revision once, in order: nothing lost at the install, nothing sent twice.
  expect(revs.length).toBe(WRITES + 60);
  expect(revs[revs.length - 1]).toBe(lastRev);
  expect(revs[49]).toBe(firstRev);
  const out = revs.filter((r, i) => i > 0 && r !== revs[i - 1]! + 1);
  expect(out).toEqual([]);
  expect(new Set(keys).size).toBe(WRITES + 60);
  stream.close();
  await reading;
}, 240_000);
