// `etcdctl member promote` sent to a follower's endpoint only: the follower forwards it to the
// leader over the peer port (etcd's POST /members/promote/<id>), and the leader's in-sync rule
// decides. A learner that has not started is refused; once it has caught up the same request
// through the same follower promotes it.
import { expect, test } from "bun:test";
import { errorLine, hexId, pollUntil, useCluster } from "../helpers/index.ts";

const c = useCluster({ size: 3 });

const NOT_IN_SYNC = "Error: etcdserver: can only promote a learner member which is in sync with leader";

test("member promote through a follower endpoint: refused while the learner lags, then promoted", async () => {
  const cl = c();
  const original = [...cl.members];
  const leader = await cl.waitLeader();
  const follower = original.find((m) => m !== leader)!;
  for (let i = 0; i < 10; i++) await leader.ctl.ok("put", `gp/${i}`, "v");
  const { member: learner, id } = await cl.addMember("m4", { learner: true });

  // Not started: its match index is 0, the leader refuses (the follower cannot know this alone).
  const early = await follower.ctl.run("member", "promote", hexId(id));
  expect(early.code).not.toBe(0);
  expect(errorLine(early)).toBe(NOT_IN_SYNC);
  // Promoting a voter through the follower: the leader's "not a learner" comes back.
  const leaderId = (await leader.status()).id;
  const voter = await follower.ctl.run("member", "promote", hexId(leaderId));
  expect(errorLine(voter)).toBe("Error: etcdserver: can only promote a learner member");
  // An unknown ID: not found.
  const unknown = await follower.ctl.run("member", "promote", "1234abcd");
  expect(errorLine(unknown)).toBe("Error: etcdserver: member not found");

  // Started and published, then frozen while the log moves on: a follower sees a published
  // learner, but only the leader sees that its match index is far behind, so only forwarding
  // gets this refusal right.
  learner.spawn();
  await pollUntil(
    async () => ((await cl.memberList(original)).find((m) => m.id === id)?.started ? true : undefined),
    20_000,
    `learner m4 publishes itself\n${learner.logTail()}`,
    100,
  );
  learner.pause();
  const before = (await leader.status()).raftIndex;
  for (let i = 0; i < Math.max(20, before); i++) await leader.ctl.ok("put", `gp/lag/${i}`, "v");
  const lagging = await follower.ctl.run("member", "promote", hexId(id));
  expect(errorLine(lagging)).toBe(NOT_IN_SYNC);
  learner.resume();

  let refusals = 0;
  await pollUntil(
    async () => {
      const r = await follower.ctl.run("member", "promote", hexId(id));
      if (r.code === 0) {
        expect(r.stdout.trim()).toMatch(new RegExp(`^Member +${hexId(id)} promoted in cluster +[0-9a-f]+$`));
        return true;
      }
      expect(errorLine(r)).toBe(NOT_IN_SYNC);
      refusals++;
      return undefined;
    },
    20_000,
    `member promote through ${follower.name} succeeds\n${learner.logTail()}`,
    200,
  );
  console.log(`member promote via follower ${follower.name}: ${refusals} refusal(s) before the learner was in sync`);

  await learner.waitHealthy(20_000);
  const list = await cl.memberList();
  expect(list.length).toBe(4);
  expect(list.every((m) => !m.isLearner)).toBe(true);
  await learner.ctl.ok("put", "gp/from-m4", "v");
  await cl.waitConverged(cl.members);
}, 90_000);
