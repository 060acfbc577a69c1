// The client library against scripted endpoints (test/client/fake-channel.ts): failover and
// clientv3's retry of idempotent calls after "no leader", token refresh for unary calls, watch
// streams and keep-alive streams, and watch resumption after a broken stream.
import { expect, test } from "bun:test";
import { fromBinary } from "@bufbuild/protobuf";
import { Client, ClientError, keepAlive, Watcher, type WatchUpdate } from "../../src/client/index.ts";
import {
  AuthenticateRequestSchema,
  AuthenticateResponseSchema,
  LeaseKeepAliveRequestSchema,
  LeaseKeepAliveResponseSchema,
  PutResponseSchema,
  RangeResponseSchema,
  WatchRequestSchema,
  WatchResponseSchema,
  KV,
} from "../../src/gen/rpc_pb.ts";
import { Event_EventType } from "../../src/gen/kv_pb.ts";
import { Code, Errors } from "../../src/rpctypes/index.ts";
import { answer, FakeEndpoint } from "./fake-channel.ts";

const enc = new TextEncoder();

function cluster(n: number, creds?: { username: string; password: string }): { client: Client; eps: FakeEndpoint[] } {
  const eps: FakeEndpoint[] = [];
  const client = new Client({
    endpoints: Array.from({ length: n }, (_, i) => `127.0.0.1:${2379 + i}`),
    dialTimeoutMs: 500,
    ...creds,
    dial: (ep) => {
      const f = new FakeEndpoint(ep);
      eps.push(f);
      return f;
    },
  });
  return { client, eps };
}

const status = (e: { code: number; message: string }) => new ClientError(e.code, e.message);
const soon = (ms = 5_000) => Date.now() + ms;

/** An Authenticate handler that hands out t1, t2, …; other paths go to `rest`. */
function withAuth(rest: (path: string, req: Uint8Array, token: string | undefined) => Uint8Array): { handler: (p: string, r: Uint8Array, md: Record<string, string>) => Uint8Array; issued: string[] } {
  const issued: string[] = [];
  return {
    issued,
    handler: (path, req, md) => {
      if (path === "/etcdserverpb.Auth/Authenticate") {
        const a = fromBinary(AuthenticateRequestSchema, req);
        if (a.name !== "alice" || a.password !== "pw") throw status(Errors.authFailed);
        const t = `t${issued.length + 1}`;
        issued.push(t);
        return answer(AuthenticateResponseSchema, { token: t });
      }
      return rest(path, req, md.token);
    },
  };
}

test("an idempotent call answered 'no leader' is sent again until it succeeds; a write is not", async () => {
  const { client, eps } = cluster(1);
  let ranges = 0;
  let puts = 0;
  await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: soon(), idempotent: true }).catch(() => {});
  eps[0]!.unaryHandler = (path) => {
    if (path.endsWith("/Range")) {
      if (++ranges <= 2) throw status(Errors.noLeader);
      return answer(RangeResponseSchema, { count: 7n });
    }
    puts++;
    throw status(Errors.noLeader);
  };
  const r = await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: soon(), idempotent: true });
  expect(r.count).toBe(7n);
  expect(ranges).toBe(3);
  const err = await client.call(KV.method.put, { key: enc.encode("k"), value: enc.encode("v") }, { deadline: soon() }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ClientError);
  expect((err as ClientError).text).toBe("etcdserver: no leader");
  expect(puts).toBe(1);
  client.close();
});

test("an idempotent call moves to the next endpoint after 'no leader'; one that keeps failing ends at its deadline", async () => {
  const { client, eps } = cluster(2);
  // Both endpoints are dialled lazily: make the first one the pinned one, then lose its leader.
  eps[0]!.unaryHandler = () => {
    throw status(Errors.noLeader);
  };
  eps[1]!.unaryHandler = () => answer(RangeResponseSchema, { count: 2n });
  const r = await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: soon(), idempotent: true });
  expect(r.count).toBe(2n);
  expect(eps[0]!.calls.length).toBeGreaterThanOrEqual(1);
  eps[1]!.unaryHandler = () => {
    throw status(Errors.noLeader);
  };
  const t0 = Date.now();
  const err = (await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: Date.now() + 300, idempotent: true }).catch((e: unknown) => e)) as ClientError;
  expect(err.kind === "context" ? err.message : err.text).toMatch(/context deadline exceeded|etcdserver: no leader/);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  client.close();
});

