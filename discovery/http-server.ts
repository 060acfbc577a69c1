// Serves the hono app on node:http / node:https. Request bodies are read up to a bound
// (a larger one is refused before it is buffered); a client that goes away aborts its
// request's signal, which ends a long poll at once.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export type EnvFetch = (req: Request, env: { remoteAddress: string }) => Response | Promise<Response>;

export interface Listening {
  readonly port: number;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | "too-large"> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > max) return "too-large";
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) return "too-large";
    parts.push(c);
  }
  return Buffer.concat(parts);
}

async function handle(fetch: EnvFetch, secure: boolean, maxBody: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? "GET";
  let body: Buffer | undefined;
  if (method !== "GET" && method !== "HEAD") {
    const b = await readBody(req, maxBody);
    if (b === "too-large") {
      res.writeHead(413, { "content-type": "text/plain; charset=utf-8", connection: "close" });
      res.end(`request body larger than ${maxBody} bytes\n`);
      req.destroy();
      return;
    }
    body = b;
  }
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const ac = new AbortController();
  res.once("close", () => ac.abort());
  const url = `${secure ? "https" : "http"}://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
  let request: Request;
  try {
    request = new Request(url, { method, headers, body: body && body.length > 0 ? new Uint8Array(body) : undefined, signal: ac.signal });
  } catch {
    res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
    res.end("bad request\n");
    return;
  }
  const response = await fetch(request, { remoteAddress: req.socket.remoteAddress ?? "unknown" });
  const out: Record<string, string> = {};
  response.headers.forEach((v, k) => {
    out[k] = v;
  });
  const payload = response.body === null ? undefined : Buffer.from(await response.arrayBuffer());
  out["content-length"] = String(payload?.length ?? 0);
  if (res.destroyed) return;
  res.writeHead(response.status, out);
  res.end(method === "HEAD" ? undefined : payload);
}

export function listen(
  o: { host: string; port: number; tls?: { cert: Uint8Array; key: Uint8Array }; maxBody: number; longPollMs: number },
  fetch: EnvFetch,
): Promise<Listening> {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(fetch, o.tls !== undefined, o.maxBody, req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end("internal error\n");
      } else res.destroy();
    });
  };
  const server: Server = o.tls ? createHttpsServer({ cert: Buffer.from(o.tls.cert), key: Buffer.from(o.tls.key) }, onRequest) : createHttpServer(onRequest);
  // Long polls hold a request open: the server's own timeouts must outlast them.
  server.requestTimeout = o.longPollMs + 30_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host === "" ? undefined : o.host, () => {
      server.off("error", reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
