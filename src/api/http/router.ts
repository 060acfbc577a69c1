// Everything on the client port that is not gRPC: CORS, the v3 JSON gateway, /health,
// /version, /metrics, /debug/vars, /config/local/log, and pluggable Web handlers (v2 API, dashboard).
import type { Logger } from "../../server/logger.ts";
import type { EtcdServer } from "../../server/types.ts";
import { Gateway } from "../gateway/handler.ts";
import type { Pipeline } from "../pipeline/index.ts";
import { readBody, type HttpExchange } from "./exchange.ts";
import { parseLogLevelBody } from "./log-level.ts";
import { serveFetch, type FetchHandler } from "./fetch-bridge.ts";

export interface HttpRoute {
  /** Path prefix, e.g. "/v2/" or "/ui". */
  readonly prefix: string;
  readonly fetch: FetchHandler;
  /** Serves an exchange directly when it returns true (a hot path); otherwise `fetch` does. */
  readonly exchange?: (ex: HttpExchange) => boolean;
  /** false: no CORS headers on its answers (the dashboard is same-origin only). Default true. */
  readonly cors?: boolean;
}

export interface HttpRouterOptions {
  readonly maxRecvBytes: number;
  readonly logger: Logger;
  /** Allowed CORS origins (etcd --cors); default ["*"]. */
  readonly cors?: readonly string[];
  /** Extra handlers by path prefix; `/v2/*` answers 404 unless one is registered. */
  readonly routes?: readonly HttpRoute[];
  readonly version?: { readonly etcdserver: string; readonly etcdcluster: string };
  readonly secure?: boolean;
}

const TEXT = { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" };
const JSON_HEADERS = { "content-type": "application/json" };
const METRICS_HEADERS = { "content-type": "text/plain; version=0.0.4; charset=utf-8" };

export const DEFAULT_VERSION = { etcdserver: "3.4.23", etcdcluster: "3.4.0" } as const;

function text(ex: HttpExchange, status: number, body: string, extra: Record<string, string> = {}): void {
  ex.writeHead(status, { ...TEXT, ...extra });
  ex.end(body);
}

export class HttpRouter {
  private readonly gateway: Gateway;
  private readonly corsAll: boolean;
  private readonly corsOrigins: ReadonlySet<string>;
  private readonly versionBody: string;

  private readonly server: EtcdServer;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly opts: HttpRouterOptions,
  ) {
    this.server = pipeline.server;
    this.gateway = new Gateway(pipeline, { maxRecvBytes: opts.maxRecvBytes });
    const cors = opts.cors ?? ["*"];
    this.corsAll = cors.includes("*");
    this.corsOrigins = new Set(cors);
    this.versionBody = JSON.stringify(opts.version ?? DEFAULT_VERSION);
  }

  /** True when `path` is a gateway route whose request is a stream of messages (watch, keepalive). */
  isBidiRoute(path: string): boolean {
    return this.gateway.route(path)?.kind === "bidi_streaming";
  }

  /**
   * `commonName`: the CN of the client's verified certificate, when the port requires client
   * certificates (--client-cert-auth).
   */
  handle(ex: HttpExchange, commonName?: string): void {
    // etcd (embed/serve.go): with auth on, a gateway request must not come with a named client
    // certificate, whose CN the gateway would silently not use as the user.
    if (commonName !== undefined && commonName !== "" && (ex.url.startsWith("/v3/") || ex.url.startsWith("/v3beta/")) && this.server.auth.enabled()) {
      return text(ex, 400, "CommonName of client sending a request against gateway will be ignored and not used as expected\n");
    }
    if (this.opts.routes?.some((r) => r.cors === false && ex.url.startsWith(r.prefix)) !== true) this.addCors(ex);
    if (ex.method === "OPTIONS") {
      ex.writeHead(200, {});
      ex.end();
      return;
    }
    const q = ex.url.indexOf("?");
    const path = q < 0 ? ex.url : ex.url.slice(0, q);
    if (path.startsWith("/v3/") || path.startsWith("/v3beta/")) {
      const method = this.gateway.route(path);
      if (method === undefined) return text(ex, 404, "Not Found\n");
      if (ex.method !== "POST") return text(ex, 405, "Method Not Allowed\n");
      this.gateway.handle(ex, method);
      return;
    }
    switch (path) {
      case "/health":
        return void this.health(ex, q < 0 ? "" : ex.url.slice(q + 1));
      case "/version":
        if (ex.method !== "GET") return text(ex, 405, "Method Not Allowed\n", { allow: "GET" });
        ex.writeHead(200, JSON_HEADERS);
        ex.end(this.versionBody);
        return;
      case "/debug/vars":
        if (ex.method !== "GET") return text(ex, 405, "Method Not Allowed\n", { allow: "GET" });
        ex.writeHead(200, { "content-type": "application/json; charset=utf-8" });
        ex.end(this.server.debugVars());
        return;
      case "/config/local/log":
        return void this.logLevel(ex);
      case "/metrics":
        ex.writeHead(200, METRICS_HEADERS);
        ex.end(this.server.metrics() + this.pipeline.metrics());
        return;
    }
    for (const r of this.opts.routes ?? []) {
      if (path.startsWith(r.prefix)) {
        if (r.exchange?.(ex) === true) return;
        serveFetch(ex, r.fetch, this.opts.secure === true).catch((err) => {
          this.opts.logger.warn("http handler failed", { path, error: String(err) });
          if (!ex.closed) text(ex, 500, "Internal Server Error\n");
        });
        return;
      }
    }
    text(ex, 404, "404 page not found\n");
  }

  private addCors(ex: HttpExchange): void {
    let origin: string | undefined;
    if (this.corsAll) origin = "*";
    else {
      const o = ex.headers.origin;
      if (typeof o === "string" && this.corsOrigins.has(o)) origin = o;
    }
    if (origin === undefined) return;
    const cors = {
      "access-control-allow-methods": "POST, GET, OPTIONS, PUT, DELETE",
      "access-control-allow-origin": origin,
      "access-control-allow-headers": "accept, content-type, authorization",
    };
    const writeHead = ex.writeHead;
    ex.writeHead = (status, headers) => writeHead(status, { ...cors, ...headers });
  }

  private async logLevel(ex: HttpExchange): Promise<void> {
    if (ex.method !== "PUT") return text(ex, 405, "Method Not Allowed\n", { allow: "PUT" });
    const body = await readBody(ex, this.opts.maxRecvBytes).catch(() => null);
    const r = parseLogLevelBody(body === null ? "" : body.toString("utf8"));
    if ("status" in r) {
      ex.writeHead(r.status, JSON_HEADERS);
      ex.end(JSON.stringify({ message: r.message }));
      return;
    }
    this.opts.logger.info(`globalLogLevel set to ${JSON.stringify(r.name)}`);
    this.opts.logger.setLevel?.(r.level);
    ex.writeHead(204, {});
    ex.end();
  }

  private async health(ex: HttpExchange, query: string): Promise<void> {
    if (ex.method !== "GET") return text(ex, 405, "Method Not Allowed\n", { allow: "GET" });
    const exclude = new URLSearchParams(query).getAll("exclude");
    let ok = false;
    try {
      ok = (await this.server.health(exclude)).health;
    } catch (err) {
      this.opts.logger.warn("health check failed", { error: String(err) });
    }
    if (ex.closed) return;
    ex.writeHead(ok ? 200 : 503, JSON_HEADERS);
    ex.end(ok ? '{"health":"true"}' : '{"health":"false"}');
  }
}


