// Lets Web-standard handlers (`(Request) => Response`, e.g. a hono app's fetch) serve paths
// on the client port: the v2 API and the dashboard plug in here.
import { header, readBody, type HttpExchange } from "./exchange.ts";

export type FetchHandler = (req: Request) => Response | Promise<Response>;

const exchanges = new WeakMap<Request, HttpExchange>();

/** The exchange a bridged Request came from (for what a Request cannot carry, e.g. TLS peers). */
export function exchangeOf(req: Request): HttpExchange | undefined {
  return exchanges.get(req);
}

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
  // Aborted only when the client leaves before the answer is complete (a finished answer has
  // nothing left to cancel, and aborting costs an event dispatch per request).
  let answered = false;
  ex.onClose(() => {
    if (!answered) ac.abort();
  });
  const req = new Request(url, {
    method: ex.method,
    headers,
    body: body === null ? null : new Uint8Array(body),
    signal: ac.signal,
  });
  exchanges.set(req, ex);
  const res = await handler(req);
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    out[k] = v;
  });
  ex.writeHead(res.status, out);
  if (res.body === null) {
    answered = true;
    ex.end();
    return;
  }
  if (out["content-length"] !== undefined) {
    // A body of known length: read at once, written with the head (no stream machinery).
    const bytes = new Uint8Array(await res.arrayBuffer());
    answered = true;
    if (!ex.closed) ex.end(bytes);
    return;
  }
  const reader = res.body.getReader();
  try {
    // A body that is complete after its first chunk goes out in one write with its length; an
    // empty first chunk asks for the head to be sent at once (a long poll or a stream).
    const first = await reader.read();
    if (first.done) {
      answered = true;
      return;
    }
    if (first.value.length === 0) ex.write(first.value);
    else {
      const second = await reader.read();
      if (second.done) {
        answered = true;
        if (!ex.closed) ex.end(first.value);
        return;
      }
      ex.write(first.value);
      if (!ex.closed) ex.write(second.value);
    }
    for (;;) {
      if (ex.closed) break;
      const { done, value } = await reader.read();
      if (done || ex.closed) break;
      ex.write(value);
    }
  } finally {
    if (ex.closed && !answered) await reader.cancel().catch(() => {});
    answered = true;
    ex.end();
  }
}
