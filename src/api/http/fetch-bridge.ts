// Lets Web-standard handlers (`(Request) => Response`, e.g. a hono app's fetch) serve paths
// on the client port: the v2 API and the dashboard plug in here.
import { header, readBody, type HttpExchange } from "./exchange.ts";

export type FetchHandler = (req: Request) => Response | Promise<Response>;

const MAX_BODY = 64 * 1024 * 1024;

export async function serveFetch(ex: HttpExchange, handler: FetchHandler, secure: boolean): Promise<void> {
  const host = header(ex, "host") ?? header(ex, ":authority") ?? "localhost";
  const url = `${secure ? "https" : "http"}://${host}${ex.url}`;
  const headers = new Headers();
  for (const [k, v] of Object.entries(ex.headers)) {
    if (k.startsWith(":") || v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    else headers.set(k, v);
  }
  const hasBody = ex.method !== "GET" && ex.method !== "HEAD";
  const body = hasBody ? await readBody(ex, MAX_BODY) : null;
  const ac = new AbortController();
  ex.onClose(() => ac.abort());
  const req = new Request(url, {
    method: ex.method,
    headers,
    body: body === null ? null : new Uint8Array(body),
    signal: ac.signal,
  });
  const res = await handler(req);
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    out[k] = v;
  });
  ex.writeHead(res.status, out);
  if (res.body === null) {
    ex.end();
    return;
  }
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || ex.closed) break;
      ex.write(value);
    }
  } finally {
    if (ex.closed) await reader.cancel().catch(() => {});
    ex.end();
  }
}
