// Watchers that never read, over gRPC (HTTP/2) and the JSON gateway (HTTP/1.1), during a
// burst of large puts: the member holds at most its output bound for them and then closes
// their connections (before, each such watcher grew the member by the whole burst, never
// freed), while a watcher that reads gets every event. Conclave only: the bound and the
// deadline are its own (etcd's grpc-go blocks the stream at its flow-control window and keeps
// the connection).
import { describe, expect, test } from "bun:test";
import * as http2 from "node:http2";
import { connect, type Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema, WatchRequestSchema } from "../../src/gen/rpc_pb.ts";
import { RssSampler, rssMiB } from "../helpers/attack.ts";
import { grpcFrame } from "../helpers/grpc.ts";
import { frame, grpcHeaders, grpcMessage, RawH2, T } from "../helpers/h2-raw.ts";
import { b64, isEtcd, Member, pollUntil, prefixEnd, withTimeout } from "../helpers/index.ts";

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

describe.if(!isEtcd())("slow consumers", () => {
  test("watchers that never read are held to the output bound and closed; a reading watcher gets every event", async () => {
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
      const hClosed = new Promise<void>((r) => h.once("close", () => r()));
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
      // Both non-reading watchers are closed: over the 16 MiB bound for 10 s. The member's log
      // says so; then the clients, reading at last, find their connections closed.
      await pollUntil(() => (/output buffer over 16777216 bytes/.test(m.logTail(100)) ? true : undefined), 15_000, "a slow watcher closed");
      await new Promise((r) => setTimeout(r, 1500));
      g.socket.resume();
      h.resume();
      await withTimeout(Promise.all([g.closed, hClosed]), 3000, "both slow watchers closed");
      const peak = rss.stop();
      // Once they are gone, what was queued for them is freed: the member settles near where it
      // started plus what the burst stored (before, the two queues, ~95 MiB here, stayed).
      const settled = await pollUntil(() => {
        const r = rssMiB(pid);
        return r - before < 100 ? r : undefined;
      }, 10_000, "memory freed after the slow watchers were closed", 250).catch(() => rssMiB(pid));
      const report = JSON.stringify({ before, peak, settled });
      expect(settled - before, report).toBeLessThan(100);
      // While they were held, each held at most its hard cap (64 MiB); the burst was 40 MiB each.
      expect(peak - before, report).toBeLessThan(300);
      expect(m.logTail(100)).toMatch(/closed a client connection.*output buffer over 16777216 bytes for 10000 ms \(client not reading\)/);
      reader.close();
    } finally {
      for (const s of sockets) s.destroy();
      await m.cleanup();
    }
  }, 60_000);
});