test("an endpoint that cannot be dialled is skipped", async () => {
  const { client, eps } = cluster(2);
  await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: soon(100), idempotent: true }).catch(() => {});
  eps[0]!.down = true;
  eps[0]!.connected = false;
  eps[1]!.unaryHandler = () => answer(PutResponseSchema, {});
  await client.call(KV.method.put, { key: enc.encode("k"), value: enc.encode("v") }, { deadline: soon() });
  expect(eps[1]!.calls.map((c) => c.path)).toContain("/etcdserverpb.KV/Put");
  client.close();
});

test("token refresh: 'invalid auth token' and 'revision of auth store is old' fetch a new token and send the call again, once", async () => {
  const { client, eps } = cluster(1, { username: "alice", password: "pw" });
  let stale = new Set<string>();
  const a = withAuth((_p, _r, token) => {
    if (token === undefined || stale.has(token)) throw status(stale.size % 2 === 1 ? Errors.invalidAuthToken : Errors.authOldRevision);
    return answer(RangeResponseSchema, { count: 1n });
  });
  // Endpoints are created in the constructor: give them their handler before the first call.
  for (const e of eps) e.unaryHandler = a.handler;
  await client.open();
  expect(a.issued).toEqual(["t1"]);
  stale = new Set(["t1"]);
  const r1 = await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: soon(), idempotent: true });
  expect(r1.count).toBe(1n);
  expect(a.issued).toEqual(["t1", "t2"]);
  stale = new Set(["t1", "t2"]);
  await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: soon(), idempotent: true });
  expect(a.issued).toEqual(["t1", "t2", "t3"]);
  expect(eps[0]!.calls.filter((c) => c.path.endsWith("/Range")).map((c) => c.md.token)).toEqual(["t1", "t2", "t2", "t3"]);
  // A token refused right after a refresh is reported, not retried forever.
  const always = withAuth(() => {
    throw status(Errors.invalidAuthToken);
  });
  eps[0]!.unaryHandler = always.handler;
  const err = (await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: soon(), idempotent: true }).catch((e: unknown) => e)) as ClientError;
  expect(err.text).toBe("etcdserver: invalid auth token");
  expect(always.issued.length).toBe(1);
  client.close();
});

test("without credentials a token error is the caller's", async () => {
  const { client, eps } = cluster(1);
  eps[0]!.unaryHandler = () => {
    throw status(Errors.userEmpty);
  };
  const err = (await client.call(KV.method.range, { key: enc.encode("k") }, { deadline: soon() }).catch((e: unknown) => e)) as ClientError;
  expect(err.text).toBe("etcdserver: user name is empty");
  expect(eps[0]!.calls.length).toBe(1);
  client.close();
});

test("a watch resumes on a new stream after a broken one, from the revision after the last event, without repeats", async () => {
  const { client, eps } = cluster(1);
  const w = new Watcher(client);
  const got: bigint[] = [];
  w.watch({ key: enc.encode("k") }, (u: WatchUpdate) => got.push(...u.response.events.map((e) => e.kv!.modRevision)));
  const s1 = await eps[0]!.nthStream(1);
  const c1 = await s1.request(WatchRequestSchema, 1);
  expect(c1.requestUnion.case).toBe("createRequest");
  s1.reply(WatchResponseSchema, { header: { revision: 4n }, created: true, watchId: 0n });
  s1.reply(WatchResponseSchema, { header: { revision: 5n }, watchId: 0n, events: [{ type: Event_EventType.PUT, kv: { key: enc.encode("k"), modRevision: 5n } }] });
  await new Promise((r) => setTimeout(r, 20));
  s1.finish(new ClientError(Code.Unavailable, "transport is closing"));
  const s2 = await eps[0]!.nthStream(2);
  const c2 = await s2.request(WatchRequestSchema, 1);
  expect(c2.requestUnion.case === "createRequest" ? c2.requestUnion.value.startRevision : -1n).toBe(6n);
  s2.reply(WatchResponseSchema, { header: { revision: 5n }, created: true, watchId: 0n });
  s2.reply(WatchResponseSchema, { header: { revision: 6n }, watchId: 0n, events: [{ type: Event_EventType.PUT, kv: { key: enc.encode("k"), modRevision: 6n } }] });
  await new Promise((r) => setTimeout(r, 20));
  expect(got).toEqual([5n, 6n]);
  w.close();
  client.close();
});

