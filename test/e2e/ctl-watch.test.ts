// etcdctl watch: prefix, --rev history replay, --prev-kv, concurrent writers, compacted start.
import { afterEach, expect, test } from "bun:test";
import { type LineProcess, useMember } from "../helpers/index.ts";

const env = useMember();
const procs: LineProcess[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill();
});

function watch(...args: string[]): LineProcess {
  const p = env().ctl.spawn("watch", ...args);
  procs.push(p);
  return p;
}

async function revisionNow(): Promise<number> {
  const out = await env().ctl.ok("get", "x", "-w", "json");
  return Number(/"revision":(\d+)/.exec(out)![1]);
}

/**
 * etcdctl prints nothing when a watch is established, so tests start watches at an explicit
 * revision (the next one): events written afterwards are then delivered no matter how long
 * the watch took to set up.
 */
async function nextRevision(): Promise<string> {
  return String((await revisionNow()) + 1);
}

test("watch --prefix prints PUT and DELETE events in order", async () => {
  const { ctl } = env();
  const w = watch("w1/", "--prefix", "--rev", await nextRevision());
  await ctl.ok("put", "w1/a", "1");
  await ctl.ok("put", "other", "x");
  await ctl.ok("put", "w1/b", "2");
  await ctl.ok("del", "w1/a");
  const lines = await w.stdoutAtLeast(9, 5000);
  expect(lines).toEqual(["PUT", "w1/a", "1", "PUT", "w1/b", "2", "DELETE", "w1/a", ""]);
});

test("watch --prev-kv prints the previous pair before the event's pair", async () => {
  const { ctl } = env();
  await ctl.ok("put", "w2/k", "first");
  const w = watch("w2/", "--prefix", "--prev-kv", "--rev", await nextRevision());
  await ctl.ok("put", "w2/k", "second");
  await ctl.ok("del", "w2/k");
  const lines = await w.stdoutAtLeast(10, 5000);
  expect(lines).toEqual(["PUT", "w2/k", "first", "w2/k", "second", "DELETE", "w2/k", "second", "w2/k", ""]);
});

test("watch --rev replays history from that revision, then streams live", async () => {
  const { ctl } = env();
  const start = (await revisionNow()) + 1;
  await ctl.ok("put", "w3/k", "a");
  await ctl.ok("put", "w3/k", "b");
  const w = watch("w3/k", "--rev", String(start));
  const replay = await w.stdoutAtLeast(6, 5000);
  expect(replay).toEqual(["PUT", "w3/k", "a", "PUT", "w3/k", "b"]);
  await ctl.ok("put", "w3/k", "c");
  const all = await w.stdoutAtLeast(9, 5000);
  expect(all.slice(6)).toEqual(["PUT", "w3/k", "c"]);
});

test("watch -w json prints Go-style responses with Events", async () => {
  const { ctl } = env();
  const start = (await revisionNow()) + 1;
  await ctl.ok("put", "w4/k", "v");
  const w = watch("w4/k", "--rev", String(start), "-w", "json");
  const [line] = await w.stdoutAtLeast(1, 5000);
  const j = JSON.parse(line!);
  expect(Object.keys(j)).toEqual(["Header", "Events", "CompactRevision", "Canceled", "Created"]);
  expect(j.Header.revision).toBeGreaterThanOrEqual(start);
  expect(j.Events).toEqual([
    { kv: { key: btoa("w4/k"), create_revision: start, mod_revision: start, version: 1, value: btoa("v") } },
  ]);
  expect(j.Canceled).toBe(false);
  expect(j.CompactRevision).toBe(0);
});

test("events from concurrent writers all arrive once, in revision order", async () => {
  const { ctl } = env();
  const start = (await revisionNow()) + 1;
  const w = watch("w5/", "--prefix", "-w", "json", "--rev", String(start));
  const writers = 4;
  const each = 5;
  await Promise.all(
    Array.from({ length: writers }, async (_, i) => {
      for (let n = 0; n < each; n++) await ctl.ok("put", `w5/${i}`, String(n));
    }),
  );
  const want = writers * each;
  const revs: number[] = [];
  const lastValue = new Map<string, string>();
  await w.waitUntil(
    () => w.stdoutLines.reduce((s, l) => s + (JSON.parse(l).Events?.length ?? 0), 0) >= want,
    10_000,
    `${want} events`,
  );
  for (const l of w.stdoutLines) {
    for (const ev of JSON.parse(l).Events ?? []) {
      revs.push(ev.kv.mod_revision);
      const key = atob(ev.kv.key);
      const val = atob(ev.kv.value);
      // Per key, values arrive in the order that writer wrote them.
      expect(Number(val)).toBe(Number(lastValue.get(key) ?? -1) + 1);
      lastValue.set(key, val);
    }
  }
  expect(revs.length).toBe(want);
  // Single-key puts: one revision each, strictly increasing, no gaps.
  expect(revs).toEqual(Array.from({ length: want }, (_, i) => start + i));
});

test("watch --rev below the compacted revision is canceled with the compacted error", async () => {
  const { ctl } = env();
  await ctl.ok("put", "w6/k", "1");
  await ctl.ok("put", "w6/k", "2");
  const rev = await revisionNow();
  await ctl.ok("compaction", String(rev));
  const w = watch("w6/k", "--rev", String(rev - 1));
  const exit = await w.exited;
  // Both lines go to stderr (etcd 3.4.23 + etcdctl 3.4.23); nothing on stdout.
  expect(w.stdoutLines).toEqual([]);
  expect(w.stderrLines).toEqual([
    "watch was canceled (etcdserver: mvcc: required revision has been compacted)",
    "Error: watch is canceled by the server",
  ]);
  expect(exit.code).toBe(5);
});
