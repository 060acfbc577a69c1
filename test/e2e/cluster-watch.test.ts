// A watch on a follower survives the follower installing a snapshot from the leader. The
// follower is frozen (SIGSTOP) while the leader takes 6000 writes: with --snapshot-count 100
// the leader keeps 5000 entries after each snapshot, so the follower's next entry is gone and
// it is sent a snapshot when it thaws (SIGCONT). etcd keeps its watchers across the restore:
// they catch up from the new store. etcdctl's watch must stay alive and print every event once,
// in order (nothing is compacted here, so no compacted cancel is expected).
//
// The first writes go one at a time: raft sends each to the frozen follower as a message of its
// own until its window of 256 unacknowledged messages is full, so the entries already on their
// way (kept in the socket buffers and read at SIGCONT) end far below the leader's compaction
// point. Written 16 at a time from the start, the window's messages could carry most of the
// 6000 entries, and the follower then needed no snapshot at all.
//
// etcdctl's keepalive is made long so that the client does not drop the frozen connection and
// re-watch: the test is about the server-side stream surviving, not the client resuming.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Cluster, type LineProcess, spawnEtcdctl, writeKeys } from "../helpers/index.ts";

const WRITES = 6000;
const ONE_BY_ONE = 400;
const EARLY = 20;
const LATE = 10;
const PREFIX = "cw/";

let cluster: Cluster | undefined;
let watcher: LineProcess | undefined;
const c = (): Cluster => {
  if (!cluster) throw new Error("cluster did not start (see beforeAll failure)");
  return cluster;
};

beforeAll(async () => {
  cluster = await Cluster.start({ size: 3, extraArgs: ["--snapshot-count", "100"] });
}, 60_000);
afterAll(async () => {
  await watcher?.kill();
  await cluster?.cleanup();
});

/** Events of etcdctl's `-w json` output (one line per watch response), parsed as lines come. */
class Seen {
  readonly revs: number[] = [];
  readonly keys: string[] = [];
  readonly values: string[] = [];
  canceled = 0;
  private parsed = 0;

  constructor(private readonly p: LineProcess) {}

  update(): this {
    const lines = this.p.stdoutLines;
    for (; this.parsed < lines.length; this.parsed++) {
      const j = JSON.parse(lines[this.parsed]!) as {
        Events?: { kv: { key: string; value?: string; mod_revision: number } }[];
        Canceled: boolean;
      };
      if (j.Canceled) this.canceled++;
      for (const e of j.Events ?? []) {
        this.revs.push(e.kv.mod_revision);
        this.keys.push(atob(e.kv.key));
        this.values.push(atob(e.kv.value ?? ""));
      }
    }
    return this;
  }
}

test("etcdctl watch on a follower keeps printing every event once across a snapshot install", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const follower = cl.members.find((m) => m !== leader)!;
  const start = (await leader.status()).revision + 1;
  watcher = spawnEtcdctl(follower.endpoint, [
    "--keepalive-time=3600s",
    "--keepalive-timeout=3600s",
    "watch",
    PREFIX,
    "--prefix",
    "--rev",
    String(start),
    "-w",
    "json",
  ]);
  const w = watcher;
  const got = new Seen(w);
  await writeKeys(leader, `${PREFIX}a/`, EARLY, 4);
  await w.waitUntil(() => got.update().revs.length >= EARLY, 20_000, "early events");
  await cl.waitConverged(cl.members);
  const snapshotsBefore = await follower.metric("etcd_network_snapshot_receive_success");

  follower.pause();
  try {
    await writeKeys(leader, `${PREFIX}b/`, ONE_BY_ONE, 1);
    await writeKeys(leader, `${PREFIX}b/`, WRITES - ONE_BY_ONE, 16, ONE_BY_ONE);
  } finally {
    follower.resume();
  }
  await cl.waitConverged(cl.members, 60_000);
  expect(await follower.metric("etcd_network_snapshot_receive_success")).toBeGreaterThan(snapshotsBefore);
  await writeKeys(leader, `${PREFIX}c/`, LATE, 1);

  const total = EARLY + WRITES + LATE;
  await w.waitUntil(() => w.hasExited || got.update().canceled > 0 || got.revs.length >= total, 60_000, `${total} events`);
  expect(w.hasExited).toBe(false);
  expect(w.stderrLines).toEqual([]);
  got.update();
  expect(got.canceled).toBe(0);
  // Every revision once, in order: single-key puts, nothing else written meanwhile.
  expect(got.revs).toEqual(Array.from({ length: total }, (_, i) => start + i));
  expect(new Set(got.keys).size).toBe(total);
  expect(got.keys.filter((k) => k.startsWith(`${PREFIX}b/`)).length).toBe(WRITES);
  expect(got.keys.slice(-LATE)).toEqual(Array.from({ length: LATE }, (_, i) => `${PREFIX}c/${String(i).padStart(6, "0")}`));
  got.keys.forEach((k, i) => expect(got.values[i]).toBe(`v${Number(k.slice(-6))}`));
}, 180_000);
