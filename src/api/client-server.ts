// The client port: one listener per URL serving gRPC (HTTP/2), the JSON gateway and the
// plain endpoints (HTTP/1.1 or HTTP/2). Cleartext connections are told apart by sniffing
// the HTTP/2 preface; TLS connections by ALPN. Every connection passes the port's policy
// (src/api/port): the connection cap, the read-header and idle timeouts, the output budget.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { freeSocketPath, removeSocketFile } from "../runtime/unix-listen.ts";
import type { Logger } from "../server/logger.ts";
import type { EtcdServer } from "../server/types.ts";
import { createEngineGrpcHandler, createNodeGrpcHandler } from "./grpc/index.ts";
import { ErrorCode, realClock, serveH2, type H2Clock, type H2Connection, type H2Stream } from "./h2/index.ts";
import { fromH2Engine, fromHttp1, fromHttp2 } from "./http/exchange.ts";
import { rawExchange } from "./http/raw-exchange.ts";
import { HttpRouter, type HttpRoute } from "./http/router.ts";
import { isWebSocketUpgrade, upgradeToExchange } from "./http/websocket-exchange.ts";
import {
  ConnectionGate, DEFAULT_PORT_LIMITS, Http1Sessions, onClientError, OutputBudget, ThrottledLog, type BudgetMember,
  type ClientPortLimits, type GateEntry,
} from "./port/index.ts";

export interface ClientTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CA bundle for verifying client certificates. */
  readonly ca?: string | Buffer;
  /** etcd --client-cert-auth: require and verify a client certificate. */
  readonly clientCertAuth?: boolean;
}

export interface ClientServerOptions {
  readonly server: EtcdServer;
  /** e.g. http://127.0.0.1:2379; port 0 picks a free port. https URLs need `tls`; unix:// and unixs:// listen on a socket file. */
  readonly listenUrls: readonly URL[];
  readonly tls?: ClientTlsOptions;
  readonly logger: Logger;
  /** Allowed CORS origins (etcd --cors); default ["*"]. */
  readonly cors?: readonly string[];
  /** Extra HTTP handlers by path prefix (v2 API at "/v2/", dashboard, …). */
  readonly routes?: readonly HttpRoute[];
  /**
   * HTTP/2 implementation: "engine" (src/api/h2, the default: measured faster under gRPC
   * load) or "node" (node:http2 of the runtime).
   */
  readonly http2?: "engine" | "node";
  /** Connection limits; defaults in src/api/port/limits.ts. */
  readonly limits?: Partial<ClientPortLimits>;
  readonly clock?: H2Clock;
}

export interface ClientServer {
  /** The URLs actually listened on (port 0 resolved). */
  readonly addresses: readonly URL[];
  /** Closes every listener and connection now. */
  close(): Promise<void>;
  /**
   * Stops accepting, tells HTTP/2 clients GOAWAY (no new streams) and waits up to `ms` for the
   * requests in flight; then closes everything (long-lived watches included).
   */
  shutdown(ms: number): Promise<void>;
  /** Counters of the connection policy, for tests and metrics. */
  stats(): { connections: number; streams: number; evicted: number; refused: number; budgetAborted: number };
}

/** etcd's gRPC receive limit: max-request-bytes plus 512 KiB of headroom. */
export function maxRecvBytes(server: EtcdServer): number {
  return server.maxRequestBytes + 512 * 1024;
}

/** How often the member-wide output budget is checked. */
const BUDGET_CHECK_MS = 250;

