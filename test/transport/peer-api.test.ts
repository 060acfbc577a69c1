// Lease forwarding and the read-only peer endpoints (/members, /raft/status, /version).
import { expect, test } from "bun:test";
import { Code, EtcdError, Errors } from "../../src/rpctypes/index.ts";
import { PeerRequestError, type PeerMember } from "../../src/transport/index.ts";
import { rawPost, startNode, useNodes } from "./harness.ts";

const node = useNodes();

const LEASE = 0x6a6ca1fc6774d836n; // above 2^53: must travel as a decimal string
const members: PeerMember[] = [
  { id: 0x8e9e05c52164694dn, name: "m1", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"], isLearner: false },
  { id: 0x7604e61eb7def201n, name: "", peerURLs: ["http://127.0.0.1:2390"], clientURLs: [], isLearner: true },
];

test("lease renew and remaining TTL round trip to the leader, EtcdError passing through", async () => {
  const seen: bigint[] = [];
  const leader = await node({
    id: 2n,
    handler: {
      leaseRenew: async (id) => {
        seen.push(id);
        if (id === LEASE) return 60;
        throw Errors.notLeader;
      },
      leaseRemaining: async (id) => {
        if (id === LEASE) return 42;
        throw new EtcdError(Code.Unavailable, "etcdserver: request timed out");
      },
    },
  });
  const a = await node({ id: 1n });
  a.t.addPeer(2n, [leader.url]);
  expect(await a.t.leaseRenew(2n, LEASE)).toBe(60);
  expect(seen).toEqual([LEASE]);
  expect(await a.t.leaseRemaining(2n, LEASE)).toBe(42);
  const renewErr = await a.t.leaseRenew(2n, 5n).catch((e: unknown) => e);
  expect(renewErr).toBeInstanceOf(EtcdError);
  expect(renewErr).toMatchObject({ code: Code.FailedPrecondition, message: "etcdserver: not leader" });
  const ttlErr = await a.t.leaseRemaining(2n, 5n).catch((e: unknown) => e);
  expect(ttlErr).toMatchObject({ code: Code.Unavailable, message: "etcdserver: request timed out" });
  // The wire shape: decimal ID in, TTL as a string out; 503 with the error and its gRPC code.
  const h = { "x-etcd-cluster-id": "c1", "x-server-from": "1" };
  expect(await rawPost(`${leader.url}/leases`, JSON.stringify({ ID: LEASE.toString() }), h)).toEqual({ status: 200, text: '{"TTL":"60"}' });
  expect(await rawPost(`${leader.url}/leases`, JSON.stringify({ ID: "5" }), h)).toEqual({
    status: 503, text: JSON.stringify({ error: "etcdserver: not leader", code: Code.FailedPrecondition }),
  });
  expect((await rawPost(`${leader.url}/leases`, JSON.stringify({ ID: "0x5" }), h)).status).toBe(400);
  expect((await rawPost(`${leader.url}/leases`, JSON.stringify({ ID: "5" }), { ...h, "x-etcd-cluster-id": "c2" })).status).toBe(412);
});

test("lease forwarding without a reachable leader fails with PeerRequestError", async () => {
  const a = await node({ id: 1n });
  expect(await a.t.leaseRenew(7n, LEASE).catch((e: unknown) => e)).toBeInstanceOf(PeerRequestError);
  const probe = await startNode({ id: 2n });
  const dead = probe.url;
  await probe.close();
  a.t.addPeer(2n, [dead]);
  const e = await a.t.leaseRemaining(2n, LEASE).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(PeerRequestError);
});

test("/members, /raft/status and /version answer in etcd's shapes", async () => {
  const b = await node({
    id: 2n,
    clusterId: 0xcdf818194e3a8c32n,
    handler: {
      members: () => members,
      raftStatus: () => ({ term: 7, commit: 120, applied: 118, leader: 0x8e9e05c52164694dn }),
    },
  });
  const res = await fetch(`${b.url}/members`);
  expect(res.status).toBe(200);
  expect(res.headers.get("x-etcd-cluster-id")).toBe("cdf818194e3a8c32");
  expect(await res.json()).toEqual([
    { id: "8e9e05c52164694d", name: "m1", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"], isLearner: false },
    { id: "7604e61eb7def201", name: "", peerURLs: ["http://127.0.0.1:2390"], clientURLs: [], isLearner: true },
  ]);
  expect(await (await fetch(`${b.url}/raft/status`)).json()).toEqual({ term: 7, commit: 120, applied: 118, leader: "8e9e05c52164694d" });
  expect(await (await fetch(`${b.url}/version`)).json()).toEqual({ etcdserver: "3.4.23", etcdcluster: "3.4.0" });
  expect((await fetch(`${b.url}/nope`)).status).toBe(404);
});

test("fetchMembers asks the first URL that answers; undefined when none does", async () => {
  const b = await node({
    id: 2n,
    clusterId: 0xabcn,
    handler: { members: () => members, raftStatus: () => ({ term: 2, commit: 9, applied: 9, leader: 2n }) },
  });
  const a = await node({ id: 1n });
  const probe = await startNode({ id: 3n });
  const dead = probe.url;
  await probe.close();
  expect(await a.t.fetchMembers([dead, "not a url", b.url])).toEqual({ clusterId: 0xabcn, members, status: { commit: 9 } });
  expect(await a.t.fetchMembers([dead])).toBeUndefined();
  expect(await a.t.fetchMembers([])).toBeUndefined();
});
