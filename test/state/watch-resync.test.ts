// Watch streams survive a snapshot install: the hub is detached from the old state machine,
// the image replaces the store, and the new machine takes the hub over. Each watcher
// re-syncs from its next revision: history replayed once, or canceled as compacted.
import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { type WatchResponse, WatchCreateRequestSchema } from "../../src/gen/rpc_pb.ts";
import { installStateImage } from "../../src/server/state-image.ts";
import { enc, fmtWatch, Harness } from "./harness.ts";

let open: Harness[] = [];
afterEach(async () => {
  for (const h of open) await h.close().catch(() => {});
  open = [];
});

async function harness(): Promise<Harness> {
  const h = await new Harness().open();
  open.push(h);
  return h;
}

function stream(h: Harness) {
  const got: string[] = [];
  const s = h.sm.openWatchStream((r: WatchResponse) => got.push(fmtWatch(r)));
  const watch = (key: string, extra: Record<string, unknown> = {}) => s.create(create(WatchCreateRequestSchema, { key: enc(key), ...extra }));
  return { s, got, watch };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

/** The leader's state image (the snapshot blobs without the final sha256 message). */
async function image(h: Harness): Promise<Uint8Array[]> {
  const blobs: Uint8Array[] = [];
  for await (const r of h.sm.snapshot()) blobs.push(r.blob);
  return blobs.slice(0, -1);
}

/** What the raft loop does on a follower: detach the hub, replace the store, attach the hub. */
async function install(f: Harness, leader: Harness): Promise<void> {
  const img = await image(leader);
  const hub = f.sm.detachWatchHub();
  await f.sm.close();
  await installStateImage(f.path, img);
  await f.open();
  f.sm.attachWatchHub(hub);
  f.index = leader.index;
}

/** Both members apply the same entries (same revisions), as replication would. */
async function putBoth(a: Harness, b: Harness, key: string, value: string): Promise<void> {
  await a.put(key, value);
  await b.put(key, value);
}

test("a synced watcher gets the revisions it missed from the new store once, then live events", async () => {
  const leader = await harness();
  const f = await harness();
  await putBoth(leader, f, "k", "0"); // rev 2
  const { got, watch } = stream(f);
  watch("k");
  watch("other");
  await putBoth(leader, f, "k", "1"); // rev 3, delivered live
  // The follower lags: the leader applies revisions 4..6 and sends its image.
  await leader.put("k", "2");
  await leader.put("other", "x");
  await leader.do({ deleteRange: { key: enc("k") } });
  await install(f, leader);
  await settle();
  await putBoth(leader, f, "k", "3"); // rev 7, live on the new store
  // Each watcher catches up on its own: the order holds per watcher, not across them; what it
  // missed comes in one response with the revision the new store reached (etcd's unsynced group).
  expect(got.filter((g) => g.startsWith("id=0"))).toEqual([
    "id=0 rev=2 created",
    "id=0 rev=3 PUT k@3=1 c2 v2",
    "id=0 rev=6 PUT k@4=2 c2 v3 DEL k@6",
    "id=0 rev=7 PUT k@7=3 c7 v1",
  ]);
  expect(got.filter((g) => g.startsWith("id=1"))).toEqual(["id=1 rev=2 created", "id=1 rev=6 PUT other@5=x c5 v1"]);
});

test("a watcher behind the new store's compact revision is canceled with compact_revision", async () => {
  const leader = await harness();
  const f = await harness();
  await putBoth(leader, f, "k", "0"); // rev 2
  const { got, watch } = stream(f);
  watch("k"); // next revision 3
  watch("k", { startRevision: 6n }); // ahead of the compaction: survives
  for (let i = 1; i <= 4; i++) await leader.put("k", `${i}`); // revs 3..6
  await leader.do({ compaction: { revision: 5n } });
  await leader.sm.compactionDone();
  await install(f, leader);
  await settle();
  await putBoth(leader, f, "k", "5"); // rev 7
  expect(got).toEqual([
    "id=0 rev=2 created",
    "id=1 rev=2 created",
    "id=0 rev=0 canceled compact=5",
    "id=1 rev=6 PUT k@6=4 c2 v5",
    "id=1 rev=7 PUT k@7=5 c2 v6",
  ]);
});

test("a replay in flight when the store is replaced is restarted on the new one: nothing twice", async () => {
  const leader = await harness();
  const f = await harness();
  for (let i = 0; i < 3; i++) await putBoth(leader, f, "k", `${i}`); // revs 2..4
  const { got, watch } = stream(f);
  watch("k", { startRevision: 2n, prevKv: true }); // replay reads revs 2..4 from SQLite
  await leader.put("k", "3"); // rev 5, only in the image
  await install(f, leader); // before the replay got its rows
  await settle();
  // Every revision exactly once, in order (how they are grouped into responses depends on
  // when the catch-up read them).
  expect(got[0]).toBe("id=0 rev=4 created");
  expect(got.slice(1).flatMap((g) => g.split(/ (?=PUT|DEL)/).slice(1))).toEqual([
    "PUT k@2=0 c2 v1",
    "PUT k@3=1 c2 v2 prev=0@2",
    "PUT k@4=2 c2 v3 prev=1@3",
    "PUT k@5=3 c2 v4 prev=2@4",
  ]);
});

test("watches created while the image is installed start against the new store; cancel and progress still answer", async () => {
  const leader = await harness();
  const f = await harness();
  await putBoth(leader, f, "a", "0"); // rev 2
  await leader.put("a", "1"); // rev 3
  await leader.put("b", "1"); // rev 4
  const img = await image(leader);
  const { s, got, watch } = stream(f);
  watch("b");
  const hub = f.sm.detachWatchHub();
  await f.sm.close();
  // The server may still hand the old machine to a client: its streams join the same hub.
  const late: string[] = [];
  const s2 = f.sm.openWatchStream((r) => late.push(fmtWatch(r)));
  s2.create(create(WatchCreateRequestSchema, { key: enc("a") })); // from rev 3 (old store at 2)
  watch("b", { startRevision: 4n });
  s.cancel(0);
  s.progress();
  await installStateImage(f.path, img);
  await f.open();
  f.sm.attachWatchHub(hub);
  f.index = leader.index;
  await settle();
  await putBoth(leader, f, "a", "2"); // rev 5
  await putBoth(leader, f, "b", "2"); // rev 6
  expect(got).toEqual([
    "id=0 rev=2 created",
    "id=1 rev=2 created",
    "id=0 rev=2 canceled",
    "id=-1 rev=2",
    "id=1 rev=4 PUT b@4=1 c4 v1",
    "id=1 rev=6 PUT b@6=2 c4 v2",
  ]);
  expect(late).toEqual(["id=0 rev=2 created", "id=0 rev=4 PUT a@3=1 c2 v2", "id=0 rev=5 PUT a@5=2 c2 v3"]);
});

test("closing the replacing machine closes the streams it took over", async () => {
  const leader = await harness();
  const f = await harness();
  const { s, got, watch } = stream(f);
  watch("k");
  await leader.put("k", "1");
  await install(f, leader);
  await settle();
  s.progress(); // answered: the stream is open on the new machine
  await f.sm.close();
  s.progress(); // not answered: closed with the machine
  expect(got).toEqual(["id=0 rev=1 created", "id=0 rev=2 PUT k@2=1 c2 v1", "id=-1 rev=2"]);
  await f.open(); // for the cleanup
});
