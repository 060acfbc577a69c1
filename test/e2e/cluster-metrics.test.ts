// The peer families of /metrics on a 3-member cluster, with etcd 3.4's names and labels: bytes
// sent to and received from each peer ({To} / {From}, the peer's hex ID), the active peer
// gauge per Remote, leader changes; and on Conclave the leader's heartbeat round trips in
// etcd_network_peer_round_trip_time_seconds{To} with etcd's bounds (etcd fills that histogram
// from probes every 30 s, too seldom to wait for here). Runs against etcd too (E2E_TARGET=etcd).
import { expect, test } from "bun:test";
import { checkHistogram, errorLine, hexId, isEtcd, parseExposition, pollUntil, type PromFamily, sampleValue, useCluster } from "../helpers/index.ts";

const env = useCluster({ size: 3 });

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  return parseExposition(await (await fetch(`${url}/metrics`)).text());
}

/** ExponentialBuckets(0.0001, 2, 16) as Go prints them. */
const RTT_LE = [
  "0.0001", "0.0002", "0.0004", "0.0008", "0.0016", "0.0032", "0.0064", "0.0128", "0.0256", "0.0512", "0.1024", "0.2048", "0.4096",
  "0.8192", "1.6384", "3.2768", "+Inf",
];

test("bytes to and from each peer, labelled by the peer's ID; the leader's heartbeat round trips", async () => {
  const cl = env();
  const leader = await cl.waitLeader();
  for (let i = 0; i < 10; i++) expect(await leader.ctl.ok("put", `cm/k${i}`, "v")).toBe("OK\n");
  const ids = new Map<string, string>();
  for (const m of cl.members) ids.set(m.name, hexId((await m.status()).id));

  const leaderId = ids.get(leader.name)!;
  for (const m of cl.members) {
    const self = ids.get(m.name)!;
    const others = [...ids.values()].filter((id) => id !== self);
    // The leader writes to and reads from both followers (heartbeats, appends, their answers);
    // a follower talks to the leader only.
    const peers = m === leader ? others : [leaderId];
    const f = await pollUntil(
      async () => {
        const f = await scrape(m.clientURL);
        const ok = peers.every(
          (p) => (sampleValue(f, "etcd_network_peer_sent_bytes_total", { To: p }) ?? 0) > 0 && (sampleValue(f, "etcd_network_peer_received_bytes_total", { From: p }) ?? 0) > 0,
        );
        return ok ? f : undefined;
      },
      10_000,
      `${m.name}: bytes counted to and from both peers`,
    );
    expect(f.get("etcd_network_peer_sent_bytes_total")!.type).toBe("counter");
    expect(f.get("etcd_network_peer_sent_bytes_total")!.help).toBe("The total number of bytes sent to peers.");
    expect(f.get("etcd_network_peer_received_bytes_total")!.help).toBe("The total number of bytes received from peers.");
    // Only peers' IDs label the series.
    for (const s of f.get("etcd_network_peer_sent_bytes_total")!.samples) expect(others).toContain(s.labels.To!);
    for (const s of f.get("etcd_network_peer_received_bytes_total")!.samples) expect(others).toContain(s.labels.From!);
    for (const p of others) expect(sampleValue(f, "etcd_network_active_peers", { Local: self, Remote: p })).toBe(1);
    expect(sampleValue(f, "etcd_server_has_leader")).toBe(1);
    expect(sampleValue(f, "etcd_server_is_leader")).toBe(m === leader ? 1 : 0);
    expect(sampleValue(f, "etcd_server_leader_changes_seen_total")).toBeGreaterThanOrEqual(1);
    expect(sampleValue(f, "etcd_mvcc_put_total")).toBeGreaterThanOrEqual(10);
  }

  if (!isEtcd()) {
    const self = ids.get(leader.name)!;
    const peers = [...ids.values()].filter((id) => id !== self);
    const f = await pollUntil(
      async () => {
        const f = await scrape(leader.clientURL);
        return peers.every((p) => (sampleValue(f, "etcd_network_peer_round_trip_time_seconds_count", { To: p }) ?? 0) > 0) ? f : undefined;
      },
      10_000,
      "the leader's heartbeat round trips to both followers",
    );
    const rtt = f.get("etcd_network_peer_round_trip_time_seconds")!;
    expect(rtt.type).toBe("histogram");
    expect(rtt.help).toBe("Round-Trip-Time histogram between peers");
    expect(checkHistogram(rtt)).toEqual([RTT_LE, RTT_LE]);
  }
});

