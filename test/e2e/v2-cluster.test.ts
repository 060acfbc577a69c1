// The v2 API on three members (runs against either target): every member serves reads, writes
// (a follower's are forwarded through Raft) and watches; TTL nodes expire at the same log
// position everywhere (the leader's SYNC); members are added, updated and removed through the
// v2 members API and etcdctl v2; a follower that missed a log compaction gets the v2 store with
// the snapshot.
import { expect, test } from "bun:test";
import {
  type ClusterMember,
  pollUntil,
  runV2ctl,
  useCluster,
  V2_FLAGS,
  v2Http,
  writeKeys,
} from "../helpers/index.ts";

const c = useCluster({ size: 3, extraArgs: [...V2_FLAGS, "--snapshot-count", "100"] });

const index = async (m: ClusterMember): Promise<number> => Number((await v2Http(m.clientURL, "GET", "/v2/keys/")).headers.get("x-etcd-index"));

/** Waits until every member's local (non-quorum) v2 store has reached `idx`. */
async function applied(ms: ClusterMember[], idx: number): Promise<void> {
  await pollUntil(
    async () => ((await Promise.all(ms.map(index))).every((i) => i >= idx) ? true : undefined),
    20_000,
    `v2 index ${idx} on ${ms.map((m) => m.name).join(",")}`,
  );
}

async function tree(m: ClusterMember): Promise<string> {
  return (await v2Http(m.clientURL, "GET", "/v2/keys/?recursive=true&sorted=true")).body;
}

test("every member serves v2: writes through a follower, local and quorum reads, watches on a follower", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const [f1, f2] = cl.members.filter((m) => m !== leader) as [ClusterMember, ClusterMember];
  const w = await v2Http(f1.clientURL, "PUT", "/v2/keys/cl/a", { form: "value=from-follower" });
  expect(w.status).toBe(201);
  const idx = Number(w.headers.get("x-etcd-index"));
  // A quorum read on the other follower sees it at once; a plain read once it applied.
  const q = await v2Http(f2.clientURL, "GET", "/v2/keys/cl/a?quorum=true");
  expect(JSON.parse(q.body).node.value).toBe("from-follower");
  await applied(cl.members, idx);
  for (const m of cl.members) expect(JSON.parse((await v2Http(m.clientURL, "GET", "/v2/keys/cl/a")).body).node).toEqual({
    key: "/cl/a",
    value: "from-follower",
    modifiedIndex: idx,
    createdIndex: idx,
  });
  // A long poll on a follower wakes up for a write on the leader.
  const poll = v2Http(f2.clientURL, "GET", `/v2/keys/cl/b?wait=true&waitIndex=${idx + 1}`, { timeoutMs: 20_000 });
  await pollUntil(
    async () => ((JSON.parse((await v2Http(f2.clientURL, "GET", "/v2/stats/store")).body) as { watchers: number }).watchers >= 1 ? true : undefined),
    10_000,
    "watcher registered on the follower",
  );
  await v2Http(leader.clientURL, "PUT", "/v2/keys/cl/b", { form: "value=from-leader" });
  const woke = await poll;
  expect(woke.status).toBe(200);
  expect(JSON.parse(woke.body)).toMatchObject({ action: "set", node: { key: "/cl/b", value: "from-leader", modifiedIndex: idx + 1 } });
  // The same history on every member.
  for (const m of cl.members) {
    const h = await v2Http(m.clientURL, "GET", `/v2/keys/cl?wait=true&recursive=true&waitIndex=${idx}`);
    expect(JSON.parse(h.body).node).toMatchObject({ key: "/cl/a", modifiedIndex: idx });
  }
}, 60_000);

test("a TTL node expires on every member at the same index (the leader's SYNC through the log)", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const f = cl.members.find((m) => m !== leader)!;
  const set = await v2Http(f.clientURL, "PUT", "/v2/keys/cl/ttl?ttl=1", { form: "value=soon" });
  expect(set.status).toBe(201);
  const created = Number(set.headers.get("x-etcd-index"));
  const expired = await Promise.all(
    cl.members.map((m) =>
      pollUntil(
        async () => {
          const r = await v2Http(m.clientURL, "GET", `/v2/keys/cl/ttl?wait=true&waitIndex=${created + 1}`, { timeoutMs: 10_000 });
          const ev = JSON.parse(r.body) as { action: string; node: { modifiedIndex: number } };
          return ev.action === "expire" ? ev.node.modifiedIndex : undefined;
        },
        10_000,
        `expire event on ${m.name}`,
      ),
    ),
  );
  expect(new Set(expired).size).toBe(1);
  for (const m of cl.members) expect((await v2Http(m.clientURL, "GET", "/v2/keys/cl/ttl")).status).toBe(404);
}, 60_000);

