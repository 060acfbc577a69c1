// HTTP requests of the bootstrap layer (discovery services, the v3 gateway of a discovery
// cluster) over node:http / node:https: runtime-neutral, with TLS client options and an
// optional HTTP proxy (--discovery-proxy), as Go's transport gives etcd.
//
// Errors are split the way etcd's clients split them: a NetworkError (nothing answered:
// refused, reset, DNS, TLS) is worth retrying elsewhere or later; a TimeoutError is the
// request's own deadline.
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

export interface ClientTlsOptions {
  readonly ca?: Uint8Array;
  readonly cert?: Uint8Array;
  readonly key?: Uint8Array;
  /** Checked against the server certificate instead of the URL's host. */
  readonly serverName?: string;
  readonly insecureSkipVerify?: boolean;
}

export interface HttpRequest {
  readonly method: "GET" | "PUT" | "POST" | "DELETE";
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /** Deadline of the whole exchange; undefined = none (long polls). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Uint8Array;
}

/** A response whose body is read as it arrives (the v3 watch stream). */
export interface HttpStream {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly chunks: AsyncIterable<Uint8Array>;
  close(): void;
}

export interface HttpClient {
  request(r: HttpRequest): Promise<HttpResponse>;
  stream(r: HttpRequest): Promise<HttpStream>;
  close(): void;
}

export class NetworkError extends Error {
  override readonly name = "NetworkError";
}

export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  constructor() {
    super("context deadline exceeded");
  }
}

/** Answers larger than this are not from a discovery service. */
const MAX_RESPONSE = 8 * 1024 * 1024;

export interface HttpClientOptions {
  readonly tls?: ClientTlsOptions;
  /** http://host:port of an HTTP proxy for every request. */
  readonly proxy?: URL;
  /** Bound on connecting (the TCP and TLS handshakes). */
  readonly dialTimeoutMs?: number;
}

function flatHeaders(msg: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(msg.headers)) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function networkError(e: unknown): NetworkError {
  const err = e as { code?: string; message?: string };
  return new NetworkError(err.message ?? String(e));
}

