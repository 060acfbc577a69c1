// etcd 3.4's v2 API on the client port (served with --enable-v2): /v2/keys, /v2/members,
// /v2/machines, /v2/stats/*, /v2/auth/*. A hono app behind the client port's router; every
// other /v2/ path answers Go's "404 page not found", paths that are not clean are redirected as
// Go's ServeMux does.
import { Hono } from "hono";
import type { Logger } from "../../server/logger.ts";
import type { EtcdServer } from "../../server/types.ts";
import type { V2Service } from "../../server/v2-service.ts";
import type { HttpRoute } from "../http/router.ts";
import { Access, type Caller } from "./access.ts";
import { AUTH_PREFIX, serveAuth } from "./auth-routes.ts";
import { fixed, goError, messageError, methodNotAllowed, notFound, pathUnescape, uncleanPath } from "./http.ts";
import { answerKeys, KEYS_PREFIX, keysResponse, writeKeysAnswer } from "./keys.ts";
import { type FormBody, MAX_FORM_BYTES, TOO_LARGE } from "./form.ts";
import { readBody, type HttpExchange } from "../http/exchange.ts";
import { exchangeOf } from "../http/fetch-bridge.ts";
import { machines, MEMBERS_PREFIX, serveMembers } from "./members.ts";
import { Security } from "./security.ts";

export interface V2ApiOptions {
  readonly server: EtcdServer;
  readonly svc: V2Service;
  readonly logger: Logger;
  /** Unix ms: turns TTLs into expiry times. */
  readonly clock: () => number;
  /** --client-cert-auth: a client certificate's common name may name a v2 user. */
  readonly clientCertAuth?: boolean;
}

const KEY_METHODS = ["HEAD", "GET", "PUT", "POST", "DELETE"];

function caller(req: Request): Caller {
  return { method: req.method, authorization: req.headers.get("authorization") ?? "", certCommonName: () => exchangeOf(req)?.peerCommonName };
}

/** What the first middleware reads from the URL once: Go's r.URL.Path and r.URL.RawQuery. */
type Env = { Variables: { path: string; query: string } };

/** The v2 security store and access checks, shared by the app and the keys fast path. */
interface Guard {
  readonly sec: Security;
  readonly access: Access;
}

function guard(o: V2ApiOptions): Guard {
  const sec = new Security(o.svc);
  return { sec, access: new Access(sec, o.logger, o.clientCertAuth === true) };
}

/** The hono app that serves /v2/*. */
export function createV2App(o: V2ApiOptions, g: Guard = guard(o)): Hono<Env> {
  const { sec, access } = g;
  const cluster = (): Record<string, string> => ({ "x-etcd-cluster-id": o.svc.clusterId.toString(16) });
  const app = new Hono<Env>();
  const keysDeps = { svc: o.svc, access, logger: o.logger, clock: o.clock };

  // Go's ServeMux: a malformed escape is a bad request; an unclean path is redirected.
  app.use("*", async (c, next) => {
    const raw = c.req.url;
    const start = raw.indexOf("/", raw.indexOf("//") + 2);
    const q = raw.indexOf("?", start);
    const p = pathUnescape(q < 0 ? raw.slice(start) : raw.slice(start, q));
    if (p === undefined) return goError(400, "400 Bad Request");
    const query = q < 0 ? "" : raw.slice(q + 1);
    const clean = uncleanPath(p);
    if (clean !== undefined) {
      // The location is escaped again (a decoded path may hold anything, CR and LF included).
      const loc = encodeURI(clean) + (q < 0 ? "" : `?${query}`);
      return new Response(c.req.method === "GET" ? `<a href="${loc}">Moved Permanently</a>.\n\n` : null, {
        status: 301,
        headers: { location: loc, "content-type": "text/html; charset=utf-8" },
      });
    }
    c.set("path", p);
    c.set("query", query);
    await next();
  });

  const keys = async (req: Request, path: string, query: string): Promise<Response> => {
    if (!KEY_METHODS.includes(req.method)) return methodNotAllowed(KEY_METHODS);
    const body = req.method === "POST" || req.method === "PUT" ? await req.text() : null;
    const a = await answerKeys(keysDeps, req.method, path.slice(KEYS_PREFIX.length), query, req.headers.get("content-type"), body, caller(req), cluster());
    return keysResponse(a, req.signal);
  };
  app.all(KEYS_PREFIX, (c) => keys(c.req.raw, c.get("path"), c.get("query")));
  app.all(`${KEYS_PREFIX}/*`, (c) => keys(c.req.raw, c.get("path"), c.get("query")));

  const members = async (req: Request, path: string): Promise<Response> => {
    if (!["GET", "POST", "DELETE", "PUT"].includes(req.method)) return methodNotAllowed(["GET", "POST", "DELETE", "PUT"]);
    const c = caller(req);
    if (!(await access.writeRoot(c))) return messageError(401, "Insufficient credentials");
    const sub = path.slice(MEMBERS_PREFIX.length).replace(/^\//, "");
    return serveMembers(o.svc, o.server, o.logger, req, sub, cluster());
  };
  app.all(MEMBERS_PREFIX, (c) => members(c.req.raw, c.get("path")));
  app.all(`${MEMBERS_PREFIX}/*`, (c) => members(c.req.raw, c.get("path")));

  app.all("/v2/machines", (c) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return methodNotAllowed(["GET", "HEAD"]);
    return machines(o.svc);
  });

  const stats = (method: string, body: () => string | undefined): Response => {
    if (method !== "GET") return methodNotAllowed(["GET"]);
    const b = body();
    if (b === undefined) return messageError(403, "not current leader");
    return fixed(200, b, { "content-type": "application/json" });
  };
  app.all("/v2/stats/store", (c) => stats(c.req.method, () => o.svc.storeStats()));
  app.all("/v2/stats/self", (c) => stats(c.req.method, () => o.svc.selfStats()));
  app.all("/v2/stats/leader", (c) => stats(c.req.method, () => o.svc.leaderStats()));

  app.all(`${AUTH_PREFIX}/*`, (c) => {
    const req = c.req.raw;
    const sub = c.get("path").slice(AUTH_PREFIX.length);
    return serveAuth({ sec, access, logger: o.logger }, req, sub, caller(req), cluster());
  });

  app.notFound(() => notFound());
  app.onError((err) => {
    o.logger.warn("v2 handler failed", { error: err instanceof Error ? err.message : String(err) });
    return messageError(500, "Internal Server Error");
  });
  return app;
}

