// The v2 discovery client against a scripted server (a fake HttpClient): the exact requests
// etcd's client makes, the retry schedule, and each failure's etcd text.
import { expect, test } from "bun:test";
import { DiscoveryError, type HttpClient, type HttpRequest, type HttpResponse, joinV2Discovery, NetworkError } from "../../src/bootstrap/index.ts";

type Handler = (r: HttpRequest) => HttpResponse | Error;

function fakeHttp(handler: Handler): { http: HttpClient; log: string[] } {
  const log: string[] = [];
  const http: HttpClient = {
    async request(r) {
      const body = r.body === undefined ? "" : ` ${typeof r.body === "string" ? r.body : "<bytes>"}`;
      log.push(`${r.method} ${r.url.pathname}${r.url.search}${body}`);
      const res = handler(r);
      if (res instanceof Error) throw res;
      return res;
    },
    stream: () => Promise.reject(new Error("not used")),
    close() {},
  };
  return { http, log };
}

const json = (status: number, body: unknown, index?: number): HttpResponse => ({
  status,
  headers: index === undefined ? {} : { "x-etcd-index": String(index) },
  body: new TextEncoder().encode(JSON.stringify(body)),
});
const node = (key: string, value: string, idx: number) => ({ key, value, createdIndex: idx, modifiedIndex: idx });

function quiet() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(`W ${m}`), error: (m: string) => lines.push(`E ${m}`) } };
}

const SELF = 0x8e9e05c52164694dn;
const base = { url: "http://disc.example:8087/tok", memberId: SELF, config: "m1=http://10.0.0.1:2380" };

test("the requests etcd's client makes, in order, ending in the initial cluster", async () => {
  let registered = false;
  let polls = 0;
  const { http, log } = fakeHttp((r) => {
    const p = r.url.pathname;
    if (p === "/tok/_config/size") return json(200, { action: "get", node: node("/tok/_config/size", "2", 1) }, 1);
    if (p === "/tok" && !r.url.search.includes("wait=true")) {
      const nodes = registered ? [node("/tok/8e9e05c52164694d", "m1=http://10.0.0.1:2380", 2)] : [];
      return json(200, { action: "get", node: { key: "/tok", dir: true, nodes, createdIndex: 1, modifiedIndex: 1 } }, registered ? 2 : 1);
    }
    if (r.method === "PUT") {
      registered = true;
      return json(201, { action: "create", node: node("/tok/8e9e05c52164694d", "m1=http://10.0.0.1:2380", 2) }, 2);
    }
    if (p === "/tok/8e9e05c52164694d") return json(200, { action: "create", node: node("/tok/8e9e05c52164694d", "m1=http://10.0.0.1:2380", 2) }, 2);
    // The recursive long poll: once empty (the server's timeout), then the peer.
    if (polls++ === 0) return { status: 200, headers: {}, body: new Uint8Array() };
    return json(200, { action: "create", node: node("/tok/abc", "m2=http://10.0.0.2:2380", 5) }, 3);
  });
  const q = quiet();
  const out = await joinV2Discovery({ ...base, http, sleep: async () => {}, logger: q.logger });
  expect(out).toBe("m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380");
  expect(log).toEqual([
    "GET /tok/_config/size?quorum=false&recursive=false&sorted=false",
    "GET /tok?quorum=false&recursive=false&sorted=false",
    "PUT /tok/8e9e05c52164694d?prevExist=false value=m1%3Dhttp%3A%2F%2F10.0.0.1%3A2380",
    "GET /tok/8e9e05c52164694d?recursive=false&wait=true&waitIndex=2",
    "GET /tok/_config/size?quorum=false&recursive=false&sorted=false",
    "GET /tok?quorum=false&recursive=false&sorted=false",
    "GET /tok?recursive=true&wait=true&waitIndex=3",
    "GET /tok?recursive=true&wait=true&waitIndex=3",
  ]);
  expect(q.lines).toContain("found self 8e9e05c52164694d in the cluster");
  expect(q.lines).toContain("found 1 peer(s), waiting for 1 more");
  expect(q.lines).toContain("found peer abc in the cluster");
});