test("members through v2: cluster-health, member add, update (PUT /v2/members/<id>), remove, removed IDs answer 410", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const health = await runV2ctl(leader.clientURL, ["cluster-health"]);
  expect(health.code).toBe(0);
  expect(health.stdout.split("\n").filter((l) => / is healthy: got healthy result from /.test(l)).length).toBe(3);
  expect(health.stdout).toContain("cluster is healthy");
  // etcd refuses membership changes for its first 5 s ("unhealthy cluster": a 500 in v2,
  // which the v2 client reports as "has no leader").
  const add = await pollUntil(
    async () => {
      const r = await runV2ctl(leader.clientURL, ["member", "add", "extra", "http://127.0.0.1:1"]);
      if (r.code !== 0 && r.stderr.includes("has no leader")) return undefined;
      return r;
    },
    15_000,
    "member add accepted",
    250,
  );
  expect([add.code, add.stderr]).toEqual([0, ""]);
  const id = /with ID ([0-9a-f]+) to cluster/.exec(add.stdout)![1]!;
  const upd = await v2Http(leader.clientURL, "PUT", `/v2/members/${id}`, { body: '{"peerURLs":["http://127.0.0.1:2"]}', contentType: "application/json" });
  expect(upd.status).toBe(204);
  const list = await runV2ctl(cl.members[1]!.clientURL, ["member", "list"]);
  expect(list.stdout).toContain(`${id}[unstarted]: peerURLs=http://127.0.0.1:2`);
  const members = JSON.parse((await v2Http(leader.clientURL, "GET", "/v2/members")).body).members as { id: string; peerURLs: string[] }[];
  expect(members.length).toBe(4);
  const rm = await runV2ctl(leader.clientURL, ["member", "remove", id]);
  expect(rm.stdout).toBe(`Removed member ${id} from cluster\n`);
  const again = await v2Http(leader.clientURL, "DELETE", `/v2/members/${id}`);
  expect([again.status, again.body]).toEqual([410, `{"message":"Member permanently removed: ${id}"}`]);
  const missing = await v2Http(leader.clientURL, "DELETE", "/v2/members/123abc");
  expect([missing.status, missing.body]).toEqual([404, '{"message":"No such member: 123abc"}']);
  const leaderInfo = JSON.parse((await v2Http(cl.members[2]!.clientURL, "GET", "/v2/members/leader")).body) as { name: string };
  expect(leaderInfo.name).toBe(leader.name);
  const stats = JSON.parse((await v2Http(leader.clientURL, "GET", "/v2/stats/leader")).body) as { followers: Record<string, { counts: { success: number } }> };
  expect(Object.keys(stats.followers).length).toBe(2);
  const follower = cl.members.find((m) => m !== leader)!;
  const refused = await v2Http(follower.clientURL, "GET", "/v2/stats/leader");
  expect([refused.status, refused.body]).toEqual([403, '{"message":"not current leader"}']);
}, 60_000);

test("a follower down past a log compaction gets the v2 store with the snapshot", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const follower = cl.members.find((m) => m !== leader)!;
  await v2Http(leader.clientURL, "PUT", "/v2/keys/snap/before", { form: "value=b" });
  await follower.kill();
  // v2 writes while it is down, then enough v3 writes for the leader to cut its log (etcd keeps
  // 5000 entries behind a snapshot for slow followers).
  for (let i = 0; i < 20; i++) await v2Http(leader.clientURL, "PUT", `/v2/keys/snap/dir/k${i}`, { form: `value=${i}` });
  await v2Http(leader.clientURL, "PUT", "/v2/keys/snap/ttl?ttl=600", { form: "value=kept" });
  await v2Http(leader.clientURL, "POST", "/v2/keys/snap/queue", { form: "value=job" });
  await writeKeys(leader, "v2snap/", 5600, 16);
  await v2Http(leader.clientURL, "DELETE", "/v2/keys/snap/dir/k0");
  const want = await index(leader);
  await follower.start();
  await applied([follower], want);
  expect(await tree(follower)).toBe(await tree(leader));
  // It came by snapshot: the restarted process counts one received (whichever member led by
  // then; under load the leadership may have moved while it was down).
  expect(await follower.metric("etcd_network_snapshot_receive_success")).toBeGreaterThan(0);
  // The event window came with it: the follower answers a watch from before it restarted.
  const h = await v2Http(follower.clientURL, "GET", `/v2/keys/snap/dir/k0?wait=true&waitIndex=${want}`);
  expect(JSON.parse(h.body)).toMatchObject({ action: "delete", node: { key: "/snap/dir/k0", modifiedIndex: want } });
  const ttl = JSON.parse((await v2Http(follower.clientURL, "GET", "/v2/keys/snap/ttl")).body) as { node: { ttl: number } };
  expect(ttl.node.ttl).toBeGreaterThan(500);
}, 180_000);
