// The backpressure the transport reports to streaming producers (ctx.flow, StreamFlow): a
// watch stream whose client stops reading becomes unwritable past the high-water mark and
// calls back once the client has read enough; over gRPC on the engine and over the gateway.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import * as pb from "../../src/gen/rpc_pb.ts";
import { frame, grpcHeaders, grpcMessage, RawH2, T, u32 } from "../helpers/h2-raw.ts";
import { pollUntil } from "../helpers/wait.ts";
import { startHarness, type Harness } from "./helpers.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

/** A large event for every watcher of the fake server. */
function flood(n: number): void {
  for (let i = 0; i < n; i++) h.fake.put(create(pb.PutRequestSchema, { key: new TextEncoder().encode("flow"), value: new Uint8Array(60_000) }), {});
}

test("gRPC on the engine: a client that returns no window makes the stream unwritable; window back, writable again", async () => {
  const c = await RawH2.connect(h.port);
  const watch = grpcMessage(toBinary(pb.WatchRequestSchema, create(pb.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: new TextEncoder().encode("flow") } } })));
  c.send(c.headers(1, grpcHeaders("/etcdserverpb.Watch/Watch"), false), frame(T.DATA, 0, 1, watch));
  await c.until(() => c.frames.some((f) => f.id === 1 && f.type === T.DATA), 5000, "created");
  const flow = h.fake.lastCtx!.flow!;
  expect(flow.writable).toBe(true);
  let called = 0;
  flow.onWritable(() => called++);
  // 60 KB events; the client's 64 KiB window takes one, the rest queue: past 1 MiB, unwritable.
  flood(20);
  expect(flow.writable).toBe(false);
  c.send(frame(T.WINDOW_UPDATE, 0, 0, u32(16 << 20)), frame(T.WINDOW_UPDATE, 0, 1, u32(16 << 20)));
  await pollUntil(() => (called > 0 ? true : undefined), 5000, "onWritable");
  expect(flow.writable).toBe(true);
  c.close();
});

test("the gateway over HTTP/1.1: a client that does not read makes the stream unwritable", async () => {
  const s = connect(h.port, "127.0.0.1");
  s.on("error", () => {});
  const body = JSON.stringify({ create_request: { key: Buffer.from("flow").toString("base64") } });
  s.write(`POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  await pollUntil(() => (h.fake.lastCtx?.flow !== undefined ? true : undefined), 5000, "watch opened");
  const flow = h.fake.lastCtx!.flow!;
  let called = 0;
  flow.onWritable(() => called++);
  s.pause();
  // Base64 in JSON: 80 KB a line; the socket takes a few MB before the response buffers.
  for (let i = 0; i < 200 && flow.writable; i++) {
    flood(5);
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(flow.writable).toBe(false);
  s.resume();
  await pollUntil(() => (called > 0 ? true : undefined), 10_000, "onWritable after reading");
  s.destroy();
});

/** 600 snapshot chunks of 64 KiB for the fake server; `pulled()` says how many the stream took. */
function countedSnapshot(): { total: number; pulled: () => number } {
  const chunks = Array.from({ length: 600 }, () => new Uint8Array(64 * 1024).fill(7));
  let pulled = 0;
  Object.defineProperty(chunks, Symbol.iterator, {
    value: function* () {
      for (let i = 0; i < chunks.length; i++) {
        pulled = i + 1;
        yield chunks[i]!;
      }
    },
  });
  h.fake.snapshotChunks = chunks;
  return { total: chunks.length, pulled: () => pulled };
}

test("a server stream (Snapshot) to a gRPC client that returns no window waits for it, then completes", async () => {
  const snap = countedSnapshot();
  const c = await RawH2.connect(h.port);
  c.send(c.headers(1, grpcHeaders("/etcdserverpb.Maintenance/Snapshot"), false), frame(T.DATA, 1, 1, grpcMessage(new Uint8Array(0))));
  await new Promise((r) => setTimeout(r, 500));
  // The 64 KiB window and the 1 MiB high-water mark hold about 17 chunks; the pump waits.
  expect(snap.pulled()).toBeLessThan(40);
  c.send(frame(T.WINDOW_UPDATE, 0, 0, u32(0x7fffffff - 65535)), frame(T.WINDOW_UPDATE, 0, 1, u32(0x7fffffff - 65535)));
  await c.until(() => c.frames.some((f) => f.id === 1 && f.type === T.HEADERS && f.flags & 1), 20_000, "the snapshot's trailers");
  expect(snap.pulled()).toBe(snap.total);
  const data = c.frames.filter((f) => f.id === 1 && f.type === T.DATA).reduce((n, f) => n + f.payload.length, 0);
  expect(data).toBeGreaterThan(snap.total * 64 * 1024);
  c.close();
});

test("a server stream (Snapshot) through the gateway to a client that does not read waits for it, then completes", async () => {
  const snap = countedSnapshot();
  const s = connect(h.port, "127.0.0.1");
  s.on("error", () => {});
  let got = 0;
  let text = "";
  s.on("data", (d: Buffer) => {
    got += d.length;
    text = (text + d.toString("latin1")).slice(-64);
  });
  s.pause();
  s.write("POST /v3/maintenance/snapshot HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  await new Promise((r) => setTimeout(r, 1000));
  // Socket buffers and the exchange's high-water mark hold a few MiB (~87 KB a line); the
  // other 40-odd MiB wait in the server's generator, not in memory.
  const held = snap.pulled();
  expect(held).toBeLessThan(300);
  s.resume();
  await pollUntil(() => (text.endsWith("0\r\n\r\n") ? true : undefined), 20_000, "the whole snapshot");
  expect(snap.pulled()).toBe(snap.total);
  expect(got).toBeGreaterThan(snap.total * 64 * 1024);
  s.destroy();
});