test("an unreachable service is retried with etcd's 2^n s backoff, one line per attempt", async () => {
  let calls = 0;
  const { http } = fakeHttp(() => (calls++ < 3 ? new NetworkError("connect ECONNREFUSED 127.0.0.1:1") : json(404, { errorCode: 100, message: "Key not found", cause: "/tok", index: 9 })));
  const slept: number[] = [];
  const q = quiet();
  const err = await joinV2Discovery({ ...base, http, sleep: async (ms) => void slept.push(ms), logger: q.logger }).catch((e) => e);
  expect(slept).toEqual([2000, 4000, 8000]);
  expect(q.lines[0]).toBe("W cluster status check: error connecting to http://disc.example:8087, retrying in 2s (error #0: connect ECONNREFUSED 127.0.0.1:1)");
  // etcd's client error text for a 404 on the size key (etcd compares the wrong error type).
  expect(err).toBeInstanceOf(DiscoveryError);
  expect(err.message).toBe("100: Key not found (/tok) [9]");
});

test("5xx answers are retried; a non-JSON answer to the size is a bad endpoint; bad sizes are bad", async () => {
  let n = 0;
  const slept: number[] = [];
  const { http } = fakeHttp(() => (n++ === 0 ? { status: 503, headers: {}, body: new Uint8Array() } : { status: 400, headers: {}, body: new TextEncoder().encode("unable to GET token") }));
  const e1 = await joinV2Discovery({ ...base, http, sleep: async (ms) => void slept.push(ms), logger: quiet().logger }).catch((e) => e);
  expect(slept).toEqual([2000]);
  expect(e1.message).toBe("discovery: bad discovery endpoint");
  for (const size of ["-1", "abc", "1.5"]) {
    const { http: h } = fakeHttp(() => json(200, { action: "get", node: node("/tok/_config/size", size, 1) }, 1));
    const e = await joinV2Discovery({ ...base, http: h, sleep: async () => {}, logger: quiet().logger }).catch((x) => x);
    expect(e.message).toBe("discovery: size key is bad");
  }
});

test("full before registering, a duplicate ID, duplicate names and bad URLs in the registrations", async () => {
  const listing = (nodes: ReturnType<typeof node>[]) => (r: HttpRequest) =>
    r.url.pathname.endsWith("/_config/size")
      ? json(200, { action: "get", node: node("/tok/_config/size", "2", 1) }, 1)
      : r.method === "PUT"
        ? json(412, { errorCode: 105, message: "Key already exists", cause: "/tok/8e9e05c52164694d", index: 4 })
        : json(200, { action: "get", node: { key: "/tok", dir: true, nodes, createdIndex: 1, modifiedIndex: 1 } }, 4);
  const run = async (h: Handler) => joinV2Discovery({ ...base, http: fakeHttp(h).http, sleep: async () => {}, logger: quiet().logger }).catch((e) => e);
  // Two others registered first (ordered by createdIndex, not by listing order): full.
  const full = await run(listing([node("/tok/b", "b=http://10.0.0.3:2380", 3), node("/tok/a", "a=http://10.0.0.2:2380", 2)]));
  expect([full.message, full.kind]).toEqual(["discovery: cluster is full", "full"]);
  const dup = await run(listing([]));
  expect([dup.message, dup.kind]).toEqual(["discovery: found duplicate id", "duplicate-id"]);
  // Registered, then the list holds another member under this member's name, or a bad URL.
  const after = (other: string) => (r: HttpRequest) => {
    if (r.url.pathname.endsWith("/_config/size")) return json(200, { action: "get", node: node("/tok/_config/size", "2", 1) }, 1);
    if (r.method === "PUT" || r.url.search.includes("wait=true")) return json(201, { action: "create", node: node("/tok/8e9e05c52164694d", base.config, 2) }, 2);
    return json(200, { action: "get", node: { key: "/tok", dir: true, nodes: [node("/tok/8e9e05c52164694d", base.config, 2), node("/tok/x", other, 3)], createdIndex: 1, modifiedIndex: 1 } }, 3);
  };
  const sameName = await run(after("m1=http://10.0.0.9:2380"));
  expect([sameName.message, sameName.kind]).toEqual(["discovery: found duplicate name", "duplicate-name"]);
  const badUrl = await run(after("x=ftp://10.0.0.9:2380"));
  expect(badUrl.message).toBe("discovery: invalid URL");
});
