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
