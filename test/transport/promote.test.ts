// MemberPromote forwarded over the peer port (POST /members/promote/<decimal id>): the leader's
// answer and refusals come back as etcd's errors.
import { expect, test } from "bun:test";
import { Code, Errors, EtcdError } from "../../src/rpctypes/index.ts";
import { PeerRequestError, type PeerMember } from "../../src/transport/index.ts";
import { rawPost, startNode, useNodes } from "./harness.ts";

const node = useNodes();

const LEARNER = 0xf604e61eb7def201n; // above 2^53: decimal on the wire
const after: PeerMember[] = [
  { id: 0x8e9e05c52164694dn, name: "m1", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"], isLearner: false },
  { id: LEARNER, name: "m4", peerURLs: ["http://127.0.0.1:2390"], clientURLs: ["http://127.0.0.1:2391"], isLearner: false },
];

test("promote round trip: members back on success, each refusal as etcd's error", async () => {
  const seen: bigint[] = [];
  const leader = await node({
    id: 2n,
    handler: {
      promoteMember: async (id) => {
        seen.push(id);
        if (id === LEARNER) return after;
        if (id === 1n) throw Errors.memberNotFound;
        if (id === 2n) throw Errors.memberNotLearner;
        if (id === 3n) throw Errors.learnerNotReady;
        if (id === 4n) throw Errors.memberNotEnoughStarted;
        throw new Error("disk on fire");
      },
    },
  });
  const a = await node({ id: 1n });
  a.t.addPeer(2n, [leader.url]);
  expect(await a.t.promoteMember(2n, LEARNER)).toEqual(after);
  const err = (id: bigint) => a.t.promoteMember(2n, id).catch((e: unknown) => e);
  expect(await err(1n)).toBe(Errors.memberNotFound);
  expect(await err(2n)).toBe(Errors.memberNotLearner);
  expect(await err(3n)).toBe(Errors.learnerNotReady);
  const other = await err(4n);
  expect(other).toBeInstanceOf(EtcdError);
  expect(other).toMatchObject({ code: Code.FailedPrecondition, message: Errors.memberNotEnoughStarted.message });
  // A failure that is not an etcd error is not the leader's verdict: the caller may retry.
  expect(await err(5n)).toBeInstanceOf(PeerRequestError);
  expect(seen).toEqual([LEARNER, 1n, 2n, 3n, 4n, 5n]);

  // The wire, as etcd's peer handler: decimal ID, 404 / 412 with etcd's texts, same-cluster only.
  const h = { "x-etcd-cluster-id": "c1", "x-server-from": "1" };
  expect(await rawPost(`${leader.url}/members/promote/3`, "", h)).toEqual({
    status: 412, text: "etcdserver: can only promote a learner member which is in sync with leader",
  });
  expect(await rawPost(`${leader.url}/members/promote/2`, "", h)).toEqual({ status: 412, text: "membership: can only promote a learner member" });
  expect(await rawPost(`${leader.url}/members/promote/1`, "", h)).toEqual({ status: 404, text: "membership: ID not found" });
  expect(await rawPost(`${leader.url}/members/promote/zz`, "", h)).toEqual({ status: 404, text: "member zz not found in cluster" });
  const ok = await rawPost(`${leader.url}/members/promote/${LEARNER.toString()}`, "", h);
  expect(ok.status).toBe(200);
  expect(JSON.parse(ok.text)[1]).toEqual({ id: LEARNER.toString(16), name: "m4", peerURLs: after[1]!.peerURLs, clientURLs: after[1]!.clientURLs, isLearner: false });
  expect((await rawPost(`${leader.url}/members/promote/3`, "", { ...h, "x-etcd-cluster-id": "c2" })).status).toBe(412);
  expect(seen.slice(6)).toEqual([3n, 2n, 1n, LEARNER]);
});

test("promote to an unknown or unreachable leader fails with PeerRequestError", async () => {
  const a = await node({ id: 1n });
  expect(await a.t.promoteMember(7n, LEARNER).catch((e: unknown) => e)).toBeInstanceOf(PeerRequestError);
  const probe = await startNode({ id: 2n });
  const dead = probe.url;
  await probe.close();
  a.t.addPeer(2n, [dead]);
  expect(await a.t.promoteMember(2n, LEARNER).catch((e: unknown) => e)).toBeInstanceOf(PeerRequestError);
});
