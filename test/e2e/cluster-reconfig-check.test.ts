// --strict-reconfig-check (on by default) as etcd 3.4 applies it to `member add` and `member
// remove`: "started" members are those that published their attributes (a name), counted
// against the quorum (IsReadyToAddVotingMember, IsReadyToRemoveVotingMember); separately,
// every voter must have been connected to the member asked for etcd's HealthInterval (5 s),
// else "etcdserver: unhealthy cluster". Passes against etcd (E2E_TARGET=etcd).
import { expect, test } from "bun:test";
import { Cluster, delay, errorLine, hexId, pollUntil } from "../helpers/index.ts";

/** etcd's HealthInterval, and a margin for the slowest stream of a fresh cluster. */
const HEALTH_INTERVAL_MS = 5000;

test("member add right after start waits out the health interval, then counts published members", async () => {
  const spawnedAt = Date.now();
  const cl = await Cluster.start({ size: 3 });
  try {
    const readyAt = Date.now();
    const leader = await cl.waitLeader();
    const follower = cl.members.find((m) => m !== leader)!;

    // Sent as soon as the cluster reports ready, to a follower and to the leader. Peers cannot
    // have been connected for 5 s when the processes started less than 5 s ago.
    for (const m of [follower, leader]) {
      const r = await m.ctl.run("member", "add", `early-${m.name}`, "--peer-urls=http://127.0.0.1:1");
      const err = errorLine(r);
      // Never the quorum refusal: every voter has published its name.
      expect(err).not.toBe("Error: etcdserver: re-configuration failed due to not enough started members");
      if (Date.now() - spawnedAt < HEALTH_INTERVAL_MS - 500) {
        expect(r.code).toBe(1);
        expect(err).toBe("Error: etcdserver: unhealthy cluster");
      }
    }
    expect((await cl.memberList()).length).toBe(3);

    // Once every peer has been connected for the health interval, the follower accepts it. The
    // follower keeps a connection to the other follower too, though it never has a message for
    // it (etcd_network_active_peers counts both within seconds of the cluster being ready); the
    // interval is counted from when both are up.
    const upAt = await pollUntil(async () => ((await follower.metric("etcd_network_active_peers")) === 2 ? Date.now() : undefined), 5_000, "the follower's connections to both peers");
    await delay(Math.max(0, Math.max(readyAt, upAt) + HEALTH_INTERVAL_MS + 1000 - Date.now()));
    const add = await follower.ctl.run("member", "add", "m4", "--peer-urls=http://127.0.0.1:2");
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    const id = /^Member\s+([0-9a-f]+) added to cluster/m.exec(add.stdout)?.[1];
    expect(id).toBeDefined();

    // m4 never starts: it has no name (not started) and no connection. A fifth voter would
    // still leave three started members of five (a quorum), but m4 is not connected.
    const again = await follower.ctl.run("member", "add", "m5", "--peer-urls=http://127.0.0.1:3");
    expect(errorLine(again)).toBe("Error: etcdserver: unhealthy cluster");

    // Removing the down member is allowed: the three left are started and connected.
    const rm = await leader.ctl.run("member", "remove", id!);
    expect(rm.stderr).toBe("");
    // etcdctl prints the ID with %16x: space-padded when it has fewer than 16 hex digits.
    expect(rm.stdout).toContain(`Member ${hexId(BigInt(`0x${id}`)).padStart(16, " ")} removed from cluster`);
    expect((await cl.memberList()).length).toBe(3);
  } finally {
    await cl.cleanup();
  }
}, 60_000);
