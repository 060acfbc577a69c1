// Watchers that never read, over gRPC (HTTP/2) and the JSON gateway (HTTP/1.1), during a
// burst of large puts. The watch hub reads each stream's backpressure (ctx.flow): it stops
// sending to a stream over its high-water mark and catches it up from history once it drains,
// so a non-reading watcher never pushes its connection over the output bound, is kept open
// (as etcd keeps it: grpc-go blocks the stream at its flow-control window), and holds little
// of the member's memory; a watcher that reads gets every event meanwhile, and the gateway
// watcher that reads again at last gets every event it missed, in order. Before the hub read
// the backpressure, each such watcher grew the member by the whole burst until the output
// bound closed its connection (test/h2/defences.test.ts covers that bound). Conclave only:
// the bound is its own.
import { describe, expect, test } from "bun:test";
import * as http2 from "node:http2";
import { connect, type Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema, WatchRequestSchema } from "../../src/gen/rpc_pb.ts";
import { RssSampler, rssMiB } from "../helpers/attack.ts";
import { grpcFrame } from "../helpers/grpc.ts";
import { frame, grpcHeaders, grpcMessage, RawH2, T } from "../helpers/h2-raw.ts";
import { b64, isEtcd, Member, pollUntil, prefixEnd } from "../helpers/index.ts";

/** Puts `n` keys under `prefix` with `size`-octet values, one after another over one connection. */
async function burst(target: string, prefix: string, n: number, size: number): Promise<void> {
  const session = http2.connect(target);
  session.on("error", () => {});
  const value = new Uint8Array(size).fill(0x61);
  try {
    for (let i = 0; i < n; i++) {
      const body = grpcFrame(toBinary(PutRequestSchema, create(PutRequestSchema, { key: new TextEncoder().encode(`${prefix}${i}`), value })));
      await new Promise<void>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": "/etcdserverpb.KV/Put", "content-type": "application/grpc", te: "trailers" });
        req.on("data", () => {});
        req.on("error", reject);
        req.on("close", () => resolve());
        req.end(body);
      });
    }
  } finally {
    session.close();
  }
}

/**
 * Reads a gateway watch answer from a raw HTTP/1.1 socket (chunked JSON lines) until `n` events
 * arrived; returns their mod revisions in the order received.
 */
async function readGatewayEvents(sock: Socket, n: number, ms: number): Promise<number[]> {
  let raw = Buffer.alloc(0);
  const revs = (): number[] => {
    const at = raw.indexOf("\r\n\r\n");
    if (at < 0) return [];
    // De-chunk: <hex size>\r\n<data>\r\n ...
    let body = "";
    for (let i = at + 4; ; ) {
      const eol = raw.indexOf("\r\n", i);
      if (eol < 0) break;
      const size = parseInt(raw.subarray(i, eol).toString("latin1"), 16);
      if (!(size > 0) || eol + 2 + size > raw.length) break;
      body += raw.subarray(eol + 2, eol + 2 + size).toString("utf8");
      i = eol + 2 + size + 2;
    }
    return [...body.matchAll(/"mod_revision":"(\d+)"/g)].map((x) => Number(x[1]));
  };
  sock.on("data", (d: Buffer) => (raw = Buffer.concat([raw, d])));
  sock.resume();
  return pollUntil(() => (revs().length >= n ? revs() : undefined), ms, `${n} events on the gateway watcher`, 100);
}

describe.if(!isEtcd())("slow consumers", () => {
  test("watchers that never read are held back, not queued and not closed; a reading watcher gets every event, a stuck one catches up", async () => {
    const m = await Member.start();
    const sockets: Socket[] = [];
    try {
      const prefix = "slow/";
      const createWatch = grpcMessage(toBinary(WatchRequestSchema, create(WatchRequestSchema, {
        requestUnion: { case: "createRequest", value: { key: new TextEncoder().encode(prefix), rangeEnd: Buffer.from(prefixEnd(prefix), "base64") } },
      })));
      // gRPC watcher: created, then it stops reading (and never returns flow-control window).
      const g = await RawH2.connect(m.clientPort);
      g.send(g.headers(1, grpcHeaders("/etcdserverpb.Watch/Watch"), false), frame(T.DATA, 0, 1, createWatch));
      await g.until(() => g.frames.some((f) => f.id === 1 && f.type === T.DATA), 5000, "gRPC watch created");
      g.socket.pause();
      // Gateway watcher on HTTP/1.1: the request is sent, nothing is ever read.
      const h = connect(m.clientPort, "127.0.0.1");
      sockets.push(h);
      const body = JSON.stringify({ create_request: { key: b64(prefix), range_end: prefixEnd(prefix) } });
      h.write(`POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      let hClosed = false;
      h.once("close", () => (hClosed = true));
      h.on("error", () => {});
      // A watcher that reads, through the gateway.
      const { Gateway } = await import("../helpers/gateway.ts");
      const reader = await new Gateway(m.clientURL).stream("/v3/watch", { create_request: { key: b64(prefix), range_end: prefixEnd(prefix) } });
      expect((await reader.next()).result.created).toBe(true);

      const pid = m.process.pid!;
      const before = rssMiB(pid);
      const rss = new RssSampler(pid);
      // 600 puts of 64 KiB: about 40 MiB of events for each watcher.
      const n = 600;
      const burstDone = burst(m.clientURL, prefix, n, 64 * 1024);
      let events = 0;
      while (events < n) {
        const msg = await reader.next(20_000);
        events += msg.result.events?.length ?? 0;
      }
      await burstDone;
      expect(events).toBe(n);
      // A stream over its output bound (16 MiB) would be closed 10 s later: past that, neither
      // non-reading watcher was closed, and the member never said it closed one.
      await new Promise((r) => setTimeout(r, 10_500));
      expect(g.closedFlag).toBe(false);
      expect(hClosed).toBe(false);
      expect(m.logTail(200)).not.toMatch(/output buffer over/);
      const peak = rss.stop();
      // Two watchers of 40 MiB each were not queued in memory (before, the two queues held
      // ~95 MiB here until their connections were closed).
      const report = JSON.stringify({ before, peak });
      expect(peak - before, report).toBeLessThan(200);
      // The gateway watcher reads at last: every event once, in revision order.
      const revs = await readGatewayEvents(h, n, 20_000);
      expect(revs.length).toBe(n);
      for (let i = 1; i < revs.length; i++) expect(revs[i]!).toBeGreaterThan(revs[i - 1]!);
      reader.close();
    } finally {
      for (const s of sockets) s.destroy();
      await m.cleanup();
    }
  }, 60_000);
});
