import { afterAll, beforeAll, expect, test } from "bun:test";
import * as http from "node:http";
import { Errors } from "../../src/rpctypes/index.ts";
import { RawGrpc, frame, startHarness, type Harness } from "./helpers.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** HTTP/1.1 request with node:http (fetch may pick other protocols). */
function req(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const r = http.request({ host: "127.0.0.1", port: h.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    r.on("error", reject);
    r.end(body);
  });
}
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  req("POST", path, typeof body === "string" ? body : JSON.stringify(body), headers);

test("put then range over the gateway: int64 strings, base64 bytes, proto field names", async () => {
  const p = await post("/v3/kv/put", { key: b64("foo"), value: b64("bar") });
  expect(p.status).toBe(200);
  expect(p.headers["content-type"]).toBe("application/json");
  const rev = String(h.fake.rev);
  expect(JSON.parse(p.text)).toEqual({ header: { cluster_id: "4096", member_id: "8192", revision: rev, raft_term: "2" } });
  const r = await post("/v3/kv/range", { key: b64("foo") });
  expect(JSON.parse(r.text).kvs).toEqual([{ key: "Zm9v", create_revision: rev, mod_revision: rev, version: "1", value: "YmFy" }]);
  expect(JSON.parse(r.text).count).toBe("1");
});

test("/v3beta is the same gateway; /v3alpha and unknown paths are 404", async () => {
  const r = await post("/v3beta/kv/range", { key: b64("foo") });
  expect(r.status).toBe(200);
  expect(JSON.parse(r.text).kvs[0].value).toBe("YmFy");
  const a = await post("/v3alpha/kv/range", { key: b64("foo") });
  expect(a.status).toBe(404);
  expect(a.text).toBe("404 page not found\n");
  const n = await req("GET", "/nope");
  expect(n.status).toBe(404);
  expect(n.text).toBe("404 page not found\n");
  const v2 = await req("GET", "/v2/keys/foo");
  expect(v2.status).toBe(404);
  expect(v2.text).toBe("404 page not found\n");
});

test("enums by name: alarm NOSPACE", async () => {
  const r = await post("/v3/maintenance/alarm", {});
  expect(JSON.parse(r.text)).toEqual({ alarms: [{ memberID: "8192", alarm: "NOSPACE" }] });
});

test("bad JSON and bad base64 are 400 with code 3", async () => {
  const a = await post("/v3/kv/put", "{not json");
  expect(a.status).toBe(400);
  expect(JSON.parse(a.text).code).toBe(3);
  const b = await post("/v3/kv/put", { key: "Zm9v!" });
  expect(b.status).toBe(400);
  expect(JSON.parse(b.text)).toEqual({
    error: "illegal base64 data at input byte 4",
    message: "illegal base64 data at input byte 4",
    code: 3,
  });
});

test("server errors map through the one code → HTTP table", async () => {
  const cases: [typeof Errors.noLeader, number][] = [
    [Errors.noLeader, 503],
    [Errors.leaseNotFound, 404],
    [Errors.compacted, 400],
    [Errors.noSpace, 429],
    [Errors.leaseExist, 412],
  ];
  for (const [err, status] of cases) {
    h.fake.failNext = err;
    const r = await post("/v3/kv/range", { key: b64("foo") });
    expect(r.status).toBe(status);
    expect(JSON.parse(r.text)).toEqual({ error: err.message, message: err.message, code: err.code });
  }
  const empty = await post("/v3/kv/range", {});
  expect(JSON.parse(empty.text).error).toBe("etcdserver: key is not provided");
});

test("Authorization header becomes the request token", async () => {
  await post("/v3/kv/range", { key: b64("foo") }, { authorization: "tok.12" });
  expect(h.fake.lastCtx?.token).toBe("tok.12");
});

test("oversized request body is rejected with the gRPC limit text", async () => {
  const big = "A".repeat((h.fake.maxRequestBytes + 512 * 1024) * 2 + 2048);
  const r = await post("/v3/kv/put", { key: b64("k"), value: big });
  expect(r.status).toBe(429);
  expect(JSON.parse(r.text).error).toMatch(/^grpc: received message larger than max \(\d+ vs\. \d+\)$/);
});

test("CORS headers on every response and OPTIONS preflight", async () => {
  const o = await req("OPTIONS", "/v3/kv/put");
  expect(o.status).toBe(200);
  expect(o.headers["access-control-allow-origin"]).toBe("*");
  expect(o.headers["access-control-allow-methods"]).toBe("POST, GET, OPTIONS, PUT, DELETE");
  expect(o.headers["access-control-allow-headers"]).toBe("accept, content-type, authorization");
  const p = await post("/v3/kv/range", { key: b64("foo") });
  expect(p.headers["access-control-allow-origin"]).toBe("*");
});

