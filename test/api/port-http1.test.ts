// The client port's HTTP/1.1 policy on both implementations (the port's own engine, the default,
// and node:http): read-header and idle timeouts, the connection cap's view of idle and busy
// connections, Go's header limit, Upgrade requests that are not a gateway websocket, and a
// websocket that is exempt from the timeouts. Short timeouts on the real clock.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { startClientServer, type ClientServer } from "../../src/api/index.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { FakeServer } from "./fake-server.ts";

const HEADER_MS = 300;
const IDLE_MS = 500;

interface Conn {
  sock: Socket;
  /** Everything received so far (latin1). */
  got(): string;
  /** Resolves with the time the server closed the connection, measured from `since`. */
  closed: Promise<number>;
}

function open(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let got = "";
    const t0 = performance.now();
    sock.on("data", (d) => (got += d.toString("latin1")));
    sock.on("error", () => {});
    const closed = new Promise<number>((r) => sock.once("close", () => r(performance.now() - t0)));
    sock.once("connect", () => resolve({ sock, got: () => got, closed }));
    sock.once("error", reject);
  });
}

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

const isOpen = (c: Conn) => !c.sock.destroyed && c.sock.readyState === "open";

for (const http1 of ["engine", "node"] as const) {
  describe(`HTTP/1.1 on ${http1}`, () => {
    let srv: ClientServer;
    let port = 0;
    beforeAll(async () => {
      srv = await startClientServer({
        server: new FakeServer(),
        listenUrls: [new URL("http://127.0.0.1:0")],
        logger: silentLogger,
        http1,
        limits: { readHeaderTimeoutMs: HEADER_MS, idleTimeoutMs: IDLE_MS, maxConnections: 3 },
      });
      port = Number(srv.addresses[0]!.port);
    });
    afterAll(() => srv.close());

    test("a head not complete within the read-header timeout: closed at it, without an answer", async () => {
      const c = await open(port);
      c.sock.write("GET /version HTTP/1.1\r\nHo");
      const at = await c.closed;
      expect(at).toBeGreaterThanOrEqual(HEADER_MS - 20);
      expect(at).toBeLessThan(HEADER_MS + 1500);
      expect(c.got()).toBe("");
    });

    test("a kept-alive connection is closed after the idle timeout; one serving a watch is not", async () => {
      const idle = await open(port);
      idle.sock.write("GET /version HTTP/1.1\r\nHost: x\r\n\r\n");
      await until("the answer", () => idle.got().includes("etcdserver"));
      const answered = performance.now();
      const watch = await open(port);
      const body = JSON.stringify({ create_request: { key: Buffer.from("k").toString("base64") } });
      watch.sock.write(`POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await until("the watch's created line", () => watch.got().includes('"created":true'));
      await idle.closed;
      const idleFor = performance.now() - answered;
      expect(idleFor).toBeGreaterThanOrEqual(IDLE_MS - 20);
      expect(idleFor).toBeLessThan(IDLE_MS + 1500);
      await Bun.sleep(IDLE_MS + HEADER_MS);
      expect(isOpen(watch)).toBe(true);
      watch.sock.destroy();
    });

    test("at the connection cap the idle connection makes room; the older busy ones do not", async () => {
      await until("earlier connections gone", () => srv.stats().connections === 0);
      const watches: Conn[] = [];
      for (const key of ["a", "b"]) {
        const w = await open(port);
        const body = JSON.stringify({ create_request: { key: Buffer.from(key).toString("base64") } });
        w.sock.write(`POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        await until("created", () => w.got().includes('"created":true'));
        watches.push(w);
      }
      const idle = await open(port);
      idle.sock.write("GET /version HTTP/1.1\r\nHost: x\r\n\r\n");
      await until("the answer", () => idle.got().includes("etcdserver"));
      const evicted = srv.stats().evicted;
      const late = await open(port);
      await idle.closed;
      expect(srv.stats().evicted).toBe(evicted + 1);
      late.sock.write("GET /version HTTP/1.1\r\nHost: x\r\n\r\n");
      await until("the newcomer's answer", () => late.got().includes("etcdserver"));
      expect(watches.every(isOpen)).toBe(true);
      for (const c of [late, ...watches]) c.sock.destroy();
    });

    test("Go's header limit: a 1 MiB head is served, one past 1 MiB + 4 KiB gets 431", async () => {
      const big = await open(port);
      big.sock.write(`GET /version HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(1 << 20)}\r\n\r\n`);
      await until("the answer", () => big.got().includes("etcdserver"), 10_000);
      expect(big.got().split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
      big.sock.destroy();
      const over = await open(port);
      over.sock.write(`GET /version HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat((1 << 20) + 8192)}\r\n\r\n`);
      await over.closed;
      expect(over.got().split("\r\n")[0]).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    });

    test("an Upgrade request other than a gateway websocket is served as a plain request", async () => {
      const c = await open(port);
      c.sock.write("GET /version HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
      await until("the answer", () => c.got().includes("etcdserver"));
      expect(c.got().split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
      c.sock.destroy();
    });

    test("a gateway websocket is taken over and leaves the timeouts", async () => {
      const c = await open(port);
      c.sock.write(
        "GET /v3/watch HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      );
      await until("the handshake", () => c.got().includes("\r\n\r\n"));
      expect(c.got().split("\r\n")[0]).toBe("HTTP/1.1 101 Switching Protocols");
      expect(c.got()).toContain("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
      await Bun.sleep(IDLE_MS + HEADER_MS + 200);
      expect(isOpen(c)).toBe(true);
      c.sock.destroy();
    });
  });
}
