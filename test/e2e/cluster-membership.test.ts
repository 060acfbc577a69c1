// Runtime membership changes on a three-member cluster: a learner added with `member add
// --learner`, started with the initial cluster line etcdctl printed, promoted once in sync
// (four voters); then a follower removed (three again, the removed process stops or is refused).
import { expect, test } from "bun:test";
import { computeMemberId, errorLine, hexId, pollUntil, useCluster } from "../helpers/index.ts";

const c = useCluster({ size: 3 });

const NOT_IN_SYNC = "etcdserver: can only promote a learner member which is in sync with leader";

test("member add --learner, start it with --initial-cluster-state existing, promote: four voters", async () => {
  const cl = c();
  const original = [...cl.members];
  await original[0]!.ctl.ok("put", "mb/before", "1");
  const beforeSec = Math.floor(Date.now() / 1000);
  const { member: learner, id, output } = await cl.addMember("m4", { learner: true });
  const afterSec = Math.floor(Date.now() / 1000);
  expect(output).toMatch(new RegExp(`^Member\\s+${hexId(id)} added to cluster\\s+[0-9a-f]+$`, "m"));
  // The initial cluster line lists the three members and the new one.
  const ic = /^ETCD_INITIAL_CLUSTER="([^"]*)"$/m.exec(output)![1]!.split(",").sort();
  expect(ic).toEqual([...original.map((m) => `${m.name}=${m.peerURL}`), `m4=${learner.peerURL}`].sort());
  expect(output).toContain(`ETCD_INITIAL_ADVERTISE_PEER_URLS="${learner.peerURL}"`);
  // A member added at run time gets its ID from its peer URLs and the unix time of the add;
  // etcd's MemberAdd passes an empty cluster token (not --initial-cluster-token).
  const candidates = [];
  for (let s = beforeSec; s <= afterSec; s++) candidates.push(hexId(computeMemberId([learner.peerURL], "", s)));
  expect(candidates).toContain(hexId(id));

  // Listed as an unstarted learner until it runs.
  let list = await cl.memberList(original);
  expect(list.length).toBe(4);
  const added = list.find((m) => m.id === id)!;
  expect(added).toMatchObject({ started: false, name: "", isLearner: true, peerURLs: learner.peerURL });

  learner.spawn();
  // A learner answers serializable reads once it has the data, and refuses writes.
  await pollUntil(
    async () => {
      const r = await learner.localRange("mb/").catch(() => undefined);
      return r?.kvs.get("mb/before")?.value === "1" ? true : undefined;
    },
    20_000,
    `learner m4 has replicated mb/before\n${learner.logTail()}`,
  );
  const put = await learner.ctl.run("put", "mb/x", "1");
  expect(put.code).not.toBe(0);
  expect(errorLine(put)).toBe("Error: etcdserver: rpc not supported for learner");

  // Promote; the first attempts may be refused until the learner is in sync.
  let refusals = 0;
  await pollUntil(
    async () => {
      const r = await cl.ctl(original).run("member", "promote", hexId(id));
      if (r.code === 0) {
        expect(r.stdout.trim()).toMatch(new RegExp(`^Member +${hexId(id)} promoted in cluster +[0-9a-f]+$`));
        return true;
      }
      expect(errorLine(r)).toBe(`Error: ${NOT_IN_SYNC}`);
      refusals++;
      return undefined;
    },
    20_000,
    "member promote succeeds",
    200,
  );
  console.log(`member promote: ${refusals} refusal(s) before the learner was in sync`);

  await learner.waitHealthy(20_000);
  list = await cl.memberList();
  expect(list.length).toBe(4);
  expect(list.every((m) => m.started && !m.isLearner)).toBe(true);
  expect(list.map((m) => m.name).sort()).toEqual(["m1", "m2", "m3", "m4"]);
  // The new voter takes writes, and all four converge.
  await learner.ctl.ok("put", "mb/from-m4", "v");
  await cl.waitConverged(cl.members);
  for (const m of cl.members) expect((await m.localRange("mb/")).kvs.get("mb/from-m4")?.value).toBe("v");
}, 90_000);

test("member remove of a follower: the list shrinks and the removed member stops or is refused", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const victim = cl.members.find((m) => m !== leader && m.name !== "m4")!;
  const victimId = (await victim.status()).id;
  const rest = cl.running().filter((m) => m !== victim);
  // Compared with the list before, not with the previous test's outcome, so that this test
  // stands on its own.
  const before = await cl.memberList(rest);
  expect(before.some((m) => m.id === victimId)).toBe(true);
  const out = await cl.reconfigure(["member", "remove", hexId(victimId)], rest);
  expect(out.trim()).toMatch(new RegExp(`^Member +${hexId(victimId)} removed from cluster +[0-9a-f]+$`));

  const list = await cl.memberList(rest);
  expect(list.length).toBe(before.length - 1);
  expect(list.some((m) => m.id === victimId)).toBe(false);
  expect(list.map((m) => m.id).sort()).toEqual(before.filter((m) => m.id !== victimId).map((m) => m.id).sort());

  // The removed member learns it is out: it exits, or at least refuses to serve writes.
  const fate = await pollUntil(
    async () => {
      if (!victim.running) return `exited ${JSON.stringify(await victim.process.exited)}`;
      const r = await victim.ctl.runWith({ timeoutMs: 8000 }, "put", "mb/on-removed", "x", "--command-timeout=1s");
      return r.code !== 0 ? `refused: ${errorLine(r)}` : undefined;
    },
    15_000,
    `removed member ${victim.name} stops or refuses\n${victim.logTail()}`,
    200,
  );
  console.log(`removed member ${victim.name}: ${fate}`);

  // Removing it again: member not found.
  const again = await cl.ctl(rest).run("member", "remove", hexId(victimId));
  expect(again.code).not.toBe(0);
  expect(errorLine(again)).toBe("Error: etcdserver: member not found");

  // The remaining three keep working and agree.
  await rest[0]!.ctl.ok("put", "mb/after-remove", "v");
  await cl.waitConverged(rest);
  for (const m of rest) expect((await m.localRange("mb/")).kvs.get("mb/after-remove")?.value).toBe("v");
  expect((await victim.localRange("mb/").catch(() => undefined))?.kvs.has("mb/after-remove") ?? false).toBe(false);
}, 60_000);
