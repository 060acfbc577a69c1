// The client port's HTTP/1.1 engine over real sockets, driven with raw bytes: keep-alive and
// pipelining in order, Content-Length and chunked bodies, 100-continue, HEAD, streamed answers,
// refusals (malformed heads, oversized heads, request smuggling shapes) and client departure.
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as net from "node:net";
import { serveH1 } from "../../src/api/http1/index.ts";
import { readBody, type HttpExchange } from "../../src/api/http/exchange.ts";

let server: net.Server;
let port = 0;
const closedUrls: string[] = [];
const pending = new Map<string, HttpExchange>();

/** Test routes: /echo answers the body; /stream streams; /hold waits; /drop leaves the body unread. */
function handle(ex: HttpExchange): void {
  const url = ex.url;
  ex.onClose(() => closedUrls.push(url));
  if (url.startsWith("/echo")) {
    void readBody(ex, 1 << 20).then((b) => {
      ex.writeHead(200, { "content-type": "text/plain", "x-method": ex.method });
      ex.end(`${ex.method} ${url} ${b === null ? "too large" : b.toString()}`);
    });
    return;
  }
  if (url === "/stream") {
    ex.writeHead(200, { "content-type": "application/json" });
    ex.write(new Uint8Array(0));
    ex.write("one\n");
    setTimeout(() => {
      ex.write("two\n");
      ex.end();
    }, 20);
    return;
  }
  if (url === "/hold") {
    pending.set(url, ex);
    return;
  }
  if (url === "/inject") {
    ex.writeHead(200, { "x-ok": "fine", "x-bad": "a\r\nSet-Cookie: evil=1" });
    ex.end("ok");
    return;
  }
  ex.writeHead(204, {});
  ex.end();
}

beforeAll(async () => {
  server = net.createServer((sock) => serveH1(sock, { onRequest: handle, maxHeadBytes: 1024 }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(() => {
  server.close();
});

/** Sends raw bytes; resolves with everything received until the server closes or `until` holds. */
function exchange(bytes: string | Buffer[], until?: (s: string) => boolean, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => {
      sock.destroy();
      if (until) reject(new Error(`timed out; got:\n${got}`));
      else resolve(got);
    }, ms);
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (until?.(got)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got);
      }
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
    sock.on("error", () => {});
    sock.on("connect", async () => {
      if (typeof bytes === "string") sock.write(bytes);
      else for (const b of bytes) {
        sock.write(b);
        await Bun.sleep(20);
      }
    });
  });
}

const count = (s: string, sub: string) => s.split(sub).length - 1;

test("keep-alive and pipelining: answers in request order, each with its Content-Length", async () => {
  const got = await exchange(
    "POST /echo/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /echo/2 HTTP/1.1\r\nHost: x\r\n\r\nPUT /echo/3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    (s) => count(s, "HTTP/1.1 200 OK") === 3 && s.endsWith("abc"),
  );
  const bodies = got.split("\r\n\r\n").slice(1).map((b) => b.split("HTTP/1.1")[0]);
  expect(bodies).toEqual(["POST /echo/1 hello", "GET /echo/2 ", "PUT /echo/3 abc"]);
  expect(got).toContain("Content-Length: 18\r\n");
  expect(got).toContain("x-method: POST\r\n");
  expect(got).not.toContain("Connection: close");
});

test("chunked request bodies (with extensions and trailers) and Expect: 100-continue", async () => {
  const got = await exchange(
    "PUT /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n",
    (s) => s.includes("wikipedia"),
  );
  expect(got.startsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")).toBe(true);
  expect(got).toContain("PUT /echo/c wikipedia");
});

test("a body split across packets is reassembled", async () => {
  const got = await exchange(
    [Buffer.from("POST /echo/s HTTP/1.1\r\nHo"), Buffer.from("st: x\r\nContent-Length: 6\r\n\r\nab"), Buffer.from("cdef")],
    (s) => s.includes("abcdef"),
  );
  expect(got).toContain("POST /echo/s abcdef");
});

test("a body over the reader's limit reads as too large; the connection goes on", async () => {
  const big = "x".repeat((1 << 20) + 10);
  const got = await exchange(
    `POST /echo/big HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n${big}GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n`,
    (s) => s.includes("GET /echo/after"),
  );
  expect(got).toContain("POST /echo/big too large");
});

test("HEAD: the head with the body's length, no body; 204 without a length", async () => {
  const head = await exchange("HEAD /echo/h HTTP/1.1\r\nHost: x\r\n\r\nGET /none HTTP/1.1\r\nHost: x\r\n\r\n", (s) => s.includes("204 No Content"));
  // "HEAD /echo/h " would be 13 bytes: announced, not sent.
  expect(head).toContain("Content-Length: 13\r\n");
  expect(head).not.toContain("HEAD /echo/h");
  const second = head.split("\r\n\r\n")[1]!;
  expect(second.startsWith("HTTP/1.1 204 No Content\r\n")).toBe(true);
  expect(second).not.toContain("Content-Length");
  expect(second).not.toContain("Transfer-Encoding");
});

test("streamed answers: the head goes out at once, then chunks, then the last chunk", async () => {
  const got = await exchange("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", (s) => s.endsWith("0\r\n\r\n"));
  expect(got).toContain("Transfer-Encoding: chunked\r\n");
  expect(got.split("\r\n\r\n").slice(1).join("\r\n\r\n")).toBe("4\r\none\n\r\n4\r\ntwo\n\r\n0\r\n\r\n");
});

test("HTTP/1.0 closes after the answer unless it asks for keep-alive", async () => {
  const got = await exchange("GET /echo/old HTTP/1.0\r\n\r\n");
  expect(got).toContain("Connection: close\r\n");
  expect(got).toContain("GET /echo/old ");
  const ka = await exchange("GET /echo/ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", (s) => s.includes("GET /echo/ka"));
  expect(ka).toContain("Connection: keep-alive\r\n");
});

test("refused: malformed heads, missing Host, smuggling shapes, oversized heads; the connection closes", async () => {
  const cases: [string, string][] = [
    ["GARBAGE\r\n\r\n", "400"],
    ["GET / HTTP/1.1\r\n\r\n", "400"],
    ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "400"],
    ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"],
    ["GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "400"],
    ["GET / HTTP/1.1\r\nHost : x\r\n\r\n", "400"],
    [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(2000)}\r\n\r\n`, "431"],
    ["POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400"],
  ];
  for (const [req, status] of cases) {
    const got = await exchange(req);
    expect([req.slice(0, 40), got.split("\r\n")[0]]).toEqual([req.slice(0, 40), expect.stringContaining(status) as unknown as string]);
    expect(got).toContain("Connection: close\r\n");
  }
});

test("a response field holding CR/LF is left out, never written into the head", async () => {
  const got = await exchange("GET /inject HTTP/1.1\r\nHost: x\r\n\r\n", (s) => s.endsWith("ok"));
  expect(got).toContain("x-ok: fine\r\n");
  expect(got).not.toContain("evil");
});

test("a client that leaves mid-answer is noticed (onClose)", async () => {
  closedUrls.length = 0;
  await exchange("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", undefined, 200);
  const ex = pending.get("/hold")!;
  await new Promise((r) => setTimeout(r, 50));
  expect(closedUrls).toContain("/hold");
  expect(ex.closed).toBe(true);
});
