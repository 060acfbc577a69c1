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
import type { Tls } from "../tls/index.ts";
import { createEngineGrpcHandler, createNodeGrpcHandler } from "./grpc/index.ts";
import { ErrorCode, realClock, serveH2, DEFAULT_LIMITS, type H2Clock, type H2Connection, type H2Stream } from "./h2/index.ts";
import { DEFAULT_MAX_HEAD_BYTES, serveH1 } from "./http1/index.ts";
import { fromH2Engine, fromHttp1, fromHttp2 } from "./http/exchange.ts";
import { rawExchange } from "./http/raw-exchange.ts";
import { HttpRouter, type HttpRoute } from "./http/router.ts";
import { isWebSocketUpgrade, upgradeToExchange, type UpgradeRequest } from "./http/websocket-exchange.ts";
import { Pipeline } from "./pipeline/index.ts";
import {
  ConnectionGate, DEFAULT_PORT_LIMITS, Http1Sessions, onClientError, OutputBudget, ThrottledLog, type BudgetMember,
  type ClientPortLimits, type GateEntry,
} from "./port/index.ts";

export interface ClientServerOptions {
  readonly server: EtcdServer;
  /** The request pipeline; default one over `server` (pass it to share it with HTTP routes). */
  readonly pipeline?: Pipeline;
  /** e.g. http://127.0.0.1:2379; port 0 picks a free port. https URLs need `tls`; unix:// and unixs:// listen on a socket file. */
  readonly listenUrls: readonly URL[];
  /**
   * The accepting side of TLS (src/tls: current certificate, client-certificate checks). Sockets
   * handed to the HTTP/2 engine and the HTTP/1 server stay tls.TLSSocket, so a handler can read
   * getPeerCertificate() (the client-certificate identity of --client-cert-auth).
   */
  readonly tls?: Pick<Tls, "server" | "info">;
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
  /**
   * HTTP/1.1 implementation: "engine" (src/api/http1, the default: a socket handed over after
   * the preface sniff is served ~4x faster than by node:http under Bun) or "node" (node:http).
   */
  readonly http1?: "engine" | "node";
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

/** The CN of a TLS socket's verified client certificate (undefined without one). */
function commonNameOf(sock: net.Socket | undefined): string | undefined {
  if (!(sock instanceof tls.TLSSocket) || !sock.authorized) return undefined;
  const cn = sock.getPeerCertificate()?.subject?.CN;
  return typeof cn === "string" ? cn : Array.isArray(cn) ? cn[0] : undefined;
}

export async function startClientServer(opts: ClientServerOptions): Promise<ClientServer> {
  const { server, logger } = opts;
  const limits: ClientPortLimits = { ...DEFAULT_PORT_LIMITS, ...opts.limits };
  const clock = opts.clock ?? realClock;
  /** The output bounds of HTTP/2 connections, which HTTP/1.1 answers are held to as well. */
  const h2Limits = { ...DEFAULT_LIMITS, ...limits.h2 };
  const maxRecv = maxRecvBytes(server);
  const useEngine = (opts.http2 ?? "engine") === "engine";
  const useH1Engine = (opts.http1 ?? "engine") === "engine";
  const pipeline = opts.pipeline ?? new Pipeline(server, logger);
  // A verified client certificate names the user on gRPC requests (--client-cert-auth).
  const certAuth = opts.tls?.info.clientCertAuth === true;
  const grpcNode = createNodeGrpcHandler(pipeline, { maxRecvBytes: maxRecv }, certAuth ? (st) => commonNameOf(st.session?.socket) : undefined);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const connections = new Set<H2Connection>();
  const gate = new ConnectionGate(limits.maxConnections);
  const budget = new OutputBudget(limits.outputBudgetBytes, BUDGET_CHECK_MS, clock);
  const h1Sessions = new Http1Sessions(limits, clock, gate);
  const abuseLog = new ThrottledLog(logger);

  const makeRouter = (secure: boolean) =>
    new HttpRouter(pipeline, {
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
        router.handle(fromHttp2(stream, headers), certAuth ? commonNameOf(stream.session?.socket) : undefined);
      }
    });
    h2.on("session", (s) => {
      sessions.add(s);
      s.on("error", (err) => logger.debug("http2 session error", { error: String(err) }));
      s.on("close", () => sessions.delete(s));
    });
    /**
     * A request asking to switch protocols: etcd serves the gateway's routes as websockets too
     * (grpc-websocket-proxy). True when the socket was taken over; false serves it as a plain
     * request. An upgraded connection leaves the HTTP/1.1 timeouts (it is in use until it closes).
     */
    const upgrade = (req: UpgradeRequest, sock: net.Socket, rest: Buffer): boolean => {
      const path = (req.url ?? "/").split("?")[0]!;
      if (!isWebSocketUpgrade(req.headers) || !(path.startsWith("/v3/") || path.startsWith("/v3beta/"))) return false;
      h1Sessions.upgraded(sock);
      const ex = upgradeToExchange(req, sock, rest, maxRecv * 2 + 1024, !router.isBidiRoute(path));
      if (ex !== undefined) router.handle(ex, certAuth ? commonNameOf(sock) : undefined);
      return true;
    };
    // node:http (http1: "node"), with Go's header limit; the timeouts are Http1Sessions'
    // (watches and keepalives over the gateway are long-lived requests).
    const h1 = http.createServer({ maxHeaderSize: DEFAULT_MAX_HEAD_BYTES }, (req, res) => {
      h1Sessions.request(req, res);
      router.handle(fromHttp1(req, res), certAuth ? commonNameOf(req.socket) : undefined);
    });
    h1.requestTimeout = 0;
    h1.headersTimeout = 0;
    h1.on("clientError", onClientError);
    // node:http hands over every Upgrade request; one that is not a gateway websocket is
    // served as a plain request, as Go's server does.
    h1.on("upgrade", (req: http.IncomingMessage, sock: net.Socket, head: Buffer) => {
      if (upgrade(req, sock, head)) return;
      h1Sessions.upgraded(sock);
      router.handle(rawExchange(req, sock, head), certAuth ? commonNameOf(sock) : undefined);
    });
    /** Serves an HTTP/2 connection; `head` holds bytes already read while sniffing. */
    const serve2 = (sock: net.Socket, entry: GateEntry, deadline: number, head?: Buffer) => {
      // One gRPC handler per connection: its certificate CN is read once, when first needed.
      let cn: string | undefined | null = null;
      const commonName = certAuth ? () => (cn === null ? (cn = commonNameOf(sock)) : cn) : undefined;
      const grpcEngine = createEngineGrpcHandler(pipeline, { maxRecvBytes: maxRecv }, commonName);
      const onEngineStream = (st: H2Stream) => {
        const ct = st.headers.get("content-type");
        if (ct !== undefined && ct.startsWith("application/grpc")) grpcEngine(st);
        else router.handle(fromH2Engine(st), commonName?.());
      };
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
    /** Serves an HTTP/1.x connection; `head` holds bytes already read while sniffing. */
    const serve1 = (sock: net.Socket, entry: GateEntry, deadline: number, head?: Buffer) => {
      h1Sessions.attach(sock, entry, deadline);
      const member: BudgetMember = { get queuedBytes() { return sock.writableLength; }, abort: () => sock.destroy() };
      budget.add(member);
      sock.on("close", () => budget.delete(member));
      if (!useH1Engine) {
        if (head !== undefined) sock.unshift(head);
        h1.emit("connection", sock);
        return;
      }
      serveH1(
        sock,
        {
          onRequest: (ex) => {
            ex.onClose(h1Sessions.began(sock));
            router.handle(ex, certAuth ? commonNameOf(sock) : undefined);
          },
          onUpgrade: upgrade,
          output: {
            bound: h2Limits.connectionOutputBound,
            hardCap: h2Limits.connectionOutputHardCap,
            deadlineMs: h2Limits.outputDeadlineMs,
            highWater: h2Limits.streamHighWater,
          },
          clock,
          onError: (err) => logger.warn("http handler failed", { error: String(err) }),
        },
        head,
      );
    };
    return { h1, serve1, serve2 };
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
      else plain.serve1(sock, entry, deadline, head);
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
        // A handshake must finish within the read-header timeout; the connection counts under
        // the cap once it has (the timeout bounds those still shaking hands).
        const t = opts.tls!.server(["h2", "http/1.1"], { handshakeTimeoutMs: limits.readHeaderTimeoutMs });
        const s = secure!;
        const onSecure = (sock: tls.TLSSocket) => {
          const entry = admit(sock);
          if (entry === null) return;
          const deadline = clock.now() + limits.readHeaderTimeoutMs;
          if (sock.alpnProtocol === "h2") s.serve2(sock, entry, deadline);
          else s.serve1(sock, entry, deadline);
        };
        srv = net.createServer((raw) => {
          // Tracked from the first byte so close() also ends handshakes in progress.
          sockets.add(raw);
          raw.on("close", () => sockets.delete(raw));
          raw.on("error", () => {});
          t.accept(raw, onSecure);
        });
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
