// A small client for the v3 JSON gateway (grpc-gateway encoding: int64 as strings, bytes as
// standard base64, field names as in the .proto files).
import { withTimeout } from "./wait.ts";

export const b64 = (s: string | Uint8Array): string =>
  Buffer.from(typeof s === "string" ? Buffer.from(s, "utf8") : s).toString("base64");

export const unb64 = (s: string): string => Buffer.from(s, "base64").toString("utf8");

export const unb64Bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));

/** Prefix end as etcd computes it: increment the last byte below 0xff. */
export function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, "utf8");
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i] = out[i]! + 1;
      return out.toString("base64");
    }
  }
  return "AA==";
}

// The JSON shapes are open-ended; tests look into them field by field.
// biome-ignore lint: JSON bodies are dynamic
export type Json = any;

export interface GatewayResponse {
  status: number;
  text: string;
  json: Json;
  headers: Headers;
}

export class Gateway {
  constructor(readonly baseURL: string) {}

  /** POST a JSON body (objects are stringified, strings sent as they are). */
  async post(path: string, body: unknown, timeoutMs = 10_000, headers: Record<string, string> = {}): Promise<GatewayResponse> {
    const res = await fetch(this.baseURL + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return read(res);
  }

  async get(path: string, timeoutMs = 10_000): Promise<GatewayResponse> {
    const res = await fetch(this.baseURL + path, { signal: AbortSignal.timeout(timeoutMs) });
    return read(res);
  }

  /** Like post, but throws unless the status is 200; returns the parsed body. */
  async ok(path: string, body: unknown): Promise<Json> {
    const r = await this.post(path, body);
    if (r.status !== 200) throw new Error(`POST ${path} ${JSON.stringify(body).slice(0, 200)} → ${r.status} ${r.text}`);
    return r.json;
  }

  put(key: string, value: string, extra: Record<string, unknown> = {}): Promise<Json> {
    return this.ok("/v3/kv/put", { key: b64(key), value: b64(value), ...extra });
  }

  range(key: string, extra: Record<string, unknown> = {}): Promise<Json> {
    return this.ok("/v3/kv/range", { key: b64(key), ...extra });
  }

  /** Opens a streaming endpoint (watch, keepalive, snapshot). */
  async stream(path: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonStream> {
    const ctl = new AbortController();
    const res = await fetch(this.baseURL + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      signal: ctl.signal,
    });
    if (!res.body) throw new Error(`no body from ${path}`);
    return new JsonStream(res.status, res.body, ctl);
  }
}

async function read(res: Response): Promise<GatewayResponse> {
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** Newline-separated JSON objects from a chunked response, read with bounded waits. */
export class JsonStream {
  private buf = "";
  private readonly queue: Json[] = [];
  private done = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private pending: Promise<void> | undefined;

  constructor(
    readonly status: number,
    body: ReadableStream<Uint8Array>,
    private readonly ctl: AbortController,
  ) {
    this.reader = body.getReader();
  }

  /** The next JSON object; throws if none arrives within `ms` or the stream ends. */
  async next(ms = 5000): Promise<Json> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      if (this.done) throw new Error("stream ended");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no stream message within ${ms} ms`);
      // Keep one read in flight across calls so a timed-out wait loses no data.
      this.pending ??= this.pump().finally(() => {
        this.pending = undefined;
      });
      await withTimeout(this.pending, left, "stream message");
    }
    return this.queue.shift();
  }

  /** All remaining objects until the server ends the stream. */
  async rest(ms = 10_000): Promise<Json[]> {
    const out: Json[] = [];
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        out.push(await this.next(Math.max(1, deadline - Date.now())));
      } catch (e) {
        if (this.done && this.queue.length === 0) return out;
        throw e;
      }
    }
  }

  close(): void {
    this.ctl.abort();
  }

  private async pump(): Promise<void> {
    let value: Uint8Array | undefined;
    let done: boolean;
    try {
      ({ value, done } = await this.reader.read());
    } catch {
      // Aborted by close() or the connection dropped: the stream simply ends.
      done = true;
    }
    if (done) {
      this.done = true;
      this.buf += this.decoder.decode();
    } else {
      this.buf += this.decoder.decode(value!, { stream: true });
    }
    let i: number;
    while ((i = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (line !== "") this.queue.push(JSON.parse(line));
    }
    if (this.done && this.buf.trim() !== "") {
      this.queue.push(JSON.parse(this.buf.trim()));
      this.buf = "";
    }
  }
}
