// Clients that hold connections without using them: silent ones, ones that send headers an
// octet at a time (slowloris), HTTP/2 prefaces without SETTINGS, and more connections than
// the member has descriptors for. Against the compiled member; a normal client on its own
// connection is served throughout. Conclave only: etcd 3.4 sets no read-header timeout and
// no connection cap (these are its own defences).
import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { CLIENT_PREFACE } from "../../src/api/h2/index.ts";
import { LatencyProbe, RssSampler, rssMiB } from "../helpers/attack.ts";
import { F, frame, grpcHeaders, grpcMessage, RawH2, T } from "../helpers/h2-raw.ts";
import { isEtcd, Member, pollUntil } from "../helpers/index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a socket; resolves once connected with the time it was opened and a promise of its close. */
function open(port: number, first?: Buffer | string): Promise<{ s: Socket; at: number; closedAt: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => {
      if (first !== undefined) s.write(first);
      resolve({ s, at: performance.now(), closedAt });
    });
    const closedAt = new Promise<number>((r) => s.once("close", () => r(performance.now())));
    // Read (and drop) what the server sends, so its close is seen.
    s.resume();
    s.on("error", () => {});
    s.once("error", reject);
  });
}

describe.if(!isEtcd())("connection defences of the compiled member", () => {
  test("silent, slow-header and SETTINGS-less clients are closed at the 10 s read-header timeout", async () => {
    const m = await Member.start();
    const probe = new LatencyProbe(m.clientPort);
    try {
      const pid = m.process.pid!;
      const before = rssMiB(pid);
      const rss = new RssSampler(pid);
      probe.phase("during");
      const silent = await Promise.all(Array.from({ length: 100 }, () => open(m.clientPort)));
      const slow = await Promise.all(Array.from({ length: 100 }, () => open(m.clientPort, "GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: ")));
      const h2 = await Promise.all(Array.from({ length: 50 }, () => open(m.clientPort, Buffer.from(CLIENT_PREFACE))));
      // Slowloris: one more octet every second, never the end of the headers.
      const drip = setInterval(() => {
        for (const c of slow) if (!c.s.destroyed) c.s.write("a");
      }, 1000);
      const all = [...silent, ...slow, ...h2];
      const closed = await Promise.all(all.map(async (c) => (await c.closedAt) - c.at));
      clearInterval(drip);
      const during = probe.stats("during");
      const peak = rss.stop();
      const report = JSON.stringify({ min: Math.min(...closed), max: Math.max(...closed), during, before, peak });
      // Closed by the timeout: not before it, and not long after.
      expect(Math.min(...closed), report).toBeGreaterThan(9_000);
      expect(Math.max(...closed), report).toBeLessThan(13_000);
      expect(during.failures, report).toBe(0);
      expect(during.p99, report).toBeLessThan(300);
      expect(peak - before, report).toBeLessThan(64);
      // The member still answers on fresh connections.
      expect((await (await fetch(`${m.clientURL}/version`)).json()).etcdserver).toBe("3.4.23");
    } finally {
      await probe.stop();
      await m.cleanup();
    }
  }, 40_000);

  test("at the connection cap, idle newcomers are evicted oldest first; when every connection is busy a newcomer is refused", async () => {
    // 400 descriptors: the member keeps 256 for itself, so 144 client connections.
    const m = await Member.start({ fdLimit: 400 });
    const opened: Socket[] = [];
    const busy: RawH2[] = [];
    try {
      const idle: Array<Awaited<ReturnType<typeof open>>> = [];
      for (let i = 0; i < 200; i++) idle.push(await open(m.clientPort));
      opened.push(...idle.map((c) => c.s));
      // The oldest 56 made room for the later ones.
      await pollUntil(() => (idle.filter((c) => c.s.destroyed).length >= 56 ? true : undefined), 5000, "56 idle connections evicted");
      expect(idle.slice(0, 56).every((c) => c.s.destroyed)).toBe(true);
      expect(idle.slice(-88).every((c) => !c.s.destroyed)).toBe(true);
      // A normal client still gets in (it evicts an idle one).
      expect((await (await fetch(`${m.clientURL}/version`)).json()).etcdserver).toBe("3.4.23");
      // Now fill every place with a connection that has a watch stream open (in use).
      for (const s of opened) s.destroy();
      const watch = grpcMessage(Buffer.from([0x0a, 0x03, 0x0a, 0x01, 0x61]));
      for (let i = 0; i < 144; i++) {
        const c = await RawH2.connect(m.clientPort);
        c.send(c.headers(1, grpcHeaders("/etcdserverpb.Watch/Watch"), false), frame(T.DATA, 0, 1, watch));
        busy.push(c);
      }
      await pollUntil(() => (busy.every((c) => c.frames.some((f) => f.id === 1 && f.type === T.DATA)) ? true : undefined), 10_000, "every watch created");
      const late = await open(m.clientPort);
      expect(await Promise.race([late.closedAt.then(() => "closed"), sleep(3000).then(() => "open")])).toBe("closed");
      expect(busy.every((c) => !c.closedFlag)).toBe(true);
      expect(m.logTail(200)).toContain("refused a client connection: too many open connections");
      // One watcher leaves: its place is free again.
      busy.pop()!.close();
      await sleep(200);
      const again = await RawH2.connect(m.clientPort);
      again.send(again.headers(1, grpcHeaders("/etcdserverpb.Watch/Watch"), false), frame(T.DATA, F.END_STREAM & 0, 1, watch));
      await again.until(() => again.frames.some((f) => f.id === 1 && f.type === T.DATA), 5000, "the newcomer's watch created");
      busy.push(again);
    } finally {
      for (const c of busy) c.close();
      for (const s of opened) s.destroy();
      await m.cleanup();
    }
  }, 60_000);

  test("a 64 MiB streamed gateway request is refused once a value passes twice the limit; it is never buffered", async () => {
    const m = await Member.start();
    try {
      const pid = m.process.pid!;
      const before = rssMiB(pid);
      const rss = new RssSampler(pid);
      const s = connect(m.clientPort, "127.0.0.1");
      s.on("error", () => {});
      let answer = "";
      s.on("data", (d) => (answer += d.toString("latin1")));
      const total = 64 * 1024 * 1024;
      s.write(`POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n{"create_request":{"key":"`);
      const chunk = Buffer.alloc(1 << 20, 0x41);
      for (let sent = 0; sent < total - (1 << 20) && !s.destroyed; sent += chunk.length) {
        if (!s.write(chunk)) await Promise.race([new Promise((r) => s.once("drain", r)), sleep(2000)]);
      }
      await pollUntil(() => (answer.includes("received message larger than max") ? true : undefined), 10_000, "the refusal");
      s.destroy();
      const peak = rss.stop();
      expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 429 Too Many Requests");
      expect(peak - before, JSON.stringify({ before, peak })).toBeLessThan(64);
    } finally {
      await m.cleanup();
    }
  }, 60_000);
});
