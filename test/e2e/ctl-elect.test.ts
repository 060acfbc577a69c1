// `conclave ctl elect` against the target member beside etcdctl's: candidates of both tools on
// one election exclude each other (one leader at a time, the next one elected when the leader
// resigns on SIGINT), and `elect -l` observers of both tools print the same leaders in the
// same order. Argument errors as etcdctl's.
import { afterAll, expect, test } from "bun:test";
import { CONCLAVE_CTL_BIN, lastError, runConclaveCtl, runEtcdctlRaw, spawnProgram } from "../helpers/conclave-ctl.ts";
import { ETCDCTL_BIN, pollUntil, useMember } from "../helpers/index.ts";

const env = useMember();
const running: Array<ReturnType<typeof spawnProgram>> = [];
afterAll(() => {
  for (const p of running) p.child.kill("SIGKILL");
});

function elect(tool: "ours" | "etcdctl", ...args: string[]) {
  const ep = `--endpoints=${env().member.endpoint}`;
  const p = tool === "ours" ? spawnProgram(CONCLAVE_CTL_BIN, ["ctl", ep, "elect", ...args], { timeoutMs: 90_000 }) : spawnProgram(ETCDCTL_BIN, [ep, "elect", ...args], { timeoutMs: 90_000 });
  running.push(p);
  return p;
}

const lines = (p: ReturnType<typeof spawnProgram>) => p.stdout().split("\n").filter((l) => l !== "");
const leaderKey = (p: ReturnType<typeof spawnProgram>) => lines(p)[0];

test("candidates of both tools take turns as leader; observers of both tools see the same leaders", async () => {
  const obsOurs = elect("ours", "-l", "race");
  const obsTheirs = elect("etcdctl", "-l", "race");
  const a = elect("etcdctl", "race", "p1");
  await pollUntil(() => (lines(a).length === 2 ? true : undefined), 15_000, "etcdctl's candidate elected");
  expect(lines(a)[1]).toBe("p1");
  expect(leaderKey(a)).toMatch(/^race\/[0-9a-f]+$/);
  const b = elect("ours", "race", "p2");
  // Candidates queue in the order their keys were created: c only after b's key is there.
  const candidates = async () => (await env().ctl.ok("get", "race/", "--prefix", "--keys-only")).split("\n").filter((l) => l !== "").length;
  await pollUntil(async () => ((await candidates()) === 2 ? true : undefined), 15_000, "conclave ctl's candidate campaigning");
  const c = elect("etcdctl", "race", "p3");
  await pollUntil(async () => ((await candidates()) === 3 ? true : undefined), 15_000, "etcdctl's second candidate campaigning");
  // Both wait while p1 leads (give them time to be wrongly elected, if at all).
  await new Promise((r) => setTimeout(r, 1000));
  expect([lines(b), lines(c)]).toEqual([[], []]);
  a.child.kill("SIGINT");
  expect((await a.done).code).toBe(0);
  // The next campaigner in creation order is ours.
  await pollUntil(() => (lines(b).length === 2 ? true : undefined), 15_000, "conclave ctl's candidate elected after the resignation").catch((e: Error) => {
    throw new Error(`${e.message}: ours ${JSON.stringify([b.stdout(), b.child.exitCode])}, etcdctl ${JSON.stringify([c.stdout(), c.child.exitCode])}, observers ${JSON.stringify([obsOurs.stdout(), obsTheirs.stdout()])}`);
  });
  expect(lines(b)[1]).toBe("p2");
  expect(leaderKey(b)).toMatch(/^race\/[0-9a-f]+$/);
  await new Promise((r) => setTimeout(r, 500));
  expect(lines(c)).toEqual([]);
  b.child.kill("SIGINT");
  expect((await b.done).code).toBe(0);
  await pollUntil(() => (lines(c).length === 2 ? true : undefined), 15_000, "etcdctl's second candidate elected");
  expect(lines(c)[1]).toBe("p3");
  // Observers: the three leaders, in order, from both tools.
  await pollUntil(() => (lines(obsOurs).length >= 6 && lines(obsTheirs).length >= 6 ? true : undefined), 15_000, "observers saw three leaders");
  expect(lines(obsOurs)).toEqual(lines(obsTheirs));
  expect(lines(obsOurs)).toEqual([leaderKey(a), "p1", leaderKey(b), "p2", leaderKey(c), "p3"]);
  c.child.kill("SIGINT");
  await c.done;
  for (const o of [obsOurs, obsTheirs]) o.child.kill("SIGINT");
  const [ro, rt] = await Promise.all([obsOurs.done, obsTheirs.done]);
  // (clientv3 may log the canceled read as a JSON warn line; conclave ctl prints no such lines.)
  expect({ code: ro.code, stderr: ro.stderr }).toEqual({ code: rt.code, stderr: rt.stderr.replace(/^\{"level":.*\n/gm, "") });
}, 90_000);

test("elect's argument errors and -w json output, as etcdctl's", async () => {
  const ep = `--endpoints=${env().member.endpoint}`;
  for (const args of [["elect"], ["elect", "e"], ["elect", "-l", "e", "p"], ["elect", "a", "b", "c"]]) {
    const x = await runEtcdctlRaw([ep, ...args]);
    const y = await runConclaveCtl([ep, ...args]);
    expect({ args, code: y.code, err: lastError(y) }).toEqual({ args, code: x.code, err: lastError(x) });
  }
  const ours = elect("ours", "-w", "json", "jsonrace", "v");
  await pollUntil(() => (lines(ours).length === 1 ? true : undefined), 15_000, "elected");
  const got = JSON.parse(lines(ours)[0]!) as { kvs: { key: string; value: string }[]; count: number };
  expect(Buffer.from(got.kvs[0]!.value, "base64").toString()).toBe("v");
  expect(got.count).toBe(1);
  ours.child.kill("SIGINT");
  await ours.done;
}, 60_000);
