// A watch stream whose transport reports backpressure (StreamFlow): while it is not writable it
// gets nothing; once it drains, its watchers catch up, every revision once and in order, from
// the recent batches the hub keeps in memory, or from the state file past them.
import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { type WatchResponse, WatchCreateRequestSchema } from "../../src/gen/rpc_pb.ts";
import { MvccStore } from "../../src/mvcc/index.ts";
import type { StreamFlow } from "../../src/server/types.ts";
import { enc, Harness } from "./harness.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A transport's flow driven by the test. */
class Flow implements StreamFlow {
  writable = true;
  private fns: (() => void)[] = [];
  onWritable(fn: () => void): void {
    this.fns.push(fn);
  }
  drain(): void {
    this.writable = true;
    for (const fn of this.fns) fn();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

/** Counts history reads from the state file. */
function countReads(): { n: number; restore(): void } {
  const orig = MvccStore.prototype.changesBetween;
  const c = {
    n: 0,
    restore: () => {
      MvccStore.prototype.changesBetween = orig;
    },
  };
  MvccStore.prototype.changesBetween = function (this: MvccStore, ...a: Parameters<MvccStore["changesBetween"]>) {
    c.n++;
    return orig.apply(this, a);
  };
  return c;
}

function open(hh: Harness, flow: Flow) {
  const revs: number[] = [];
  let responses = 0;
  const s = hh.sm.openWatchStream(
    (r: WatchResponse) => {
      responses++;
      for (const e of r.events) revs.push(Number(e.kv!.modRevision));
    },
    undefined,
    flow,
  );
  s.create(create(WatchCreateRequestSchema, { key: enc("k/"), rangeEnd: enc("k0"), prevKv: true }));
  s.create(create(WatchCreateRequestSchema, { key: enc("k/1") }));
  return { revs, responses: () => responses };
}

test("a stalled stream gets nothing, then catches up from memory: every revision once, no file read", async () => {
  h = await new Harness().open();
  const flow = new Flow();
  const w = open(h, flow);
  await h.put("k/1", "a"); // 2, live
  expect(w.revs).toEqual([2, 2]);
  flow.writable = false;
  const reads = countReads();
  try {
    for (let i = 0; i < 5; i++) await h.put(`k/${i}`, `b${i}`); // 3..7
    expect(w.revs).toEqual([2, 2]); // held back
    const before = w.responses();
    flow.drain();
    await settle();
    expect(reads.n).toBe(0);
    // The prefix watcher gets 3..7, the key watcher its revision 4 (k/1), each in one response
    // merged from the kept batches (etcd's catch-up groups revisions the same way).
    expect(w.revs.slice(2).sort((a, b) => a - b)).toEqual([3, 4, 4, 5, 6, 7]);
    expect(w.responses() - before).toBe(2);
    await h.put("k/1", "live"); // 8: live again
    expect(w.revs.slice(-2)).toEqual([8, 8]);
  } finally {
    reads.restore();
  }
});

test("a stream stalled past what memory keeps reads the rest from the state file", async () => {
  h = await new Harness().open();
  const flow = new Flow();
  const w = open(h, flow);
  flow.writable = false;
  const big = "v".repeat(1024 * 1024);
  for (let i = 0; i < 12; i++) await h.put(`k/${i % 3}`, big); // 2..13: ~12 MiB, more than kept
  const reads = countReads();
  try {
    flow.drain();
    await settle();
    expect(reads.n).toBeGreaterThan(0);
    const prefix = w.revs.filter((r) => r !== 3 && r !== 6 && r !== 9 && r !== 12);
    expect(w.revs.length).toBe(12 + 4);
    expect([...new Set(prefix)].sort((a, b) => a - b)).toEqual([2, 4, 5, 7, 8, 10, 11, 13]);
    // Every revision exactly once per watcher, in order per watcher.
    const all = [...w.revs].sort((a, b) => a - b);
    expect(all).toEqual([2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 11, 12, 12, 13]);
  } finally {
    reads.restore();
  }
});

test("streams that stall and drain at random still get every revision once, in order (seeded)", async () => {
  const { mulberry32 } = await import("../helpers/rng.ts");
  const rng = mulberry32(42);
  h = await new Harness().open();
  const streams = Array.from({ length: 6 }, () => {
    const flow = new Flow();
    const revs: number[] = [];
    h!.sm.openWatchStream(
      (r: WatchResponse) => {
        for (const e of r.events) revs.push(Number(e.kv!.modRevision));
        // The transport fills up as it is sent to.
        if (rng() < 0.2) flow.writable = false;
      },
      undefined,
      flow,
    ).create(create(WatchCreateRequestSchema, { key: enc("k/"), rangeEnd: enc("k0") }));
    return { flow, revs };
  });
  let rev = 1;
  for (let round = 0; round < 300; round++) {
    const n = 1 + Math.floor(rng() * 4);
    await h.batch(Array.from({ length: n }, (_, i) => ({ put: { key: enc(`k/${i}`), value: enc("x".repeat(Math.floor(rng() * 200_000))) } })));
    rev += n;
    for (const s of streams) if (!s.flow.writable && rng() < 0.3) s.flow.drain();
    if (rng() < 0.2) await settle();
  }
  for (let i = 0; i < 5; i++) {
    for (const s of streams) s.flow.drain();
    await settle();
  }
  const want = Array.from({ length: rev - 1 }, (_, i) => i + 2);
  for (const s of streams) expect(s.revs).toEqual(want);
});
