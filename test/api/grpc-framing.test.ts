import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as pb from "../../src/gen/rpc_pb.ts";
import { Errors } from "../../src/rpctypes/index.ts";
import { collect, decodeAll, frame, frameOf, FrameQueue, RawGrpc, startHarness, type Harness } from "./helpers.ts";

// Every framing case runs on both HTTP/2 implementations the client port can use.
for (const mode of ["engine", "node"] as const) describe(`gRPC over ${mode}`, () => {
  let h: Harness;
  let c: RawGrpc;
  beforeAll(async () => {
    h = await startHarness(undefined, mode);
    c = new RawGrpc(h.port);
  });
  afterAll(async () => {
    c.close();
    await h.close();
  });

  const te = new TextEncoder();
  const put = (k: string, v: string) => frameOf(pb.PutRequestSchema, create(pb.PutRequestSchema, { key: te.encode(k), value: te.encode(v) }));

  test("unary put answers 200, application/grpc, one message and grpc-status 0 trailers", async () => {
    const r = await c.call("/etcdserverpb.KV/Put", [put("a", "1")]);
    expect(Number(r.headers[":status"])).toBe(200);
    expect(r.headers["content-type"]).toBe("application/grpc");
    expect(r.trailers["grpc-status"]).toBe("0");
    const [resp] = decodeAll(pb.PutResponseSchema, r.data);
    expect(resp!.header!.revision).toBe(BigInt(h.fake.rev));
    expect(h.fake.kvs.size).toBe(1);
  });

  test("a message split across many DATA frames is reassembled", async () => {
    const f = put("split-key", "x".repeat(3000));
    const chunks: Buffer[] = [];
    for (let i = 0; i < f.length; i += 7) chunks.push(f.subarray(i, i + 7));
    const r = await c.call("/etcdserverpb.KV/Put", chunks);
    expect(r.status).toBe(0);
    const got = await c.call("/etcdserverpb.KV/Range", [frameOf(pb.RangeRequestSchema, create(pb.RangeRequestSchema, { key: te.encode("split-key") }))]);
    const [rr] = decodeAll(pb.RangeResponseSchema, got.data);
    expect(new TextDecoder().decode(rr!.kvs[0]!.value)).toBe("x".repeat(3000));
  });

  test("several messages in one write all reach a bidi stream, in order", async () => {
    const req = c.open("/etcdserverpb.Watch/Watch");
    const q = new FrameQueue(pb.WatchResponseSchema, req);
    const mk = (k: string) => frameOf(pb.WatchRequestSchema, create(pb.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: te.encode(k) } } }));
    req.write(Buffer.concat([mk("w1"), mk("w2"), mk("w3")]));
    const ids = [(await q.next()).watchId, (await q.next()).watchId, (await q.next()).watchId];
    expect(ids).toEqual([0n, 1n, 2n]);
    await c.call("/etcdserverpb.KV/Put", [put("w2", "v")]);
    const ev = await q.next();
    expect(ev.watchId).toBe(1n);
    expect(new TextDecoder().decode(ev.events[0]!.kv!.key)).toBe("w2");
    req.close();
  });

  test("compressed flag without a decompressor is Unimplemented, trailers-only", async () => {
    const r = await c.call("/etcdserverpb.KV/Put", [frame(new Uint8Array([0x0a, 0x01, 0x61]), 1)], { "grpc-encoding": "gzip" });
    expect(r.status).toBe(12);
    expect(r.message).toBe('grpc: Decompressor is not installed for grpc-encoding "gzip"');
    expect(r.headers["grpc-status"]).toBe("12");
    expect(r.data.length).toBe(0);
  });

  test("a message over max-request-bytes + 512 KiB is ResourceExhausted before it is buffered", async () => {
    const max = h.fake.maxRequestBytes + 512 * 1024;
    const header = Buffer.alloc(5);
    header.writeUInt32BE(max + 1, 1);
    const r = await c.call("/etcdserverpb.KV/Put", [header, Buffer.alloc(1024)]);
    expect(r.status).toBe(8);
    expect(r.message).toBe(`grpc: received message larger than max (${max + 1} vs. ${max})`);
  });

  test("malformed protobuf is an error status, never a crash", async () => {
    const r = await c.call("/etcdserverpb.KV/Put", [frame(new Uint8Array([0x0a, 0x05, 0x01]))]);
    expect(r.status).toBe(13);
    expect(r.message.startsWith("grpc: error unmarshalling request: ")).toBe(true);
    const ok = await c.call("/etcdserverpb.KV/Put", [put("after", "1")]);
    expect(ok.status).toBe(0);
  });

  test("an answer that cannot be encoded ends its own call with Internal; the port keeps serving", async () => {
    const fake = h.fake as unknown as { put: (...a: unknown[]) => Promise<unknown> };
    const orig = fake.put;
    fake.put = async () => undefined;
    try {
      const r = await c.call("/etcdserverpb.KV/Put", [put("bad-answer", "1")]);
      expect(r.status).toBe(13);
      expect(r.message).toContain("marshal");
    } finally {
      fake.put = orig;
    }
    const ok = await c.call("/etcdserverpb.KV/Put", [put("after-bad-answer", "1")]);
    expect(ok.status).toBe(0);
  });

  test("unknown service and unknown method get grpc-go's Unimplemented texts", async () => {
    const a = await c.call("/etcdserverpb.Nope/Range", [put("a", "1")]);
    expect(a.status).toBe(12);
    expect(a.message).toBe("unknown service etcdserverpb.Nope");
    const b = await c.call("/etcdserverpb.KV/Nope", [put("a", "1")]);
    expect(b.status).toBe(12);
    expect(b.message).toBe("unknown method Nope for service etcdserverpb.KV");
  });

  test("server errors keep etcd's code and text, trailers-only", async () => {
    h.fake.failNext = Errors.leaseNotFound;
    const r = await c.call("/etcdserverpb.KV/Put", [put("a", "1")]);
    expect(r.status).toBe(5);
    expect(r.message).toBe("etcdserver: requested lease not found");
    expect(r.data.length).toBe(0);
    h.fake.failNext = Errors.compacted;
    const raw = await c.call("/etcdserverpb.KV/Range", [put("a", "1")]);
    expect(raw.status).toBe(11);
    expect(raw.message).toBe("etcdserver: mvcc: required revision has been compacted");
  });

  test("metadata: token and hasleader reach the request context", async () => {
    await c.call("/etcdserverpb.KV/Put", [put("m", "1")], { token: "abc.7", hasleader: "true" });
    expect(h.fake.lastCtx?.token).toBe("abc.7");
    expect(h.fake.lastCtx?.requireLeader).toBe(true);
    await c.call("/etcdserverpb.KV/Put", [put("m", "2")]);
    expect(h.fake.lastCtx?.token).toBeUndefined();
  });

  test("lease keepalive answers each request in order and ends OK on half-close", async () => {
    const g = await c.call("/etcdserverpb.Lease/LeaseGrant", [frameOf(pb.LeaseGrantRequestSchema, create(pb.LeaseGrantRequestSchema, { TTL: 30n }))]);
    const id = decodeAll(pb.LeaseGrantResponseSchema, g.data)[0]!.ID;
    const ka = (ID: bigint) => frameOf(pb.LeaseKeepAliveRequestSchema, create(pb.LeaseKeepAliveRequestSchema, { ID }));
    const r = await c.call("/etcdserverpb.Lease/LeaseKeepAlive", [Buffer.concat([ka(id), ka(999n)]), ka(id)]);
    expect(r.status).toBe(0);
    const msgs = decodeAll(pb.LeaseKeepAliveResponseSchema, r.data);
    expect(msgs.map((m) => [m.ID, m.TTL])).toEqual([[id, 30n], [999n, 0n], [id, 30n]]);
  });

  test("snapshot streams every chunk then OK", async () => {
    h.fake.snapshotChunks = [new Uint8Array([1, 2]), new Uint8Array([3])];
    const r = await c.call("/etcdserverpb.Maintenance/Snapshot", [frame(new Uint8Array(0))]);
    expect(r.status).toBe(0);
    const msgs = decodeAll(pb.SnapshotResponseSchema, r.data);
    expect(msgs.map((m) => [...m.blob])).toEqual([[1, 2], [3]]);
    expect(msgs.map((m) => m.remainingBytes)).toEqual([1n, 0n]);
  });

  test("Auth: Authenticate says auth is not enabled; other auth RPCs are Unimplemented", async () => {
    const a = await c.call("/etcdserverpb.Auth/Authenticate", [frame(new Uint8Array(0))]);
    expect(a.status).toBe(9);
    expect(a.message).toBe("etcdserver: authentication is not enabled");
    const b = await c.call("/etcdserverpb.Auth/UserList", [frame(new Uint8Array(0))]);
    expect(b.status).toBe(12);
  });

  test("grpc health check reports SERVING", async () => {
    const r = await c.call("/grpc.health.v1.Health/Check", [frame(new Uint8Array(0))]);
    expect(r.status).toBe(0);
    expect([...r.data]).toEqual([0, 0, 0, 0, 2, 0x08, 0x01]);
  });

  test("a client reset of a watch closes the server's watch stream", async () => {
    const before = h.fake.watchers.size;
    const req = c.open("/etcdserverpb.Watch/Watch");
    const q = new FrameQueue(pb.WatchResponseSchema, req);
    req.write(frameOf(pb.WatchRequestSchema, create(pb.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: te.encode("z") } } })));
    await q.next();
    expect(h.fake.watchers.size).toBe(before + 1);
    const closed = collect(req).catch(() => undefined);
    req.close(http2Cancel);
    await closed;
    // The server sees the RST_STREAM on its next turn; a round trip on the session orders it.
    await c.call("/etcdserverpb.KV/Range", [put("z", "")]);
    expect(h.fake.watchers.size).toBe(before);
  });

  test("a server-side close of a watch stream ends it with that error in the trailers", async () => {
    const req = c.open("/etcdserverpb.Watch/Watch");
    const q = new FrameQueue(pb.WatchResponseSchema, req);
    const done = collect(req);
    req.write(frameOf(pb.WatchRequestSchema, create(pb.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: te.encode("nl") } } })));
    await q.next();
    for (const close of [...h.fake.watchClosers]) close(Errors.noLeader);
    const r = await done;
    expect(Number(r.headers[":status"])).toBe(200);
    expect(r.trailers["grpc-status"]).toBe("14");
    expect(r.message).toBe("etcdserver: no leader");
  });

  test("pings are answered and a few never cause a GOAWAY", async () => {
    let goaway = false;
    c.session.on("goaway", () => (goaway = true));
    // grpc-go (and so etcd) strikes pings closer than --grpc-keepalive-min-time and closes on
    // the third strike; Go clients (etcdctl) ping at most every 10 s. Three are always fine.
    for (let i = 0; i < 3; i++) {
      const ok = await new Promise<boolean>((resolve) => c.session.ping((err) => resolve(err === null)));
      expect(ok).toBe(true);
    }
    const r = await c.call("/etcdserverpb.KV/Put", [put("after-ping", "1")]);
    expect(r.status).toBe(0);
    expect(goaway).toBe(false);
  });

  const http2Cancel = 8;
});

