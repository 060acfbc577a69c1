// Serves a Web-standard handler on node:http / node:https listeners, one per listen peer URL.
// The node request rides along in the env so routes can stream its body themselves.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { freeSocketPath, removeSocketFile } from "../runtime/unix-listen.ts";
import type { Tls } from "../tls/index.ts";
import { isSecureUrl, isUnixUrl, socketPath } from "./unix-url.ts";

/** Takes over a socket whose request asked for an HTTP upgrade (the message streams). */
export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

export type EnvFetch = (req: Request, env: { incoming: IncomingMessage }) => Response | Promise<Response>;

export interface Listening {
  /** The URLs actually bound (port 0 replaced by the chosen port). */
  readonly urls: readonly URL[];
  close(): Promise<void>;
}

async function serve(fetch: EnvFetch, secure: boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const url = `${secure ? "https" : "http"}://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
  let response: Response;
  try {
    response = await fetch(new Request(url, { method: req.method ?? "GET", headers }), { incoming: req });
  } catch (e) {
    response = new Response(e instanceof Error ? e.message : String(e), { status: 500 });
  }
  const out: Record<string, string> = {};
  response.headers.forEach((v, k) => {
    out[k] = v;
  });
  // Peer API answers are small: buffer them rather than stream.
  const body = response.body === null ? undefined : Buffer.from(await response.arrayBuffer());
  if (body !== undefined) out["content-length"] = String(body.length);
  res.writeHead(response.status, out);
  res.end(body);
}

async function listenOne(server: NetServer, url: URL): Promise<URL> {
  if (isUnixUrl(url)) await freeSocketPath(socketPath(url));
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    if (isUnixUrl(url)) {
      server.listen({ path: socketPath(url) }, () => {
        server.off("error", onError);
        server.once("close", () => removeSocketFile(socketPath(url)));
        resolve(url);
      });
      return;
    }
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    server.listen(Number(url.port || (url.protocol === "https:" ? 443 : 80)), host, () => {
      server.off("error", onError);
      const addr = server.address() as AddressInfo;
      const bound = new URL(url.href);
      bound.port = String(addr.port);
      resolve(bound);
    });
  });
}

/** An HTTP server and the listener feeding it (itself, or a TLS-accepting net server). */
interface Served {
  readonly http: Server;
  readonly listener: NetServer;
  /** Raw sockets of the TLS listener, including handshakes in progress. */
  readonly raw: Set<Socket>;
}

function closeOne(s: Served): Promise<void> {
  return new Promise((resolve) => {
    s.listener.close(() => resolve());
    s.http.closeAllConnections();
    for (const sock of s.raw) sock.destroy();
  });
}

/** Listens on every URL; on failure closes what was opened and rethrows. */
export async function listenAll(
  urls: readonly URL[],
  fetch: EnvFetch,
  tls?: Pick<Tls, "server">,
  upgrade?: UpgradeHandler,
): Promise<Listening> {
  const servers: Served[] = [];
  const bound: URL[] = [];
  try {
    for (const url of urls) {
      const secure = isSecureUrl(url);
      if (secure && tls === undefined) throw new Error(`listen peer URL ${url.href} is https but no peer certificate is set`);
      const onRequest = (req: IncomingMessage, res: ServerResponse) => {
        serve(fetch, secure, req, res).catch(() => res.destroy());
      };
      const http = createHttpServer(onRequest);
      // Heartbeats keep peer connections busy; a long idle limit avoids closing a socket the
      // sender is about to reuse.
      http.keepAliveTimeout = 60_000;
      if (upgrade) http.on("upgrade", upgrade);
      const raw = new Set<Socket>();
      let listener: NetServer = http;
      if (secure) {
        // TLS is accepted here (src/tls) and the verified socket handed to the HTTP server.
        const accepting = tls!.server(["http/1.1"]);
        listener = createNetServer((sock) => {
          raw.add(sock);
          sock.on("close", () => raw.delete(sock));
          sock.on("error", () => {});
          accepting.accept(sock, (secured) => http.emit("connection", secured));
        });
      }
      servers.push({ http, listener, raw });
      bound.push(await listenOne(listener, url));
    }
  } catch (e) {
    await Promise.all(servers.map(closeOne));
    throw e;
  }
  return { urls: bound, close: async () => void (await Promise.all(servers.map(closeOne))) };
}
