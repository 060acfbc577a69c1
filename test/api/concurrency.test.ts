import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { campaign, leader, lock, observe, proclaim, resign, unlock } from "../../src/api/concurrency/index.ts";
import * as el from "../../src/gen/v3election_pb.ts";
import * as lk from "../../src/gen/v3lock_pb.ts";
import { FakeServer } from "./fake-server.ts";
import { RawGrpc, collect, decodeAll, frameOf, startHarness } from "./helpers.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const lockReq = (name: string, lease = 0n) => create(lk.LockRequestSchema, { name: te.encode(name), lease });

test("lock: uncontended at once; a second waiter gets it only after unlock", async () => {
  const s = new FakeServer();
  const a = await lock(s, lockReq("m"), {});
  expect(td.decode(a.key)).toBe("m/7000");
  let bHeld = false;
  const b = lock(s, lockReq("m"), {}).then((r) => {
    bHeld = true;
    return r;
  });
  // Let the waiter reach its watch: it cannot own the lock while a's key exists.
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
  expect(bHeld).toBe(false);
  await unlock(s, create(lk.UnlockRequestSchema, { key: a.key }), {});
  const got = await b;
  expect(td.decode(got.key)).toBe("m/7001");
  expect(got.header!.revision).toBe(BigInt(s.rev));
});

test("lock: the same lease re-locks with its existing key", async () => {
  const s = new FakeServer();
  s.leases.set(0x55n, 10n);
  const a = await lock(s, lockReq("m", 0x55n), {});
  const again = await lock(s, lockReq("m", 0x55n), {});
  expect(td.decode(again.key)).toBe(td.decode(a.key));
  expect(td.decode(a.key)).toBe("m/55");
});

test("lock: an aborted wait fails with Canceled and withdraws its key", async () => {
  const s = new FakeServer();
  await lock(s, lockReq("m"), {});
  const ac = new AbortController();
  const waiting = lock(s, lockReq("m"), { signal: ac.signal });
  await new Promise((r) => setImmediate(r));
  ac.abort();
  await expect(waiting).rejects.toThrow("context canceled");
  expect([...s.kvs.values()].map((kv) => td.decode(kv.key))).toEqual(["m/7000"]);
  expect(s.watchers.size).toBe(0);
});

test("election: campaign, leader, proclaim, observe, resign", async () => {
  const s = new FakeServer();
  const name = te.encode("e");
  await expect(leader(s, create(el.LeaderRequestSchema, { name }), {})).rejects.toThrow("election: no leader");
  const c = await campaign(s, create(el.CampaignRequestSchema, { name, value: te.encode("v1") }), {});
  expect(td.decode(c.leader!.key)).toBe("e/7000");
  const l = await leader(s, create(el.LeaderRequestSchema, { name }), {});
  expect(td.decode(l.kv!.value)).toBe("v1");

  const ac = new AbortController();
  const obs = observe(s, create(el.LeaderRequestSchema, { name }), { signal: ac.signal })[Symbol.asyncIterator]();
  expect(td.decode((await obs.next()).value!.kv!.value)).toBe("v1");
  await proclaim(s, create(el.ProclaimRequestSchema, { leader: c.leader, value: te.encode("v2") }), {});
  expect(td.decode((await obs.next()).value!.kv!.value)).toBe("v2");

  // A second candidate waits behind the leader and takes over when it resigns.
  const second = campaign(s, create(el.CampaignRequestSchema, { name, value: te.encode("w") }), {});
  await new Promise((r) => setImmediate(r));
  await resign(s, create(el.ResignRequestSchema, { leader: c.leader }), {});
  const c2 = await second;
  expect(td.decode(c2.leader!.key)).toBe("e/7001");
  const next = (await obs.next()).value!;
  expect(td.decode(next.kv!.value)).toBe("w");
  ac.abort();
  await expect(obs.next()).rejects.toThrow("context canceled");

  // Proclaiming with a stale leader key fails with etcd's text.
  await expect(proclaim(s, create(el.ProclaimRequestSchema, { leader: c.leader, value: te.encode("x") }), {})).rejects.toThrow(
    "election: not leader",
  );
  await expect(resign(s, create(el.ResignRequestSchema, {}), {})).rejects.toThrow('"leader" field must be provided');
});

test("Lock service over gRPC: Unknown for election errors, lock key in the response", async () => {
  const h = await startHarness();
  const g = new RawGrpc(h.port);
  try {
    const r = await g.call("/v3lockpb.Lock/Lock", [frameOf(lk.LockRequestSchema, lockReq("svc"))]);
    expect(r.status).toBe(0);
    expect(td.decode(decodeAll(lk.LockResponseSchema, r.data)[0]!.key)).toBe("svc/7000");
    const e = await g.call("/v3electionpb.Election/Leader", [frameOf(el.LeaderRequestSchema, create(el.LeaderRequestSchema, { name: te.encode("none") }))]);
    expect(e.status).toBe(2);
    expect(e.message).toBe("election: no leader");
    // A waiting Lock whose client goes away stops waiting and removes its key.
    const req = g.open("/v3lockpb.Lock/Lock");
    const done = collect(req).catch(() => undefined);
    req.end(frameOf(lk.LockRequestSchema, lockReq("svc")));
    while (h.fake.watchers.size === 0) await new Promise((r) => setTimeout(r, 1));
    req.close(8);
    await done;
    while (h.fake.watchers.size !== 0) await new Promise((r) => setTimeout(r, 1));
    expect(h.fake.kvs.size).toBe(1);
  } finally {
    g.close();
    await h.close();
  }
});
