// etcdctl lock and elect between two concurrent etcdctl processes: the second waits until the
// first releases (SIGTERM → etcdctl revokes its session) or is killed (SIGKILL → its session
// lease runs out after --ttl). Owner keys are `<name>/<lease id as %x>`: no zero padding,
// unlike `lease grant`, which prints %016x.
import { afterEach, expect, test } from "bun:test";
import { type LineProcess, pollUntil, useMember } from "../helpers/index.ts";

const env = useMember();
const procs: LineProcess[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill();
});

function spawn(...args: string[]): LineProcess {
  const p = env().ctl.spawn(...args);
  procs.push(p);
  return p;
}

/** The owner keys under `prefix/` in creation order (what a waiter queues behind). */
async function waiters(prefix: string): Promise<string[]> {
  const out = await env().ctl.ok("get", `${prefix}/`, "--prefix", "--keys-only", "--sort-by", "CREATE");
  return out.split("\n").filter((l) => l !== "");
}

test("lock: the second holder waits until the first is released with SIGTERM", async () => {
  const first = spawn("lock", "lk1");
  const [key1] = await first.stdoutAtLeast(1, 5000);
  expect(key1).toMatch(/^lk1\/[0-9a-f]{1,16}$/);
  const second = spawn("lock", "lk1");
  // The second has queued its own key behind the first, so it is now waiting.
  await pollWaiters("lk1", 2);
  expect(second.stdoutLines).toEqual([]);
  first.signal("SIGTERM");
  expect((await first.exited).code).toBe(0);
  const [key2] = await second.stdoutAtLeast(1, 5000);
  expect(key2).toMatch(/^lk1\/[0-9a-f]{1,16}$/);
  expect(key2).not.toBe(key1);
  expect(await waiters("lk1")).toEqual([key2]);
});

test("lock: a SIGKILLed holder loses the lock when its session lease expires", async () => {
  const first = spawn("lock", "--ttl", "2", "lk2");
  const [key1] = await first.stdoutAtLeast(1, 5000);
  const second = spawn("lock", "lk2");
  await pollWaiters("lk2", 2);
  expect(second.stdoutLines).toEqual([]);
  await first.kill();
  const killedAt = Date.now();
  const [key2] = await second.stdoutAtLeast(1, 10_000);
  expect(key2).not.toBe(key1);
  // It had to wait for the lease to lapse, not just for the process to go away.
  expect(Date.now() - killedAt).toBeGreaterThan(500);
}, 15_000);

test("lock with a command runs it while holding the lock, then releases", async () => {
  const { ctl } = env();
  const r = await ctl.run("lock", "lk3", "echo", "inside");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("inside\n");
  expect(await waiters("lk3")).toEqual([]);
});

test("elect: the second candidate becomes leader after the first resigns; observers follow", async () => {
  const first = spawn("elect", "el1", "p1");
  const lines1 = await first.stdoutAtLeast(2, 5000);
  expect(lines1[0]).toMatch(/^el1\/[0-9a-f]{1,16}$/);
  expect(lines1[1]).toBe("p1");
  const observer = spawn("elect", "-l", "el1");
  expect(await observer.stdoutAtLeast(2, 5000)).toEqual(lines1);
  const second = spawn("elect", "el1", "p2");
  await pollWaiters("el1", 2);
  expect(second.stdoutLines).toEqual([]);
  first.signal("SIGTERM");
  await first.exited;
  const lines2 = await second.stdoutAtLeast(2, 5000);
  expect(lines2[0]).toMatch(/^el1\/[0-9a-f]{1,16}$/);
  expect(lines2[0]).not.toBe(lines1[0]);
  expect(lines2[1]).toBe("p2");
  const seen = await observer.stdoutAtLeast(4, 5000);
  expect(seen.slice(2)).toEqual(lines2);
});

/** Bounded wait until `n` contenders have registered their keys. */
async function pollWaiters(prefix: string, n: number): Promise<void> {
  await pollUntil(
    async () => ((await waiters(prefix)).length >= n ? true : undefined),
    5000,
    `${n} contenders under ${prefix}/`,
    20,
  );
}