export async function startClientServer(opts: ClientServerOptions): Promise<ClientServer> {
  const { server, logger } = opts;
  const limits: ClientPortLimits = { ...DEFAULT_PORT_LIMITS, ...opts.limits };
  const clock = opts.clock ?? realClock;
  const maxRecv = maxRecvBytes(server);
  const useEngine = (opts.http2 ?? "engine") === "engine";
  const grpcNode = createNodeGrpcHandler(server, { maxRecvBytes: maxRecv });
  const grpcEngine = createEngineGrpcHandler(server, { maxRecvBytes: maxRecv });
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const connections = new Set<H2Connection>();
  const gate = new ConnectionGate(limits.maxConnections);
  const budget = new OutputBudget(limits.outputBudgetBytes, BUDGET_CHECK_MS, clock);
  const h1Sessions = new Http1Sessions(limits, clock, gate);
  const abuseLog = new ThrottledLog(logger);

  const makeRouter = (secure: boolean) =>
    new HttpRouter(server, {
      maxRecvBytes: maxRecv,
      logger,
      ...(opts.cors ? { cors: opts.cors } : {}),
      ...(opts.routes ? { routes: opts.routes } : {}),
      secure,
    });

  const makeServers = (secure: boolean) => {
    const router = makeRouter(secure);
    const h2 = http2.createServer({ settings: { maxConcurrentStreams: limits.maxConcurrentStreams }, maxSessionMemory: 64 });
    h2.on("stream", (stream, headers) => {
      const ct = headers["content-type"];
      if (typeof ct === "string" && ct.startsWith("application/grpc")) grpcNode(stream, headers);
      else {
        stream.on("error", () => {});
        router.handle(fromHttp2(stream, headers));
      }
    });
    h2.on("session", (s) => {
      sessions.add(s);
      s.on("error", (err) => logger.debug("http2 session error", { error: String(err) }));
      s.on("close", () => sessions.delete(s));
    });
    const h1 = http.createServer((req, res) => {
      h1Sessions.request(req, res);
      router.handle(fromHttp1(req, res));
    });
    // Watches and keepalives over the gateway are long-lived requests; the read-header and
    // idle timeouts are Http1Sessions' (the runtime's own are not enforced everywhere).
    h1.requestTimeout = 0;
    h1.headersTimeout = 0;
    h1.on("clientError", onClientError);
    // etcd serves the gateway's routes as websockets too (grpc-websocket-proxy); any other
    // upgrade is served as a plain request.
    h1.on("upgrade", (req: http.IncomingMessage, sock: net.Socket, head: Buffer) => {
      h1Sessions.upgraded(sock);
      const url = req.url ?? "/";
      const path = url.split("?")[0]!;
      if (isWebSocketUpgrade(req.headers) && (path.startsWith("/v3/") || path.startsWith("/v3beta/"))) {
        const ex = upgradeToExchange(req, sock, head, maxRecv * 2 + 1024, !router.isBidiRoute(path));
        if (ex !== undefined) router.handle(ex);
      } else {
        router.handle(rawExchange(req, sock, head));
      }
    });
    const onEngineStream = (st: H2Stream) => {
      const ct = st.headers.get("content-type");
      if (ct !== undefined && ct.startsWith("application/grpc")) grpcEngine(st);
      else router.handle(fromH2Engine(st));
    };
    /** Serves an HTTP/2 connection; `head` holds bytes already read while sniffing. */
    const serve2 = (sock: net.Socket, entry: GateEntry, deadline: number, head?: Buffer) => {
      if (!useEngine) {
        if (head !== undefined) sock.unshift(head);
        gate.set(entry, "busy");
        h2.emit("connection", sock);
        return;
      }
      const conn = serveH2(
        sock,
        {
          onStream: onEngineStream,
          maxConcurrentStreams: limits.maxConcurrentStreams,
          keepalive: limits.keepalive,
          limits: { handshakeTimeoutMs: Math.max(1, deadline - clock.now()), ...limits.h2 },
          ...(opts.clock ? { clock: opts.clock } : {}),
          onError: (err) => logger.warn("http2 stream handler failed", { error: String(err) }),
          onViolation: (code, reason) =>
            abuseLog.warn("closed a client connection", { remote: peerOf(sock), code: errorName(code), reason }),
          onBusy: (busy) => gate.set(entry, busy ? "busy" : "idle"),
        },
        head,
      );
      connections.add(conn);
      const member: BudgetMember = { get queuedBytes() { return conn.queuedBytes; }, abort: (r) => conn.abort(ErrorCode.ENHANCE_YOUR_CALM, r) };
      budget.add(member);
      sock.on("close", () => {
        connections.delete(conn);
        budget.delete(member);
      });
    };
    const serve1 = (sock: net.Socket, entry: GateEntry, deadline: number) => {
      h1Sessions.attach(sock, entry, deadline);
      const member: BudgetMember = { get queuedBytes() { return sock.writableLength; }, abort: () => sock.destroy() };
      budget.add(member);
      sock.on("close", () => budget.delete(member));
      h1.emit("connection", sock);
    };
    return { h1, serve2, serve1 };
  };

  const plain = makeServers(false);
  const secure = opts.tls ? makeServers(true) : null;

  /** Every accepted socket: a place under the cap, or refused. */
  const admit = (sock: net.Socket): GateEntry | null => {
    sock.on("error", () => {});
    const entry = gate.admit(() => sock.destroy());
    if (entry === null) {
      // Every connection is in use: this one cannot be served.
      abuseLog.warn("refused a client connection: too many open connections", { limit: gate.max });
      sock.destroy();
      return null;
    }
    sockets.add(sock);
    sock.on("close", () => {
      sockets.delete(sock);
      gate.release(entry);
    });
    return entry;
  };

  const sniff = (sock: net.Socket) => {
    const entry = admit(sock);
    if (entry === null) return;
    const deadline = clock.now() + limits.readHeaderTimeoutMs;
    const timer = clock.setTimeout(() => sock.destroy(), limits.readHeaderTimeoutMs);
    let head: Buffer = Buffer.alloc(0);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = sock.read() as Buffer | null) !== null) head = head.length ? Buffer.concat([head, chunk]) : chunk;
      // "PRI * HTTP/2.0" vs HTTP/1 methods (POST, PUT, PATCH share the 'P').
      if (head.length < 3 && (head.length === 0 || head[0] === 0x50)) return;
      sock.off("readable", onReadable);
      clock.clearTimeout(timer);
      if (head.subarray(0, 3).toString("latin1") === "PRI") plain.serve2(sock, entry, deadline, head);
      else {
        sock.unshift(head);
        plain.serve1(sock, entry, deadline);
      }
    };
    sock.on("readable", onReadable);
    sock.once("close", () => clock.clearTimeout(timer));
  };

  const listeners: net.Server[] = [];
  const addresses: URL[] = [];
  try {
    for (const url of opts.listenUrls) {
      const isTls = url.protocol === "https:" || url.protocol === "unixs:";
      const isUnix = url.protocol === "unix:" || url.protocol === "unixs:";
      if (isTls && !opts.tls) throw new Error(`listen URL ${url.href} needs TLS certificates (--cert-file, --key-file)`);
      let srv: net.Server;
      if (isTls) {
        const t = opts.tls!;
        const s = secure!;
        srv = tls.createServer({
          cert: t.cert,
          key: t.key,
          ...(t.ca ? { ca: t.ca } : {}),
          requestCert: t.clientCertAuth === true,
          rejectUnauthorized: t.clientCertAuth === true,
          ALPNProtocols: ["h2", "http/1.1"],
          handshakeTimeout: limits.readHeaderTimeoutMs,
        });
        srv.on("secureConnection", (sock: tls.TLSSocket) => {
          const entry = admit(sock);
          if (entry === null) return;
          const deadline = clock.now() + limits.readHeaderTimeoutMs;
          if (sock.alpnProtocol === "h2") s.serve2(sock, entry, deadline);
          else s.serve1(sock, entry, deadline);
        });
        srv.on("tlsClientError", (err) => logger.debug("tls handshake failed", { error: String(err) }));
      } else {
        srv = net.createServer(sniff);
      }
      await listen(srv, url, isUnix, isTls);
      srv.on("error", (err) => logger.error("client listener error", { error: String(err) }));
      const bound = new URL(url.href);
      if (!isUnix) bound.port = String((srv.address() as net.AddressInfo).port);
      listeners.push(srv);
      if (isUnix) srv.once("close", () => removeSocketFile(unixPath(url)));
      addresses.push(bound);
      logger.info("serving client traffic", { address: isUnix ? bound.href : bound.origin });
    }
  } catch (err) {
    budget.stop();
    for (const l of listeners) l.close();
    throw err;
  }

  const closeAll = async () => {
    budget.stop();
    const closing = listeners.map((l) => new Promise<void>((r) => l.close(() => r())));
    for (const c of connections) c.close();
    for (const s of sessions) s.destroy();
    for (const s of sockets) s.destroy();
    await Promise.all(closing);
  };

  return {
    addresses,
    close: closeAll,
    async shutdown(ms) {
      for (const l of listeners) l.close();
      for (const c of connections) c.goaway();
      for (const s of sessions) s.close();
      const deadline = Date.now() + ms;
      while (Date.now() < deadline && [...connections].some((c) => c.openStreams > 0)) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await closeAll();
    },
    stats: () => ({
      connections: gate.size,
      streams: [...connections].reduce((n, c) => n + c.openStreams, 0),
      evicted: gate.evicted,
      refused: gate.refused,
      budgetAborted: budget.aborted,
    }),
  };
}

async function listen(srv: net.Server, url: URL, isUnix: boolean, isTls: boolean): Promise<void> {
  const target = isUnix ? { path: unixPath(url) } : { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port === "" ? (isTls ? 443 : 80) : Number(url.port) };
  if (isUnix) await freeSocketPath(target.path!);
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(target, () => {
      srv.off("error", reject);
      resolve();
    });
  });
}

/** The socket file of a unix:// or unixs:// URL: its host:port, as etcd takes it (relative to the working directory). */
export function unixPath(url: URL): string {
  return decodeURIComponent(url.host);
}

function peerOf(sock: net.Socket): string {
  return sock.remoteAddress === undefined ? "unix" : `${sock.remoteAddress}:${sock.remotePort}`;
}

const ERROR_NAMES = new Map(Object.entries(ErrorCode).map(([k, v]) => [v as number, k]));
function errorName(code: number): string {
  return ERROR_NAMES.get(code) ?? String(code);
}
