// gRPC keepalive as etcd configures grpc-go: clients pinging more often than
// --grpc-keepalive-min-time are told GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") on the third
// strike; the server pings a client that has been silent for --grpc-keepalive-interval and
// drops it when --grpc-keepalive-timeout passes without an answer; etcdctl, which pings an idle
// connection every 10 s at most, is never dropped. Holds for etcd 3.4.23 too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { WatchRequestSchema } from "../../src/gen/rpc_pb.ts";
import { F, frame, grpcHeaders, grpcMessage, RawH2, T } from "../helpers/h2-raw.ts";
import { Ctl, LineProcess, Member, withTimeout } from "../helpers/index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const watchAll = grpcMessage(toBinary(WatchRequestSchema, create(WatchRequestSchema, {
  requestUnion: { case: "createRequest", value: { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) } },
})));

/** A client with a watch stream open (pings are judged against the min time then). */
async function watching(port: number): Promise<RawH2> {
  const c = await RawH2.connect(port);
  c.send(c.headers(1, grpcHeaders("/etcdserverpb.Watch/Watch"), false), frame(T.DATA, 0, 1, watchAll));
  await c.until(() => c.frames.some((f) => f.id === 1 && f.type === T.DATA), 5000, "watch created");
  return c;
}

const ping = (i: number) => frame(T.PING, 0, 0, Buffer.alloc(8, i));

// etcdctl's watch with default server settings: started first, checked last (it must live
// through at least two of its 10 s idle pings).
let defaults: Member;
let etcdctlWatch: LineProcess;
beforeAll(async () => {
  defaults = await Member.start();
  etcdctlWatch = new Ctl(defaults.endpoint).spawn("watch", "ka-key");
  await sleep(500);
});
afterAll(async () => {
  await etcdctlWatch?.kill();
  await defaults?.cleanup();
});

test("pings closer than --grpc-keepalive-min-time: the third strike is GOAWAY(ENHANCE_YOUR_CALM, too_many_pings)", async () => {
  const m = await Member.start({ extraArgs: ["--grpc-keepalive-min-time", "1s"] });
  try {
    // Pings 1.2 s apart with a stream open are within policy.
    const calm = await watching(m.clientPort);
    for (let i = 0; i < 4; i++) {
      calm.send(ping(i));
      await sleep(1200);
    }
    expect(calm.goaway).toBeUndefined();
    expect(calm.frames.filter((f) => f.type === T.PING && f.flags & F.ACK).length).toBe(4);
    calm.close();
    // Pings 300 ms apart: struck at the second, third... the third strike closes.
    const eager = await watching(m.clientPort);
    for (let i = 0; i < 4 && eager.goaway === undefined; i++) {
      eager.send(ping(i));
      await sleep(300);
    }
    await eager.until(() => eager.goaway !== undefined, 3000, "GOAWAY");
    expect(eager.goaway).toEqual({ code: 0xb, debug: "too_many_pings" });
    await withTimeout(eager.closed, 5000, "connection closed");
  } finally {
    await m.cleanup();
  }
}, 30_000);

test("a client that does not answer the server's ping is dropped after interval + timeout; one that answers stays", async () => {
  const m = await Member.start({ extraArgs: ["--grpc-keepalive-interval", "1s", "--grpc-keepalive-timeout", "1s"] });
  try {
    const silent = await RawH2.connect(m.clientPort);
    const answering = await RawH2.connect(m.clientPort);
    const t0 = performance.now();
    // The answering client acks every ping it receives.
    let acked = 0;
    const timer = setInterval(() => {
      for (const f of answering.frames.filter((x) => x.type === T.PING && (x.flags & F.ACK) === 0).slice(acked)) {
        answering.send(frame(T.PING, F.ACK, 0, f.payload));
        acked++;
      }
    }, 50);
    await silent.until(() => silent.frames.some((f) => f.type === T.PING && (f.flags & F.ACK) === 0), 3000, "server ping");
    await withTimeout(silent.closed, 5000, "silent client dropped");
    const dropped = performance.now() - t0;
    expect(dropped).toBeGreaterThan(1500);
    expect(dropped).toBeLessThan(4500);
    await sleep(1500);
    clearInterval(timer);
    expect(acked).toBeGreaterThanOrEqual(2);
    expect(answering.closedFlag).toBe(false);
    answering.close();
  } finally {
    await m.cleanup();
  }
}, 30_000);

test("etcdctl's watch lives through its idle keepalive pings and still gets events", async () => {
  await sleep(Math.max(0, 22_000 - (performance.now() - started)));
  expect(etcdctlWatch.hasExited).toBe(false);
  await new Ctl(defaults.endpoint).ok("put", "ka-key", "still-here");
  await etcdctlWatch.lineMatching(/^still-here$/, 5000, "stdout");
}, 40_000);

const started = performance.now();
