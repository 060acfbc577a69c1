import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { type WatchResponse, WatchCreateRequestSchema } from "../../src/gen/rpc_pb.ts";
import { enc, fmtWatch, Harness } from "./harness.ts";

let h: Harness;
afterEach(async () => h?.close());

function stream(hh: Harness) {
  const got: string[] = [];
  const raw: WatchResponse[] = [];
  const s = hh.sm.openWatchStream((r) => {
    raw.push(r);
    got.push(fmtWatch(r));
  });
  const watch = (key: string, extra: Record<string, unknown> = {}) => s.create(create(WatchCreateRequestSchema, { key: enc(key), ...extra }));
  return { s, got, raw, watch };
}

/** Lets pending history replays run to completion. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

test("live: ids from 0, created first, events per revision, delete events, prefix range, cancel", async () => {
  h = await new Harness().open();
  const { s, got, watch } = stream(h);
  watch("a");
  watch("p", { rangeEnd: enc("q") });
  await h.put("a", "1");
  await h.put("p/1", "x");
  await h.batch([
    { put: { key: enc("p/2"), value: enc("y") } },
    { deleteRange: { key: enc("a") } },
  ]);
  s.cancel(0);
  await h.put("a", "again");
  expect(got).toEqual([
    "id=0 rev=1 created",
    "id=1 rev=1 created",
    "id=0 rev=2 PUT a@2=1 c2 v1",
    "id=1 rev=3 PUT p/1@3=x c3 v1",
    "id=1 rev=4 PUT p/2@4=y c4 v1",
    "id=0 rev=5 DEL a@5",
    "id=0 rev=5 canceled",
  ]);
});

test("replay from start_revision then live, no gap and no duplicate; prev_kv; filters", async () => {
  h = await new Harness().open();
  await h.put("k", "1"); // 2
  await h.put("k", "2"); // 3
  await h.do({ deleteRange: { key: enc("k") } }); // 4
  const { got, watch } = stream(h);
  watch("k", { startRevision: 2n, prevKv: true });
  watch("k", { startRevision: 2n, filters: [0] }); // NOPUT
  watch("k", { startRevision: 2n, filters: [1] }); // NODELETE
  // a write lands while the replay is in flight
  await h.put("k", "3"); // 5
  await settle();
  await h.put("k", "4"); // 6
  const w0 = got.filter((g) => g.startsWith("id=0"));
  // History comes as etcd's unsynced catch-up sends it: one response for the window, with the
  // revision it reaches; live revisions follow one by one.
  expect(w0).toEqual([
    "id=0 rev=4 created",
    "id=0 rev=4 PUT k@2=1 c2 v1 PUT k@3=2 c2 v2 prev=1@2 DEL k@4 prev=2@3",
    "id=0 rev=5 PUT k@5=3 c5 v1",
    "id=0 rev=6 PUT k@6=4 c5 v2 prev=3@5",
  ]);
  // (A catch-up window's header is the revision the window reached: 4 or 5 here.)
  expect(got.filter((g) => g.startsWith("id=1")).map((g) => g.replace(/ rev=\d+/, ""))).toEqual(["id=1 created", "id=1 DEL k@4"]);
  expect(got.filter((g) => g.startsWith("id=2")).join(" ").match(/PUT/g)?.length).toBe(4); // 4 puts, no delete
});

test("compacted start revision: created then canceled with compact_revision", async () => {
  h = await new Harness().open();
  for (let i = 0; i < 4; i++) await h.put("k", `${i}`); // 2..5
  await h.do({ compaction: { revision: 4n } });
  await h.sm.compactionDone();
  const { got, watch } = stream(h);
  watch("k", { startRevision: 3n });
  watch("k", { startRevision: 4n });
  await settle();
  expect(got).toEqual(["id=0 rev=5 created", "id=0 rev=0 canceled compact=4", "id=1 rev=5 created", "id=1 rev=5 PUT k@4=2 c2 v3 PUT k@5=3 c2 v4"]);
});

test("duplicate explicit id, empty range, explicit ids skipped by auto ids, progress request", async () => {
  h = await new Harness().open();
  const { s, got, watch } = stream(h);
  watch("a", { watchId: 1n });
  watch("a", { watchId: 1n });
  watch("b", { rangeEnd: enc("a") });
  watch("c");
  watch("d");
  s.progress();
  expect(got).toEqual([
    "id=1 rev=1 created",
    "id=-1 rev=1 created canceled reason=mvcc: duplicate watch ID provided on the WatchStream",
    "id=-1 rev=1 created canceled reason=mvcc: watcher range is empty",
    "id=0 rev=1 created",
    "id=2 rev=1 created",
    "id=-1 rev=1",
  ]);
});

test("progress_notify: quiet synced watchers get an empty response on each tick", async () => {
  h = await new Harness().open();
  const { got, watch } = stream(h);
  watch("a", { progressNotify: true });
  watch("b");
  h.sm.progressTick();
  await h.put("a", "1");
  h.sm.progressTick(); // watcher 0 had an event since the last tick
  h.sm.progressTick();
  expect(got).toEqual(["id=0 rev=1 created", "id=1 rev=1 created", "id=0 rev=1", "id=0 rev=2 PUT a@2=1 c2 v1", "id=0 rev=2"]);
});

test("fragment: large responses split, all but the last marked fragment", async () => {
  h = await new Harness({ maxRequestBytes: 0 }).open();
  // fragment threshold = 0 + 512 KiB; a txn writing 3 × 200 KiB values makes one 600 KiB revision
  const big = new Uint8Array(200 * 1024);
  const { got, raw, watch } = stream(h);
  watch("f", { rangeEnd: enc("g"), fragment: true });
  watch("f", { rangeEnd: enc("g") });
  await h.do({
    txn: {
      success: ["f1", "f2", "f3"].map((k) => ({ request: { case: "requestPut" as const, value: { key: enc(k), value: big } } })),
    },
  });
  const w0 = raw.filter((r) => r.watchId === 0n && !r.created);
  expect(w0.map((r) => [r.events.length, r.fragment])).toEqual([[2, true], [1, false]]);
  const w1 = raw.filter((r) => r.watchId === 1n && !r.created);
  expect(w1.map((r) => [r.events.length, r.fragment])).toEqual([[3, false]]);
  expect(got.length).toBe(5);
});

test("closed stream gets nothing more", async () => {
  h = await new Harness().open();
  const { s, got, watch } = stream(h);
  watch("a");
  s.close();
  await h.put("a", "1");
  expect(got).toEqual(["id=0 rev=1 created"]);
});
