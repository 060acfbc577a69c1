// Call deadlines: a `grpc-timeout` (gRPC) or `Grpc-Timeout` header (JSON gateway) ends a call
// that is still waiting at its deadline, with etcd 3.4's status for that kind of call. The
// statuses were observed on etcd 3.4.23 over raw HTTP/2 (no client-side deadline), so this
// file passes against either target (E2E_TARGET=etcd).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { RangeRequestSchema, WatchRequestSchema } from "../../src/gen/rpc_pb.ts";
import { LockRequestSchema } from "../../src/gen/v3lock_pb.ts";
import { CampaignRequestSchema } from "../../src/gen/v3election_pb.ts";
import { collect, frameOf, RawGrpc } from "../api/helpers.ts";
import { b64, isEtcd, pollUntil, unb64, useMember } from "../helpers/index.ts";

const suite = useMember();
let grpc: RawGrpc;
const enc = (s: string) => new TextEncoder().encode(s);

/** A lease kept alive for the whole file (the lock holder's and the leader's session). */
let holderLease = "";

beforeAll(async () => {
  const { gw } = suite();
  grpc = new RawGrpc(suite().member.clientPort);
  holderLease = (await gw.ok("/v3/lease/grant", { TTL: 300 })).ID;
  // Hold lock "dl-lock" and lead election "dl-elect": later callers block.
  await gw.ok("/v3/lock/lock", { name: b64("dl-lock"), lease: holderLease });
  await gw.ok("/v3/election/campaign", { name: b64("dl-elect"), lease: holderLease, value: b64("first") });
});

afterAll(() => grpc?.close());

/** Keys under `prefix` (the waiters' keys of a lock or an election). */
async function keysUnder(prefix: string): Promise<string[]> {
  const r = await suite().gw.range(prefix, { range_end: b64(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)), keys_only: true });
  return ((r.kvs ?? []) as { key: string }[]).map((kv) => unb64(kv.key));
}

test("a blocked Lock ends at its grpc-timeout with 'context deadline exceeded', and its waiter key is removed", async () => {
  const t0 = Date.now();
  const r = await grpc.call("/v3lockpb.Lock/Lock", [frameOf(LockRequestSchema, create(LockRequestSchema, { name: enc("dl-lock") }))], {
    "grpc-timeout": "600m",
  });
  const took = Date.now() - t0;
  // etcd 3.4 returns the handler's context error, which grpc-go 1.26 sends as Unknown (2).
  expect({ status: r.status, message: r.message }).toEqual({ status: 2, message: "context deadline exceeded" });
  expect(took).toBeGreaterThanOrEqual(550);
  expect(took).toBeLessThan(2500);
  // The waiter's key goes (the holder's stays), so it blocks no one until its lease expires.
  await pollUntil(async () => ((await keysUnder("dl-lock/")).length === 1 ? true : undefined), 5000, "waiter key removed");
});

test("a blocked Campaign ends at its grpc-timeout the same way", async () => {
  const { gw } = suite();
  const lease = (await gw.ok("/v3/lease/grant", { TTL: 60 })).ID as string;
  const t0 = Date.now();
  const r = await grpc.call(
    "/v3electionpb.Election/Campaign",
    [frameOf(CampaignRequestSchema, create(CampaignRequestSchema, { name: enc("dl-elect"), lease: BigInt(lease), value: enc("second") }))],
    { "grpc-timeout": "500m" },
  );
  expect({ status: r.status, message: r.message }).toEqual({ status: 2, message: "context deadline exceeded" });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
  const leader = await gw.ok("/v3/election/leader", { name: b64("dl-elect") });
  expect(unb64(leader.kv.value)).toBe("first");
});

test("a Watch stream ends at its grpc-timeout with 'context deadline exceeded' after its created response", async () => {
  const req = grpc.open("/etcdserverpb.Watch/Watch", { "grpc-timeout": "700m" });
  const done = collect(req);
  const t0 = Date.now();
  req.write(frameOf(WatchRequestSchema, create(WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: enc("dl-watch") } } })));
  const r = await done;
  // etcd's Watch selects at random between its receive loop's transport error (DeadlineExceeded)
  // and the stream context (Unknown): both occur on 3.4.23. Conclave sends DeadlineExceeded.
  expect(r.message).toBe("context deadline exceeded");
  expect(isEtcd() ? [2, 4] : [4]).toContain(r.status);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(650);
  expect(r.data.length).toBeGreaterThan(5); // the created response came first
});

test("a call that finishes before its deadline is answered normally", async () => {
  const r = await grpc.call("/etcdserverpb.KV/Range", [frameOf(RangeRequestSchema, create(RangeRequestSchema, { key: enc("dl-none") }))], {
    "grpc-timeout": "5S",
  });
  expect(r.status).toBe(0);
});

test("a malformed grpc-timeout resets the stream with PROTOCOL_ERROR, as grpc-go does", async () => {
  for (const bad of ["abc", "10", "123456789S", "5x"]) {
    const req = grpc.open("/etcdserverpb.KV/Range", { "grpc-timeout": bad });
    const closed = new Promise<number>((resolve) => {
      req.on("error", () => {});
      req.on("close", () => resolve(req.rstCode ?? -1));
    });
    req.end(frameOf(RangeRequestSchema, create(RangeRequestSchema, { key: enc("x") })));
    expect(await closed).toBe(1);
  }
});

test("gateway: Grpc-Timeout on a blocked lock answers 504 DeadlineExceeded at the deadline", async () => {
  const { gw } = suite();
  const t0 = Date.now();
  const r = await gw.post("/v3/lock/lock", { name: b64("dl-lock") }, 10_000, { "Grpc-Timeout": "600m" });
  expect(r.status).toBe(504);
  expect(r.json).toEqual({ error: "context deadline exceeded", message: "context deadline exceeded", code: 4 });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
  await pollUntil(async () => ((await keysUnder("dl-lock/")).length === 1 ? true : undefined), 5000, "waiter key removed");
});

test("gateway: a watch stream ends at its Grpc-Timeout with a DeadlineExceeded error line", async () => {
  const s = await suite().gw.stream("/v3/watch", { create_request: { key: b64("dl-watch") } }, { "Grpc-Timeout": "700m" });
  expect((await s.next()).result.created).toBe(true);
  const t0 = Date.now();
  const last = await s.next(5000);
  // As on gRPC, etcd's answer races between the server's status (Unknown, 500) and the
  // gateway's own deadline (DeadlineExceeded, 504); Conclave answers as the gateway's deadline.
  const asDeadline = { grpc_code: 4, http_code: 504, message: "context deadline exceeded", http_status: "Gateway Timeout" };
  const asServer = { grpc_code: 2, http_code: 500, message: "context deadline exceeded", http_status: "Internal Server Error" };
  expect(isEtcd() ? [asDeadline, asServer] : [asDeadline]).toContainEqual(last.error);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
  s.close();
});

test("gateway: a malformed Grpc-Timeout is InvalidArgument; zero means no deadline", async () => {
  const { gw } = suite();
  const bad = await gw.post("/v3/kv/range", { key: b64("x") }, 10_000, { "Grpc-Timeout": "abc" });
  expect(bad.status).toBe(400);
  expect(bad.json).toEqual({ error: "invalid grpc-timeout: abc", message: "invalid grpc-timeout: abc", code: 3 });
  const zero = await gw.post("/v3/kv/range", { key: b64("x") }, 10_000, { "Grpc-Timeout": "0m" });
  expect(zero.status).toBe(200);
});