/**
 * The client port route that serves /v2/ with the app, and /v2/keys requests straight on the
 * exchange: the hot path of v2 clients skips the Web Request/Response objects and hono's
 * dispatch (measured: ~26 µs of CPU per request). Unclean paths and other methods still go
 * through the app, which answers them as Go's ServeMux does.
 */
export function v2Route(o: V2ApiOptions): HttpRoute {
  const g = guard(o);
  const app = createV2App(o, g);
  const deps = { svc: o.svc, access: g.access, logger: o.logger, clock: o.clock };
  const serve = async (ex: HttpExchange, path: string, query: string): Promise<void> => {
    const ct = typeof ex.headers["content-type"] === "string" ? ex.headers["content-type"] : null;
    let body: FormBody = null;
    if (ex.method === "PUT" || ex.method === "POST") {
      // Only urlencoded bodies are read (Go's ParseForm); a larger one is "http: POST too large".
      const urlencoded = (ct ?? "").split(";")[0]!.trim().toLowerCase() === "application/x-www-form-urlencoded";
      const raw = urlencoded ? await readBody(ex, MAX_FORM_BYTES) : Buffer.alloc(0);
      body = raw === null ? TOO_LARGE : raw.toString("utf8");
    }
    const auth = ex.headers.authorization;
    const c: Caller = { method: ex.method, authorization: typeof auth === "string" ? auth : "", certCommonName: () => ex.peerCommonName };
    const cluster = { "x-etcd-cluster-id": o.svc.clusterId.toString(16) };
    const a = await answerKeys(deps, ex.method, path.slice(KEYS_PREFIX.length), query, ct, body, c, cluster);
    await writeKeysAnswer(a, ex);
  };
  const exchange = (ex: HttpExchange): boolean => {
    const url = ex.url;
    if (!url.startsWith(KEYS_PREFIX) || !KEY_METHODS.includes(ex.method)) return false;
    const q = url.indexOf("?");
    const path = pathUnescape(q < 0 ? url : url.slice(0, q));
    if (path === undefined || uncleanPath(path) !== undefined) return false;
    if (path !== KEYS_PREFIX && !path.startsWith(`${KEYS_PREFIX}/`)) return false;
    serve(ex, path, q < 0 ? "" : url.slice(q + 1)).catch((err: unknown) => {
      o.logger.warn("v2 keys handler failed", { error: err instanceof Error ? err.message : String(err) });
      if (!ex.closed) {
        ex.writeHead(500, { "content-type": "application/json" });
        ex.end('{"message":"Internal Server Error"}');
      }
    });
    return true;
  };
  return { prefix: "/v2/", fetch: (req) => app.fetch(req), exchange };
}
