import { expect, test } from "bun:test";
import { startHeapGovernor } from "../../src/runtime/heap-governor.ts";

// A scripted heap: grows by `step` at every poll until collected back to `live`.
function fakeHeap(live: number, step: number) {
  const s = { size: live, polls: 0, collections: 0, maxSeen: live };
  const hooks = {
    heapSize: () => {
      s.polls++;
      s.maxSeen = Math.max(s.maxSeen, s.size);
      const v = s.size;
      s.size += step;
      return v;
    },
    fullGC: () => {
      s.collections++;
      s.size = live;
    },
  };
  return { s, hooks };
}

async function pollsAtLeast(s: { polls: number }, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (s.polls < n) {
    if (Date.now() > deadline) throw new Error(`governor polled only ${s.polls} times`);
    await Bun.sleep(5);
  }
}

test("collects once the heap outgrows the last collection by the factor, and not before", async () => {
  const { s, hooks } = fakeHeap(100, 10);
  const gov = await startHeapGovernor({ growth: 1.5, everyMs: 1, minBytes: 50, hooks });
  await pollsAtLeast(s, 40);
  gov.stop();
  // 100 grows past 150 in six polls: several collections, and the heap never ran away.
  expect(s.collections).toBeGreaterThanOrEqual(3);
  expect(s.maxSeen).toBeLessThanOrEqual(100 * 1.5 + 10);
});

test("a heap under the floor is left alone", async () => {
  const { s, hooks } = fakeHeap(10, 1);
  const gov = await startHeapGovernor({ growth: 1.5, everyMs: 1, minBytes: 1_000_000, hooks });
  await pollsAtLeast(s, 40);
  gov.stop();
  expect(s.collections).toBe(0);
});

// A young generation: the capacity grows by `step` a poll; the engine collects by itself every
// `engineEvery` polls (0: never), and edenGC brings it back to `live`.
function fakeYoung(live: number, step: number, engineEvery: number) {
  const s = { cap: live, polls: 0, edens: 0, maxSeen: live };
  const hooks = {
    heapSize: () => {
      s.polls++;
      if (engineEvery > 0 && s.polls % engineEvery === 0) s.cap = live;
      else s.cap += step;
      s.maxSeen = Math.max(s.maxSeen, s.cap);
      return 1;
    },
    capacity: () => s.cap,
    fullGC: () => {},
    edenGC: () => {
      s.edens++;
      s.cap = live;
    },
  };
  return { s, hooks };
}

/** Runs the governor's eden rule (growth of 30, quiet 5 polls) over a fakeYoung heap for 60 polls. */
async function young(engineEvery: number) {
  const { s, hooks } = fakeYoung(100, 10, engineEvery);
  const gov = await startHeapGovernor({ growth: 1.5, everyMs: 1, minBytes: 0, eden: { afterBytes: 30, quietMs: 5 }, hooks });
  await pollsAtLeast(s, 60);
  gov.stop();
  return s;
}

test("an eden collection once the young generation has grown for a while with no collection", async () => {
  const s = await young(0);
  // Every ~5 polls (the quiet time; 30 of growth comes sooner): the capacity stays near live.
  expect(s.edens).toBeGreaterThanOrEqual(5);
  expect(s.maxSeen).toBeLessThanOrEqual(100 + 8 * 10);
});

test("no eden collection while the engine collects by itself more often than the quiet time", async () => {
  expect((await young(4)).edens).toBe(0);
});
