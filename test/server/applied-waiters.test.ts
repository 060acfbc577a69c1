// Waiting for an applied index: woken in order of need, timed out, aborted, or failed at stop;
// a waiter that ended leaves no trace.
import { expect, test } from "bun:test";
import { AppliedWaiters } from "../../src/server/applied-waiters.ts";
import { Errors } from "../../src/rpctypes/index.ts";

function harness() {
  const timers = new Map<number, () => void>();
  let next = 1;
  let applied = 5;
  const w = new AppliedWaiters({
    appliedIndex: () => applied,
    setTimer: (fn) => {
      timers.set(next, fn);
      return next++;
    },
    clearTimer: (h) => void timers.delete(h as number),
  });
  return {
    w,
    timers,
    apply(i: number) {
      applied = i;
      w.applied(i);
    },
  };
}

test("an index already applied resolves at once; later ones when they are applied", async () => {
  const h = harness();
  await h.w.wait(5, 100);
  const seen: number[] = [];
  const p7 = h.w.wait(7, 100).then(() => seen.push(7));
  const p9 = h.w.wait(9, 100).then(() => seen.push(9));
  h.apply(8);
  await p7;
  expect(seen).toEqual([7]);
  h.apply(9);
  await p9;
  expect(seen).toEqual([7, 9]);
  expect(h.timers.size).toBe(0);
});

test("timeout and abort reject with etcd's request timed out; stop fails the rest", async () => {
  const h = harness();
  const timedOut = h.w.wait(10, 100);
  h.timers.values().next().value!();
  await expect(timedOut).rejects.toBe(Errors.timeout);
  const ac = new AbortController();
  const aborted = h.w.wait(10, 100, ac.signal);
  ac.abort();
  await expect(aborted).rejects.toBe(Errors.timeout);
  const pending = h.w.wait(10, 100);
  h.w.stop();
  await expect(pending).rejects.toBe(Errors.stopped);
  await expect(h.w.wait(11, 100)).rejects.toBe(Errors.stopped);
  expect(h.timers.size).toBe(0);
  h.apply(20); // nothing left to wake
});
