import { test, expect, afterAll } from "bun:test";
import * as net from "node:net";
import * as http2 from "node:http2";
import { serveH2, type H2Stream } from "../../src/api/h2/index.ts";

// A tiny server: /echo answers with the request body; /bidi echoes each chunk as it arrives;
// /big answers with `n` octets of a repeating pattern.
function handle(s: H2Stream): void {
  const path = s.headers.get(":path") ?? "";
  if (path === "/bidi") {
    s.respond([[":status", "200"], ["content-type", "application/octet-stream"]]);
    s.ondata = (c) => s.write(Uint8Array.from(c, (b) => b ^ 0xff));
    s.onend = () => s.end([["x-done", "yes"]]);
    return;
  }
  if (path.startsWith("/big/")) {
    const n = Number(path.slice(5));
    s.onend = () => {
      s.respond([[":status", "200"]]);
      const body = new Uint8Array(n);
      for (let i = 0; i < n; i++) body[i] = i % 251;
      s.write(body);
      s.end();
    };
    return;
  }
  const parts: Uint8Array[] = [];
  s.ondata = (c) => parts.push(c);
  s.onend = () => {
    s.respond([[":status", "200"], ["x-method", s.headers.get(":method") ?? ""], ["x-multi", s.headers.get("x-multi") ?? ""]]);
    s.write(Buffer.concat(parts));
    s.end([["grpc-status", "0"]]);
  };
}

const server = net.createServer((sock) => serveH2(sock, { onStream: handle }));
const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
const client = http2.connect(`http://127.0.0.1:${port}`);
afterAll(() => {
  client.close();
  server.close();
});

function request(path: string, body: Uint8Array | null, extra: Record<string, string | string[]> = {}) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = client.request({ ":method": "POST", ":path": path, ...extra });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => (headers = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ headers, trailers, body: Buffer.concat(chunks) }));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

test("unary-style request: headers, body, trailers", async () => {
  const r = await request("/echo", new TextEncoder().encode("hello h2"), { "x-multi": ["a", "b"] });
  expect(Number(r.headers[":status"])).toBe(200);
  expect(r.headers["x-method"]).toBe("POST");
  expect(r.headers["x-multi"]).toBe("a, b");
  expect(r.body.toString()).toBe("hello h2");
  expect(r.trailers["grpc-status"]).toBe("0");
});

test("many concurrent requests on one connection", async () => {
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => request("/echo", new TextEncoder().encode(`req-${i}`))));
  rs.forEach((r, i) => expect(r.body.toString()).toBe(`req-${i}`));
});

test("large request and response bodies cross flow-control windows", async () => {
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
  const r = await request("/echo", big);
  expect(r.body.length).toBe(big.length);
  expect(Buffer.compare(r.body, Buffer.from(big))).toBe(0);
  const r2 = await request("/big/1000000", null);
  expect(r2.body.length).toBe(1000000);
  expect(r2.body[999999]).toBe(999999 % 251);
});

test("bidirectional stream: each chunk answered before the request ends", async () => {
  const req = client.request({ ":method": "POST", ":path": "/bidi" });
  const got: number[] = [];
  let trailers: http2.IncomingHttpHeaders = {};
  req.on("trailers", (t) => (trailers = t));
  const next = () => new Promise<Buffer>((resolve) => req.once("data", resolve));
  for (const v of [1, 2, 3]) {
    const p = next();
    req.write(Uint8Array.of(v));
    got.push((await p)[0]);
  }
  expect(got).toEqual([0xfe, 0xfd, 0xfc]);
  const ended = new Promise<void>((resolve) => req.on("end", resolve));
  req.resume();
  req.end();
  await ended;
  expect(trailers["x-done"]).toBe("yes");
});