export function createHttpClient(o: HttpClientOptions = {}): HttpClient {
  const tls = o.tls;
  const tlsOptions: ConnectionOptions = {
    ...(tls?.ca ? { ca: Buffer.from(tls.ca) } : {}),
    ...(tls?.cert ? { cert: Buffer.from(tls.cert) } : {}),
    ...(tls?.key ? { key: Buffer.from(tls.key) } : {}),
    ...(tls?.serverName ? { servername: tls.serverName } : {}),
    rejectUnauthorized: tls?.insecureSkipVerify !== true,
  };
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64, ...tlsOptions });
  // Streams (watches) hold their connection for as long as they run: their own agents, no
  // cap, so that many open watches never queue ordinary requests behind them.
  const streamHttpAgent = new HttpAgent({ keepAlive: false });
  const streamHttpsAgent = new HttpsAgent({ keepAlive: false, ...tlsOptions });
  const open = new Set<{ destroy(): void }>();

  /** Through a proxy, https goes in a CONNECT tunnel; http as an absolute-URI request. */
  function tunnel(target: URL, timeoutMs: number | undefined): Promise<import("node:tls").TLSSocket> {
    const proxy = o.proxy!;
    return new Promise((resolve, reject) => {
      const port = target.port || "443";
      const req = httpRequest({
        host: proxy.hostname,
        port: proxy.port || 80,
        method: "CONNECT",
        path: `${target.hostname}:${port}`,
        headers: { host: `${target.hostname}:${port}` },
        timeout: timeoutMs,
      });
      req.once("connect", (res, socket) => {
        if (res.statusCode !== 200) {
          socket.destroy();
          reject(new NetworkError(`proxy refused CONNECT to ${target.host}: ${res.statusCode}`));
          return;
        }
        const s = tlsConnect({ ...tlsOptions, socket, servername: tls?.serverName ?? target.hostname });
        s.once("secureConnect", () => resolve(s));
        s.once("error", (e: Error) => reject(networkError(e)));
      });
      req.once("timeout", () => req.destroy(new TimeoutError()));
      req.once("error", (e) => reject(e instanceof TimeoutError ? e : networkError(e)));
      req.end();
    });
  }

  async function begin(r: HttpRequest, streaming = false): Promise<IncomingMessage> {
    const secure = r.url.protocol === "https:";
    const body = r.body === undefined ? undefined : typeof r.body === "string" ? Buffer.from(r.body) : Buffer.from(r.body);
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (body !== undefined) headers["content-length"] = String(body.length);
    let opts: RequestOptions;
    let useHttps = secure;
    if (o.proxy !== undefined && !secure) {
      // Absolute-URI form to the proxy (RFC 7230 §5.3.2).
      opts = { host: o.proxy.hostname, port: o.proxy.port || 80, path: r.url.href, headers: { ...headers, host: r.url.host }, agent: false };
      useHttps = false;
    } else if (o.proxy !== undefined && secure) {
      const socket = await tunnel(r.url, o.dialTimeoutMs ?? r.timeoutMs);
      opts = { createConnection: () => socket, path: `${r.url.pathname}${r.url.search}`, headers: { ...headers, host: r.url.host }, agent: false };
      useHttps = false;
    } else {
      opts = { agent: streaming ? (secure ? streamHttpsAgent : streamHttpAgent) : secure ? httpsAgent : httpAgent, headers };
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        reject(e);
      };
      const target = o.proxy !== undefined ? undefined : r.url;
      const req = target !== undefined
        ? (useHttps ? httpsRequest : httpRequest)(target, { ...opts, method: r.method })
        : httpRequest({ ...opts, method: r.method });
      open.add(req);
      req.once("close", () => open.delete(req));
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (r.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          req.destroy();
          fail(new TimeoutError());
        }, r.timeoutMs);
      }
      if (o.dialTimeoutMs !== undefined) {
        req.once("socket", (s) => {
          if (!s.connecting) return;
          const dial = setTimeout(() => {
            req.destroy();
            fail(new NetworkError(`dial tcp ${r.url.host}: i/o timeout`));
          }, o.dialTimeoutMs);
          s.once("connect", () => clearTimeout(dial));
          s.once("close", () => clearTimeout(dial));
        });
      }
      const onAbort = () => {
        req.destroy();
        fail(new NetworkError("request canceled"));
      };
      r.signal?.addEventListener("abort", onAbort, { once: true });
      req.once("error", (e) => {
        clearTimeout(timer);
        fail(networkError(e));
      });
      req.once("response", (res) => {
        clearTimeout(timer);
        r.signal?.removeEventListener("abort", onAbort);
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        // A deadline keeps running while the body is read.
        if (r.timeoutMs !== undefined) {
          const t = setTimeout(() => res.destroy(new TimeoutError()), r.timeoutMs);
          res.once("close", () => clearTimeout(t));
        }
        resolve(res);
      });
      req.end(body);
    });
  }

  return {
    async request(r) {
      const res = await begin(r);
      const parts: Buffer[] = [];
      let size = 0;
      try {
        for await (const c of res as AsyncIterable<Buffer>) {
          size += c.length;
          if (size > MAX_RESPONSE) {
            res.destroy();
            throw new NetworkError(`response from ${r.url.host} is larger than ${MAX_RESPONSE} bytes`);
          }
          parts.push(c);
        }
      } catch (e) {
        if (e instanceof NetworkError || e instanceof TimeoutError) throw e;
        throw networkError(e);
      }
      return { status: res.statusCode ?? 0, headers: flatHeaders(res), body: new Uint8Array(Buffer.concat(parts)) };
    },
    async stream(r) {
      const res = await begin(r, true);
      open.add(res);
      res.once("close", () => open.delete(res));
      async function* chunks(): AsyncIterable<Uint8Array> {
        try {
          for await (const c of res as AsyncIterable<Buffer>) yield new Uint8Array(c);
        } catch (e) {
          if (e instanceof TimeoutError) throw e;
          throw networkError(e);
        }
      }
      return { status: res.statusCode ?? 0, headers: flatHeaders(res), chunks: chunks(), close: () => res.destroy() };
    },
    close() {
      for (const x of open) x.destroy();
      open.clear();
      for (const a of [httpAgent, httpsAgent, streamHttpAgent, streamHttpsAgent]) a.destroy();
    },
  };
}
