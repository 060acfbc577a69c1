// The discovery service's HTTP surface (hono): /new, the token URLs speaking the v2
// discovery protocol exactly as etcd members use it, /health, /metrics, /robots.txt and a
// page for browsers. Every input goes through valibot; bodies are bounded.
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { parseUrlsMap, type V2Event, type V2Node } from "../src/bootstrap/index.ts";
import { V2Code, V2Error } from "../src/rpctypes/index.ts";
import { homePage, tokenPage } from "./html.ts";
import type { Metrics } from "./metrics.ts";
import type { RateLimiter } from "./rate-limit.ts";
import type { StoredNode, StoreEvent, TokenStore } from "./store.ts";

export interface AppOptions {
  readonly store: TokenStore;
  /** --host: the base of token URLs; "" = the scheme and Host of each /new request. */
  readonly host: string;
  readonly maxSize: number;
  readonly limiter: RateLimiter;
  readonly metrics: Metrics;
  readonly longPollMs: number;
  readonly clock: () => number;
  /** 16 random bytes. */
  readonly randomBytes: () => Uint8Array;
  /** Registrations kept per token beyond its size (late registrants are recorded, then refused). */
  readonly extraNodes: number;
  readonly maxBodyBytes: number;
  /** Long polls open at once; more get 503 (members retry with backoff). */
  readonly maxWaiters: number;
  readonly log: (line: string) => void;
}

export type Env = { Bindings: { remoteAddress: string } };

const TOKEN = /^[a-f0-9]{32}$/;
/** Machine names: etcd registers its member ID in hex; allow a little more, never "_…". */
const MACHINE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_VALUE_BYTES = 4096;

const SizeSchema = v.pipe(
  v.string(),
  v.regex(/^[+-]?\d+$/, "size must be an integer"),
  v.transform(Number),
);
const BoolParam = v.optional(v.picklist(["true", "false"]), "false");
const WaitIndexSchema = v.optional(v.pipe(v.string(), v.regex(/^\d{1,15}$/), v.transform(Number)));

/** A v2 node of the token's namespace: key "/<token>[/<name>]". */
function v2Node(token: string, n: StoredNode): V2Node {
  return { key: `/${token}/${n.name}`, value: n.value, modifiedIndex: n.modifiedIndex, createdIndex: n.createdIndex };
}

function v2Event(token: string, e: StoreEvent): V2Event {
  const key = e.name === "" ? `/${token}` : `/${token}/${e.name}`;
  const node: V2Node = {
    key,
    ...(e.action !== "delete" && e.node ? { value: e.node.value } : {}),
    ...(e.dir ? { dir: true as const } : {}),
    modifiedIndex: e.node?.modifiedIndex ?? e.index,
    createdIndex: e.node?.createdIndex ?? e.index,
  };
  const prev = e.prevNode
    ? {
        key,
        ...(e.dir ? { dir: true as const } : { value: e.prevNode.value }),
        modifiedIndex: e.prevNode.modifiedIndex,
        createdIndex: e.prevNode.createdIndex,
      }
    : undefined;
  return { action: e.action, node, ...(prev ? { prevNode: prev } : {}) };
}

/** etcd's Go form parsing: the body's urlencoded values first, then the query's. */
async function formValue(c: Context<Env>, name: string): Promise<string | undefined> {
  const type = c.req.header("content-type") ?? "";
  if (c.req.method !== "GET" && c.req.method !== "HEAD" && type.startsWith("application/x-www-form-urlencoded")) {
    const body = new URLSearchParams(await c.req.text());
    const fromBody = body.get(name);
    if (fromBody !== null) return fromBody;
  }
  return c.req.query(name);
}