test("a promotion the leader refuses counts in learner_promote_failures by its error text", async () => {
  const cl = env();
  const leader = await cl.waitLeader();
  const reason = "etcdserver: can only promote a learner member which is in sync with leader";
  const failures = async () => sampleValue(await scrape(leader.clientURL), "etcd_server_learner_promote_failures", { Reason: reason }) ?? 0;
  const before = await failures();
  // A learner that never starts is never in sync.
  const { id } = await cl.addMember("m4", { learner: true });
  const r = await leader.ctl.run("member", "promote", hexId(id));
  expect(r.code).not.toBe(0);
  expect(errorLine(r)).toBe(`Error: ${reason}`);
  expect((await failures()) - before).toBe(1);
  const f = await scrape(leader.clientURL);
  expect(f.get("etcd_server_learner_promote_failures")!.help).toBe(
    "The total number of failed learner promotions (likely learner not ready) while this member is leader.",
  );
  expect(sampleValue(f, "etcd_server_learner_promote_successes")).toBe(0);
  expect((await leader.ctl.run("member", "remove", hexId(id))).code).toBe(0);
});

test("a raft message body that does not decode counts in peer_received_failures_total by the remote address", async () => {
  const cl = env();
  const [a, b] = cl.members;
  const bId = hexId((await b!.status()).id);
  const st = (await a!.gw.post("/v3/maintenance/status", {})).json as { header: { cluster_id: string } };
  // What a peer sends with its messages (the sender a member of the cluster), then a body that
  // is no raft message.
  const r = await fetch(`${a!.peerURL}/raft`, {
    method: "POST",
    headers: { "X-Etcd-Cluster-ID": hexId(BigInt(st.header.cluster_id)), "X-Server-From": bId, "X-Server-Version": "3.4.23", "X-Min-Cluster-Version": "3.0.0" },
    body: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
  });
  expect(r.status).toBe(400);
  const f = await scrape(a!.clientURL);
  const fam = f.get("etcd_network_peer_received_failures_total")!;
  expect(fam.type).toBe("counter");
  expect(fam.help).toBe("The total number of receive failures from peers.");
  // etcd labels it with Go's r.RemoteAddr: the sender's ID is in a body that did not decode.
  const mine = fam.samples.filter((s) => s.labels.From?.startsWith("127.0.0.1:"));
  expect(mine.map((s) => [s.labels.From!.replace(/\d+$/, "PORT"), s.value])).toEqual([["127.0.0.1:PORT", 1]]);
  expect(fam.samples.some((s) => s.labels.From === bId)).toBe(false);
});

test("a member that is down: the leader counts send failures to it, labelled with its ID", async () => {
  const cl = env();
  const leader = await cl.waitLeader();
  const down = cl.members.find((m) => m !== leader)!;
  const downId = hexId((await down.status()).id);
  const failures = async () => sampleValue(await scrape(leader.clientURL), "etcd_network_peer_sent_failures_total", { To: downId }) ?? 0;
  const before = await failures();
  await down.kill();
  // Heartbeats and writes keep going to it; each attempt that cannot be delivered counts.
  for (let i = 0; i < 5; i++) expect(await leader.ctl.ok("put", `cm/down${i}`, "v")).toBe("OK\n");
  await pollUntil(async () => ((await failures()) > before ? true : undefined), 20_000, "send failures to the member that is down");
  const f = await scrape(leader.clientURL);
  expect(f.get("etcd_network_peer_sent_failures_total")!.type).toBe("counter");
  expect(f.get("etcd_network_peer_sent_failures_total")!.help).toBe("The total number of send failures from peers.");
  // Series are per peer ID (the learner added above, never started, has its own).
  for (const s of f.get("etcd_network_peer_sent_failures_total")!.samples) expect(s.labels.To).toMatch(/^[0-9a-f]+$/);
  expect(sampleValue(f, "etcd_network_active_peers", { Remote: downId })).toBe(0);
});