test("/health, /version, /metrics", async () => {
  const ok = await req("GET", "/health");
  expect([ok.status, ok.text]).toEqual([200, '{"health":"true"}']);
  h.fake.healthy = false;
  const bad = await req("GET", "/health?exclude=NOSPACE");
  expect([bad.status, bad.text]).toEqual([503, '{"health":"false"}']);
  h.fake.healthy = true;
  const v = await req("GET", "/version");
  expect(JSON.parse(v.text)).toEqual({ etcdserver: "3.4.23", etcdcluster: "3.4.0" });
  const m = await req("GET", "/metrics");
  expect(m.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
  expect(m.text).toContain("etcd_server_has_leader 1");
});

test("watch over HTTP/1 chunked: several requests in one body, one result per line", async () => {
  const lines: unknown[] = [];
  let resolveLines: () => void;
  const enough = new Promise<void>((r) => (resolveLines = r));
  const body = JSON.stringify({ create_request: { key: b64("wa") } }) + "\n" + JSON.stringify({ create_request: { key: b64("wb") } });
  const r = http.request({ host: "127.0.0.1", port: h.port, method: "POST", path: "/v3/watch" }, (res) => {
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    let buf = "";
    res.on("data", (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
        if (lines.length === 2) void post("/v3/kv/put", { key: b64("wb"), value: b64("x") });
        if (lines.length === 3) resolveLines();
      }
    });
  });
  r.end(body);
  await enough;
  r.destroy();
  const [c0, c1, ev] = lines as { result: Record<string, unknown> }[];
  expect(c0!.result.created).toBe(true);
  expect(c1!.result.created).toBe(true);
  expect(c1!.result.watch_id).toBe("1");
  expect(ev!.result.watch_id).toBe("1");
  expect((ev!.result.events as { kv: { key: string } }[])[0]!.kv.key).toBe(b64("wb"));
});

test("HTTP/1.1 and HTTP/2 (gRPC) share one port", async () => {
  const g = new RawGrpc(h.port);
  const r = await g.call("/etcdserverpb.Maintenance/Status", [frame(new Uint8Array(0))]);
  g.close();
  expect(r.status).toBe(0);
  const v = await req("GET", "/version");
  expect(v.status).toBe(200);
});

test("non-gRPC HTTP/2 requests reach the HTTP routes", async () => {
  const g = new RawGrpc(h.port);
  const s = g.session.request({ ":method": "GET", ":path": "/version" });
  const text = await new Promise<string>((resolve) => {
    let t = "";
    s.on("data", (c: Buffer) => (t += c.toString()));
    s.on("end", () => resolve(t));
  });
  g.close();
  expect(JSON.parse(text).etcdserver).toBe("3.4.23");
});

test("Lock and Election over the gateway, observe streamed as result lines", async () => {
  const l = await post("/v3/lock/lock", { name: b64("gl") });
  expect(Buffer.from(JSON.parse(l.text).key, "base64").toString()).toMatch(/^gl\/[0-9a-f]+$/);
  const c = await post("/v3/election/campaign", { name: b64("ge"), value: b64("v1") });
  const leader = JSON.parse(c.text).leader;
  expect(leader.name).toBe(b64("ge"));
  const lines: { result: { kv: { value: string } } }[] = [];
  let resolveTwo: () => void;
  const two = new Promise<void>((r) => (resolveTwo = r));
  const r = http.request({ host: "127.0.0.1", port: h.port, method: "POST", path: "/v3/election/observe" }, (res) => {
    let buf = "";
    res.on("data", (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
        if (lines.length === 1) void post("/v3/election/proclaim", { leader, value: b64("v2") });
        if (lines.length === 2) resolveTwo();
      }
    });
  });
  r.end(JSON.stringify({ name: b64("ge") }));
  await two;
  r.destroy();
  expect(lines.map((x) => Buffer.from(x.result.kv.value, "base64").toString())).toEqual(["v1", "v2"]);
  const bad = await post("/v3/election/proclaim", { value: b64("x") });
  expect(bad.status).toBe(500);
  expect(JSON.parse(bad.text)).toEqual({ error: '"leader" field must be provided', message: '"leader" field must be provided', code: 2 });
});

test("a gateway watch whose client disconnects closes the server's watch stream", async () => {
  const before = h.fake.watchers.size;
  const created = new Promise<http.ClientRequest>((resolve) => {
    const r = http.request({ host: "127.0.0.1", port: h.port, method: "POST", path: "/v3/watch" }, (res) => {
      res.once("data", () => resolve(r));
    });
    r.end(JSON.stringify({ create_request: { key: b64("gone") } }));
  });
  const r = await created;
  expect(h.fake.watchers.size).toBe(before + 1);
  r.destroy();
  while (h.fake.watchers.size !== before) await new Promise((res) => setTimeout(res, 2));
  expect(h.fake.watchers.size).toBe(before);
});