export function createApp(o: AppOptions): Hono<Env> {
  const app = new Hono<Env>();
  let waiters = 0;
  const m = o.metrics;
  m.counter("endpoint_new_requests_total", "Requests to /new by status code and method.");
  m.counter("endpoint_token_requests_total", "Requests to token URLs by status code and method.");
  m.counter("endpoint_health_requests_total", "Requests to /health by status code and method.");
  m.counter("discovery_tokens_created_total", "Tokens created.");
  m.counter("discovery_registrations_total", "Members registered (create or set).");
  m.counter("discovery_new_rate_limited_total", "Requests to /new refused by the per-address rate limit.");
  m.gauge("discovery_long_polls", "Long polls (wait=true) open now.", () => waiters);
  m.gauge("discovery_tokens", "Tokens stored (expired ones included until collected).", () => o.store.tokenCount());

  // Access log (Common Log Format), with tokens shortened: they are the only secret here.
  app.use("*", async (c, next) => {
    const started = o.clock();
    await next();
    const path = new URL(c.req.url).pathname.replace(/\/([a-f0-9]{8})[a-f0-9]{24}/, "/$1…");
    const when = new Date(started).toISOString();
    o.log(`${c.env.remoteAddress} - - [${when}] "${c.req.method} ${path}" ${c.res.status} ${c.res.headers.get("content-length") ?? "-"}`);
    const labels = { code: String(c.res.status), method: c.req.method };
    const pathname = new URL(c.req.url).pathname;
    if (pathname === "/new") m.inc("endpoint_new_requests_total", labels);
    else if (pathname === "/health") m.inc("endpoint_health_requests_total", labels);
    else if (/^\/[a-f0-9]{32}(\/|$)/.test(pathname)) m.inc("endpoint_token_requests_total", labels);
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: o.maxBodyBytes,
      onError: (c) => c.text(`request body larger than ${o.maxBodyBytes} bytes\n`, 413),
    }),
  );

  const v2Error = (c: Context<Env>, code: V2Code, cause: string, index: number) => {
    const e = new V2Error(code, cause, index);
    c.header("X-Etcd-Index", String(index));
    return c.json(e.toJSON(), e.status as 400);
  };
  const ok = (c: Context<Env>, body: V2Event, index: number, status: 200 | 201 = 200) => {
    c.header("X-Etcd-Index", String(index));
    return c.json(body, status);
  };

  app.all("/new", async (c) => {
    {
      const wait = o.limiter.take(c.env.remoteAddress, o.clock());
      if (wait > 0) {
        m.inc("discovery_new_rate_limited_total");
        c.header("Retry-After", String(wait));
        return c.text(`too many new tokens from ${c.env.remoteAddress}: retry in ${wait}s\n`, 429);
      }
      const raw = (await formValue(c, "size")) ?? "3";
      const parsed = v.safeParse(SizeSchema, raw);
      if (!parsed.success) return c.text(`size must be an integer from 1 to ${o.maxSize} (got ${JSON.stringify(raw.slice(0, 32))})\n`, 400);
      const size = parsed.output;
      if (!Number.isSafeInteger(size) || size < 1 || size > o.maxSize) {
        return c.text(`size must be an integer from 1 to ${o.maxSize} (got ${JSON.stringify(raw.slice(0, 32))})\n`, 400);
      }
      const token = Buffer.from(o.randomBytes()).toString("hex");
      if (!(await o.store.createToken(token, size, o.clock()))) return c.text("unable to generate token\n", 500);
      m.inc("discovery_tokens_created_total");
      const base = o.host !== "" ? o.host : new URL(c.req.url).origin;
      return c.text(`${base}/${token}`, 200);
    }
  });

  app.get("/health", async (c) => {
    try {
      await o.store.index();
      return c.text("OK", 200);
    } catch (e) {
      return c.text(`health failed: ${(e as Error).message}\n`, 503);
    }
  });
  app.get("/robots.txt", (c) => c.text("User-agent: *\nDisallow: /"));
  app.get("/metrics", async (c) => c.text(await m.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));
  app.get("/", (c) => c.html(homePage(o.host !== "" ? o.host : new URL(c.req.url).origin)));

  /** GET of the directory, a machine or the size node; with wait=true a long poll. */
  async function get(c: Context<Env>, token: string, name: string) {
    const q = {
      wait: c.req.query("wait") ?? "false",
      recursive: c.req.query("recursive") ?? "false",
      sorted: c.req.query("sorted") ?? "false",
      waitIndex: c.req.query("waitIndex"),
    };
    const params = v.safeParse(v.object({ wait: BoolParam, recursive: BoolParam, sorted: BoolParam, waitIndex: WaitIndexSchema }), q);
    const index = await o.store.index();
    if (!params.success) {
      const field = params.issues[0]?.path?.[0]?.key;
      if (field === "waitIndex") return v2Error(c, V2Code.IndexNaN, `invalid value for "waitIndex"`, index);
      return v2Error(c, V2Code.InvalidField, `invalid value for ${String(field)}`, index);
    }
    const p = params.output;
    const key = name === "" ? `/${token}` : `/${token}/${name}`;
    if (p.wait === "true") {
      if (waiters >= o.maxWaiters) return c.text("too many long polls open; retry later\n", 503);
      waiters++;
      try {
        const r = await o.store.wait(
          { token, name, recursive: p.recursive === "true", fromIndex: p.waitIndex, signal: c.req.raw.signal, timeoutMs: o.longPollMs },
          o.clock(),
        );
        if (r.kind === "no-token") return v2Error(c, V2Code.KeyNotFound, `/${token}`, r.index);
        if (r.kind === "cleared") {
          return v2Error(c, V2Code.EventIndexCleared, `the requested history has been cleared [${r.oldest}/${p.waitIndex}]`, r.index);
        }
        // Nothing happened in time: an empty 200, on which etcd's client polls again.
        if (r.kind === "timeout") return c.body(null, 200);
        return ok(c, v2Event(token, r.event), r.startIndex);
      } finally {
        waiters--;
      }
    }
    const t = await o.store.getToken(token, o.clock());
    if (t === undefined) return v2Error(c, V2Code.KeyNotFound, `/${token}`, index);
    if (name === "" && (c.req.header("accept") ?? "").includes("text/html")) {
      return c.html(tokenPage(t, `${o.host !== "" ? o.host : new URL(c.req.url).origin}/${token}`));
    }
    if (name === "") {
      const listed = [...t.nodes];
      if (p.sorted === "true") listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const dir: V2Node = { key, dir: true, modifiedIndex: t.sizeNode.createdIndex, createdIndex: t.sizeNode.createdIndex };
      if (listed.length > 0) dir.nodes = listed.map((n) => v2Node(token, n));
      return ok(c, { action: "get", node: dir }, t.index);
    }
    if (name === "_config") {
      const dir: V2Node = { key, dir: true, nodes: [v2Node(token, t.sizeNode)], modifiedIndex: t.sizeNode.createdIndex, createdIndex: t.sizeNode.createdIndex };
      return ok(c, { action: "get", node: dir }, t.index);
    }
    if (name === "_config/size") return ok(c, { action: "get", node: v2Node(token, t.sizeNode) }, t.index);
    const n = t.nodes.find((x) => x.name === name);
    if (n === undefined) return v2Error(c, V2Code.KeyNotFound, key, t.index);
    return ok(c, { action: "get", node: v2Node(token, n) }, t.index);
  }

  async function put(c: Context<Env>, token: string, name: string) {
    const index = await o.store.index();
    const key = `/${token}/${name}`;
    const prevExist = (await formValue(c, "prevExist")) ?? "";
    for (const unsupported of ["ttl", "dir", "prevValue", "prevIndex", "refresh"]) {
      if ((await formValue(c, unsupported)) !== undefined) return v2Error(c, V2Code.InvalidField, `${unsupported} is not supported by the discovery service`, index);
    }
    if (prevExist !== "" && prevExist !== "true" && prevExist !== "false") return v2Error(c, V2Code.InvalidField, "invalid value for prevExist", index);
    const value = (await formValue(c, "value")) ?? "";
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) return v2Error(c, V2Code.InvalidField, `value larger than ${MAX_VALUE_BYTES} bytes`, index);
    try {
      parseUrlsMap(value);
    } catch (e) {
      return v2Error(c, V2Code.InvalidField, `value must be name=peerURL[,name=peerURL]: ${(e as Error).message}`, index);
    }
    if (value === "" || !value.includes("=")) return v2Error(c, V2Code.InvalidField, "value must be name=peerURL[,name=peerURL]", index);
    const t = await o.store.getToken(token, o.clock());
    const maxNodes = (t?.size ?? 0) + o.extraNodes;
    const mode = prevExist === "false" ? "create" : prevExist === "true" ? "update" : "set";
    const r = await o.store.putMachine(token, name, value, mode, o.clock(), maxNodes);
    if (!r.ok) {
      if (r.reason === "no-token") return v2Error(c, V2Code.KeyNotFound, `/${token}`, r.index);
      if (r.reason === "exists") return v2Error(c, V2Code.NodeExist, key, r.index);
      if (r.reason === "missing") return v2Error(c, V2Code.KeyNotFound, key, r.index);
      c.header("X-Etcd-Index", String(r.index));
      return c.json({ errorCode: 103, message: "Reached the max number of peers in the cluster", cause: key, index: r.index }, 400);
    }
    m.inc("discovery_registrations_total");
    const created = r.event.prevNode === undefined;
    return ok(c, v2Event(token, r.event), r.event.index, created ? 201 : 200);
  }

  async function del(c: Context<Env>, token: string, name: string) {
    if (name === "") {
      const recursive = (await formValue(c, "recursive")) === "true" || (await formValue(c, "dir")) === "true";
      const t = await o.store.getToken(token, o.clock());
      const index = await o.store.index();
      if (t === undefined) return v2Error(c, V2Code.KeyNotFound, `/${token}`, index);
      if (!recursive) return v2Error(c, V2Code.NotFile, `/${token}`, index);
      if ((await formValue(c, "recursive")) !== "true" && t.nodes.length > 0) return v2Error(c, V2Code.DirNotEmpty, `/${token}`, index);
      const r = await o.store.deleteToken(token, o.clock());
      if (!r.ok) return v2Error(c, V2Code.KeyNotFound, `/${token}`, r.index);
      return ok(c, v2Event(token, r.event), r.event.index);
    }
    const r = await o.store.deleteMachine(token, name, o.clock());
    if (!r.ok) return v2Error(c, V2Code.KeyNotFound, `/${token}/${name}`, r.index);
    return ok(c, v2Event(token, r.event), r.event.index);
  }

  /** Token routes: any other path or method is 404 / 405, as the mux of the original service. */
  app.all("*", async (c) => {
    const path = new URL(c.req.url).pathname;
    const parts = path.split("/").slice(1);
    if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
    const token = parts[0] ?? "";
    if (!TOKEN.test(token) || parts.length > 3) return c.text("404 page not found\n", 404);
    const rest = parts.slice(1).join("/");
    const isConfig = rest === "_config" || rest === "_config/size";
    if (rest !== "" && !isConfig && (parts.length !== 2 || !MACHINE.test(rest))) return c.text("404 page not found\n", 404);
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return get(c, token, rest);
    if (isConfig) return c.text("Method Not Allowed\n", 405);
    if (method === "PUT" && rest !== "") return put(c, token, rest);
    if (method === "DELETE") return del(c, token, rest);
    if (method === "PUT") return v2Error(c, V2Code.NotFile, `/${token}`, await o.store.index());
    return c.text("Method Not Allowed\n", 405);
  });

  app.onError((e, c) => {
    o.log(`discovery: ${c.req.method} request failed: ${e.message}`);
    // The store did not answer: 5xx makes etcd's client back off and retry.
    return c.text("discovery store unavailable; retry later\n", 503);
  });
  return app;
}