describe("FrameReader reassembly cost", () => {
  test("a 2 MB message sent one octet per chunk is copied once, not once per chunk", async () => {
    const { FrameReader } = await import("../../src/api/grpc/framing.ts");
    const size = 2 * 1024 * 1024;
    const r = new FrameReader(size + 10, undefined);
    const msg = Buffer.alloc(5 + size, 7);
    msg[0] = 0;
    msg.writeUInt32BE(size, 1);
    const out: Uint8Array[] = [];
    const t0 = performance.now();
    // Most of the message, then its last 20k octets one per chunk: copying the pending
    // 2 MB for every chunk made this ~40 GB of copying (7-9 s stalls on a member).
    const head = msg.length - 20_000;
    r.push(msg.subarray(0, head), out);
    for (let i = head; i < msg.length; i++) {
      expect(out.length).toBe(0);
      r.push(msg.subarray(i, i + 1), out);
    }
    const ms = performance.now() - t0;
    expect(out.length).toBe(1);
    expect(out[0]!.length).toBe(size);
    expect(Buffer.from(out[0]!).equals(msg.subarray(5))).toBe(true);
    expect(r.partial).toBe(false);
    // Linear work is a few milliseconds; the copy-per-chunk version took seconds.
    expect(ms).toBeLessThan(500);
  });

  test("split at every offset of two messages gives the same two messages", async () => {
    const { FrameReader } = await import("../../src/api/grpc/framing.ts");
    const a = frame(Buffer.from("hello"));
    const b = frame(Buffer.from("world!"));
    const wire = Buffer.concat([a, b]);
    for (let i = 0; i <= wire.length; i++) {
      for (let j = i; j <= wire.length; j++) {
        const r = new FrameReader(100, undefined);
        const out: Uint8Array[] = [];
        r.push(wire.subarray(0, i), out);
        r.push(wire.subarray(i, j), out);
        r.push(wire.subarray(j), out);
        expect(out.map((m) => Buffer.from(m).toString())).toEqual(["hello", "world!"]);
        expect(r.partial).toBe(false);
      }
    }
  });
});
