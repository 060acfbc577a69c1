// The client port: one listener per URL serving gRPC (HTTP/2), the JSON gateway and the
// plain endpoints (HTTP/1.1 or HTTP/2). Cleartext connections are told apart by sniffing
// the HTTP/2 preface; TLS connections by ALPN.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Logger } from "../server/logger.ts";
import type { EtcdServer } from "../server/types.ts";
import type { Tls } from "../tls/index.ts";
import { createEngineGrpcHandler, createNodeGrpcHandler } from "./grpc/index.ts";
import { serveH2, type H2Connection, type H2Stream } from "./h2/index.ts";
import { serveH1 } from "./http1/index.ts";
import { fromH2Engine, fromHttp1, fromHttp2 } from "./http/exchange.ts";
import { HttpRouter, type HttpRoute } from "./http/router.ts";
import { Pipeline } from "./pipeline/index.ts";

export interface ClientServerOptions {
  readonly server: EtcdServer;
  /** The request pipeline; default one over `server` (pass it to share it with HTTP routes). */
  readonly pipeline?: Pipeline;
  /** e.g. http://127.0.0.1:2379; port 0 picks a free port. https URLs need `tls`. */
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
}

export interface ClientServer {
  /** The URLs actually listened on (port 0 resolved). */
  readonly addresses: readonly URL[];
  close(): Promise<void>;
}

/** etcd's gRPC receive limit: max-request-bytes plus 512 KiB of headroom. */
export function maxRecvBytes(server: EtcdServer): number {
  return server.maxRequestBytes + 512 * 1024;
}

const H2_SETTINGS: http2.Settings = { maxConcurrentStreams: 4294967295 };

/** The CN of a TLS socket's verified client certificate (undefined without one). */
function commonNameOf(sock: net.Socket | undefined): string | undefined {
  if (!(sock instanceof tls.TLSSocket) || !sock.authorized) return undefined;
  const cn = sock.getPeerCertificate()?.subject?.CN;
  return typeof cn === "string" ? cn : Array.isArray(cn) ? cn[0] : undefined;
}

export async function startClientServer(opts: ClientServerOptions): Promise<ClientServer> {
  const { server, logger } = opts;
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
    const h2 = http2.createServer({ settings: H2_SETTINGS, maxSessionMemory: 64 });
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
    const h1 = http.createServer((req, res) => router.handle(fromHttp1(req, res), certAuth ? commonNameOf(req.socket) : undefined));
    // Watches and keepalives over the gateway are long-lived requests.
    h1.requestTimeout = 0;
    h1.headersTimeout = 60_000;
    h1.on("clientError", (_err, sock) => sock.destroy());
    /** Serves an HTTP/2 connection; `head` holds bytes already read while sniffing. */
    const serve2 = (sock: net.Socket, head?: Buffer) => {
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
        h2.emit("connection", sock);
        return;
      }
      const conn = serveH2(
        sock,
        {
          onStream: onEngineStream,
          maxConcurrentStreams: 1 << 20,
          onError: (err) => logger.warn("http2 stream handler failed", { error: String(err) }),
        },
        head,
      );
      connections.add(conn);
      sock.on("close", () => connections.delete(conn));
    };
    /** Serves an HTTP/1.x connection; `head` holds bytes already read while sniffing. */
    const serve1 = (sock: net.Socket, head?: Buffer) => {
      if (!useH1Engine) {
        if (head !== undefined) sock.unshift(head);
        h1.emit("connection", sock);
        return;
      }
      serveH1(sock, { onRequest: (ex) => router.handle(ex, certAuth ? commonNameOf(sock) : undefined), onError: (err) => logger.warn("http handler failed", { error: String(err) }) }, head);
    };
    return { h1, serve1, serve2 };
  };

  const plain = makeServers(false);
  const secure = opts.tls ? makeServers(true) : null;

  const sniff = (sock: net.Socket) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let head: Buffer = Buffer.alloc(0);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = sock.read() as Buffer | null) !== null) head = head.length ? Buffer.concat([head, chunk]) : chunk;
      // "PRI * HTTP/2.0" vs HTTP/1 methods (POST, PUT, PATCH share the 'P').
      if (head.length < 3 && (head.length === 0 || head[0] === 0x50)) return;
      sock.off("readable", onReadable);
      if (head.subarray(0, 3).toString("latin1") === "PRI") plain.serve2(sock, head);
      else plain.serve1(sock, head);
    };
    sock.on("readable", onReadable);
  };

  const listeners: net.Server[] = [];
  const addresses: URL[] = [];
  for (const url of opts.listenUrls) {
    const isTls = url.protocol === "https:" || url.protocol === "unixs:";
    if (isTls && !opts.tls) throw new Error(`listen URL ${url.href} needs TLS certificates (--cert-file, --key-file)`);
    let srv: net.Server;
    if (isTls) {
      const t = opts.tls!.server(["h2", "http/1.1"]);
      const s = secure!;
      const onSecure = (sock: tls.TLSSocket) => {
        sockets.add(sock);
        sock.on("close", () => sockets.delete(sock));
        sock.on("error", () => {});
        if (sock.alpnProtocol === "h2") s.serve2(sock);
        else s.serve1(sock);
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
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const port = url.port === "" ? (isTls ? 443 : 80) : Number(url.port);
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen({ host, port }, () => {
        srv.off("error", reject);
        resolve();
      });
    });
    srv.on("error", (err) => logger.error("client listener error", { error: String(err) }));
    const addr = srv.address() as net.AddressInfo;
    const bound = new URL(url.href);
    bound.port = String(addr.port);
    listeners.push(srv);
    addresses.push(bound);
    logger.info("serving client traffic", { address: bound.origin });
  }

  return {
    addresses,
    async close() {
      const closing = listeners.map((l) => new Promise<void>((r) => l.close(() => r())));
      for (const c of connections) c.close();
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      await Promise.all(closing);
    },
  };
}
