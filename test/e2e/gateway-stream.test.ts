// Streaming gateway endpoints read with fetch: watch, lease keepalive, maintenance snapshot.
// Each stream is newline-separated {"result":{...}} objects.
import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { b64, type JsonStream, prefixEnd, unb64, unb64Bytes, useMember } from "../helpers/index.ts";

const env = useMember();
const streams: JsonStream[] = [];

afterEach(() => {
  for (const s of streams.splice(0)) s.close();
});

async function open(path: string, body: unknown): Promise<JsonStream> {
  const s = await env().gw.stream(path, body);
  streams.push(s);
  expect(s.status).toBe(200);
  return s;
}

test("watch: created reply, then PUT and DELETE events with prev_kv", async () => {
  const { gw } = env();
  await gw.put("sw/k", "old");
  const w = await open("/v3/watch", { create_request: { key: b64("sw/"), range_end: prefixEnd("sw/"), prev_kv: true } });
  const created = (await w.next()).result;
  expect(created.created).toBe(true);
  expect(created.watch_id).toBeUndefined(); // first watcher on the stream has id 0, omitted
  expect(created.header.revision).toMatch(/^\d+$/);
  const put = await gw.put("sw/k", "new");
  const ev1 = (await w.next()).result;
  expect(ev1.header.revision).toBe(put.header.revision);
  expect(ev1.events.length).toBe(1);
  expect(ev1.events[0].type).toBeUndefined(); // PUT = 0, omitted
  expect(unb64(ev1.events[0].kv.value)).toBe("new");
  expect(ev1.events[0].kv.version).toBe("2");
  expect(unb64(ev1.events[0].prev_kv.value)).toBe("old");
  const del = await gw.ok("/v3/kv/deleterange", { key: b64("sw/k") });
  const ev2 = (await w.next()).result;
  expect(ev2.events).toEqual([
    {
      type: "DELETE",
      kv: { key: b64("sw/k"), mod_revision: del.header.revision },
      prev_kv: {
        key: b64("sw/k"),
        create_revision: ev1.events[0].kv.create_revision,
        mod_revision: put.header.revision,
        version: "2",
        value: b64("new"),
      },
    },
  ]);
});

test("watch with start_revision replays history; events from concurrent writers arrive in order", async () => {
  const { gw } = env();
  const start = Number((await gw.put("sh/first", "0")).header.revision);
  await Promise.all(
    [0, 1, 2].map(async (i) => {
      for (let n = 0; n < 5; n++) await gw.put(`sh/${i}`, String(n));
    }),
  );
  const w = await open("/v3/watch", {
    create_request: { key: b64("sh/"), range_end: prefixEnd("sh/"), start_revision: String(start) },
  });
  expect((await w.next()).result.created).toBe(true);
  const revs: number[] = [];
  while (revs.length < 16) {
    for (const ev of (await w.next()).result.events) revs.push(Number(ev.kv.mod_revision));
  }
  expect(revs).toEqual(Array.from({ length: 16 }, (_, i) => start + i));
});

test("watch below the compacted revision is canceled with compact_revision", async () => {
  const { gw } = env();
  const old = (await gw.put("sc/k", "1")).header.revision;
  const now = (await gw.put("sc/k", "2")).header.revision;
  await gw.ok("/v3/kv/compaction", { revision: now });
  const w = await open("/v3/watch", { create_request: { key: b64("sc/k"), start_revision: old } });
  const first = (await w.next()).result;
  expect(first.created).toBe(true);
  const canceled = (await w.next()).result;
  expect(canceled.canceled).toBe(true);
  expect(canceled.compact_revision).toBe(now);
  expect(canceled.events).toBeUndefined();
});

test("watch on an empty range is created and canceled at once with the mvcc reason", async () => {
  const w = await open("/v3/watch", { create_request: { key: b64("z"), range_end: b64("a") } });
  const r = (await w.next()).result;
  expect(r.created).toBe(true);
  expect(r.canceled).toBe(true);
  expect(r.watch_id).toBe("-1");
  expect(r.cancel_reason).toBe("mvcc: watcher range is empty");
});

test("lease keepalive stream: renews a live lease, TTL absent for an unknown one", async () => {
  const { gw } = env();
  const g = await gw.ok("/v3/lease/grant", { TTL: 20 });
  const ka = await open("/v3/lease/keepalive", { ID: g.ID });
  const r = (await ka.next()).result;
  expect(r.ID).toBe(g.ID);
  expect(r.TTL).toBe("20");
  expect(r.header.revision).toMatch(/^\d+$/);
  const unknown = await open("/v3/lease/keepalive", { ID: "5" });
  const u = (await unknown.next()).result;
  expect(u.ID).toBe("5");
  expect(u.TTL).toBeUndefined();
});

test("snapshot stream: base64 blobs whose total is 32 mod 512, ending in the SHA-256", async () => {
  const { gw } = env();
  await gw.put("ss/k", "v");
  const s = await open("/v3/maintenance/snapshot", {});
  const msgs = await s.rest(20_000);
  expect(msgs.length).toBeGreaterThanOrEqual(2);
  const blobs = msgs.map((m) => unb64Bytes(m.result.blob));
  const total = blobs.reduce((n, b) => n + b.length, 0);
  expect(total % 512).toBe(32);
  const last = blobs.at(-1)!;
  expect(last.length).toBe(32);
  const hash = createHash("sha256");
  for (const b of blobs.slice(0, -1)) hash.update(b);
  expect(Buffer.from(last).equals(hash.digest())).toBe(true);
  // remaining_bytes counts down to zero (omitted when zero).
  expect(msgs.at(-1)!.result.remaining_bytes).toBeUndefined();
});

test("one watch request body may carry several messages: create, explicit id, progress, cancel", async () => {
  const body = [
    { create_request: { key: b64("sm/a") } },
    { create_request: { key: b64("sm/b"), watch_id: 7 } },
    { progress_request: {} },
    { cancel_request: { watch_id: 7 } },
  ]
    .map((m) => JSON.stringify(m))
    .join("\n");
  const w = await open("/v3/watch", body);
  const r = [(await w.next()).result, (await w.next()).result, (await w.next()).result, (await w.next()).result];
  expect(r[0].created).toBe(true);
  expect(r[0].watch_id).toBeUndefined();
  expect(r[1].created).toBe(true);
  expect(r[1].watch_id).toBe("7");
  // Progress reply: watch_id -1 and the current revision.
  expect(r[2].watch_id).toBe("-1");
  expect(r[2].header.revision).toBe(r[0].header.revision);
  expect(r[2].created).toBeUndefined();
  expect(r[3]).toEqual({ header: r[3].header, watch_id: "7", canceled: true });
});

test("a duplicate explicit watch id is created and canceled with the mvcc reason", async () => {
  const body = `${JSON.stringify({ create_request: { key: b64("sd/a"), watch_id: 3 } })}\n${JSON.stringify({
    create_request: { key: b64("sd/b"), watch_id: 3 },
  })}`;
  const w = await open("/v3/watch", body);
  const first = (await w.next()).result;
  expect(first.watch_id).toBe("3");
  expect(first.created).toBe(true);
  const dup = (await w.next()).result;
  expect(dup.watch_id).toBe("-1");
  expect(dup.created).toBe(true);
  expect(dup.canceled).toBe(true);
  expect(dup.cancel_reason).toBe("mvcc: duplicate watch ID provided on the WatchStream");
});