test("a watch create refused for its token is created again with a new token; one refused for permission ends the watch", async () => {
  const { client, eps } = cluster(1, { username: "alice", password: "pw" });
  const a = withAuth(() => answer(RangeResponseSchema, {}));
  for (const e of eps) e.unaryHandler = a.handler;
  await client.open();
  const w = new Watcher(client);
  const got: bigint[] = [];
  let closed: ClientError | undefined | null = null;
  w.watch({ key: enc.encode("k"), startRevision: 3n }, (u) => got.push(...u.response.events.map((e) => e.kv!.modRevision)), (e) => {
    closed = e;
  });
  const s1 = await eps[0]!.nthStream(1);
  expect(s1.md.token).toBe("t1");
  await s1.request(WatchRequestSchema, 1);
  s1.reply(WatchResponseSchema, { created: true, canceled: true, watchId: -1n, cancelReason: "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token" });
  const s2 = await eps[0]!.nthStream(2);
  expect(s2.md.token).toBe("t2");
  const c2 = await s2.request(WatchRequestSchema, 1);
  expect(c2.requestUnion.case === "createRequest" ? c2.requestUnion.value.startRevision : -1n).toBe(3n);
  s2.reply(WatchResponseSchema, { created: true, watchId: 0n });
  s2.reply(WatchResponseSchema, { watchId: 0n, events: [{ type: Event_EventType.PUT, kv: { key: enc.encode("k"), modRevision: 3n } }] });
  await new Promise((r) => setTimeout(r, 20));
  expect(got).toEqual([3n]);
  expect(closed).toBeNull();
  // A stream ended with "revision of auth store is old" also refreshes and resumes.
  s2.finish(status(Errors.authOldRevision));
  const s3 = await eps[0]!.nthStream(3);
  expect(s3.md.token).toBe("t3");
  const c3 = await s3.request(WatchRequestSchema, 1);
  expect(c3.requestUnion.case === "createRequest" ? c3.requestUnion.value.startRevision : -1n).toBe(4n);
  // Permission denied is not a token problem: the watch ends with it.
  s3.reply(WatchResponseSchema, { created: true, canceled: true, watchId: -1n, cancelReason: "rpc error: code = PermissionDenied desc = etcdserver: permission denied" });
  await new Promise((r) => setTimeout(r, 20));
  expect((closed as ClientError | null)?.message).toBe("rpc error: code = PermissionDenied desc = etcdserver: permission denied");
  expect(a.issued).toEqual(["t1", "t2", "t3"]);
  w.close();
  client.close();
});

test("a keep-alive stream ended by a token error is opened again with a new token and keeps renewing", async () => {
  const { client, eps } = cluster(1, { username: "alice", password: "pw" });
  const a = withAuth(() => answer(RangeResponseSchema, {}));
  for (const e of eps) e.unaryHandler = a.handler;
  await client.open();
  const renewals: bigint[] = [];
  const ka = keepAlive(client, 0x42n, (r) => renewals.push(r.TTL));
  const s1 = await eps[0]!.nthStream(1);
  expect(s1.md.token).toBe("t1");
  expect((await s1.request(LeaseKeepAliveRequestSchema, 1)).ID).toBe(0x42n);
  s1.reply(LeaseKeepAliveResponseSchema, { ID: 0x42n, TTL: 30n });
  await new Promise((r) => setTimeout(r, 20));
  s1.finish(status(Errors.authOldRevision));
  const s2 = await eps[0]!.nthStream(2);
  expect(s2.md.token).toBe("t2");
  expect((await s2.request(LeaseKeepAliveRequestSchema, 1)).ID).toBe(0x42n);
  s2.reply(LeaseKeepAliveResponseSchema, { ID: 0x42n, TTL: 29n });
  await new Promise((r) => setTimeout(r, 20));
  expect(renewals).toEqual([30n, 29n]);
  // The lease is gone: TTL 0 ends the loop.
  s2.reply(LeaseKeepAliveResponseSchema, { ID: 0x42n, TTL: 0n });
  s2.finish(undefined);
  expect(await ka.done).toBeUndefined();
  client.close();
});
