// A snapshot sent to a lagging follower streams from disk: the leader's memory stays flat while
// it sends an image several times larger than the bound, and so does the follower's while it
// receives and installs it. Against etcd the catch-up is checked the same way and the growth
// printed beside ours, without the bound: etcd maps its bbolt file into memory, so its RSS
// counts the file's pages (observed: follower +219 MiB for this image).
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { b64, isEtcd, useCluster } from "../helpers/index.ts";

const VALUE = b64("s".repeat(24 * 1024));
const WRITES = 6000; // past etcd's 5000 entries kept for slow followers: ~140 MiB of values
/** Neither member may grow by this much while the image (> 140 MiB) goes from one to the other. */
const RSS_BOUND_MB = 80;

const c = useCluster({ size: 3, extraArgs: ["--snapshot-count", "100", "--quota-backend-bytes", String(4 * 1024 ** 3)] });

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) / 1024;
}

test(`a snapshot of > 140 MiB reaches a lagging follower with both members' memory within +${RSS_BOUND_MB} MiB`, async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const follower = cl.members.find((m) => m !== leader)!;
  const snapshotsBefore = await follower.metric("etcd_network_snapshot_receive_success");
  follower.pause();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < WRITES; i = next++) await leader.gw.ok("/v3/kv/put", { key: b64(`big/${i % 10}`), value: VALUE });
      }),
    );
  } catch (e) {
    follower.resume();
    throw e;
  }
  // Measured from here: the writes are done, what follows is the snapshot going across.
  const pids = [leader.process.pid!, follower.process.pid!];
  const before = pids.map(rssMb);
  const peak = [...before];
  const sampler = setInterval(() => pids.forEach((p, i) => (peak[i] = Math.max(peak[i]!, rssMb(p)))), 10);
  const target = (await leader.status()).revision;
  follower.resume();
  try {
    // Sampled until the follower has applied what the leader had: the snapshot went across and
    // was installed. (Convergence is checked after: hashing every revision costs memory of its own.)
    const deadline = Date.now() + 120_000;
    for (;;) {
      const st = await follower.gw.post("/v3/maintenance/status", {}, 2000).catch(() => undefined);
      if (st?.status === 200 && Number(st.json.header.revision ?? 0) >= target) break;
      if (Date.now() > deadline) throw new Error(`the follower did not catch up to ${target}: ${st?.status} ${st?.text}\n${cl.logs(40)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    clearInterval(sampler);
  }
  expect(await follower.metric("etcd_network_snapshot_receive_success")).toBeGreaterThan(snapshotsBefore);
  await cl.waitConverged(cl.members, 60_000);
  const growth = peak.map((p, i) => p - before[i]!);
  console.log(`RSS growth while the snapshot went across: leader ${growth[0]!.toFixed(1)} MiB, follower ${growth[1]!.toFixed(1)} MiB`);
  if (!isEtcd()) {
    expect(growth[0]!).toBeLessThan(RSS_BOUND_MB);
    expect(growth[1]!).toBeLessThan(RSS_BOUND_MB);
  }
}, 300_000);
