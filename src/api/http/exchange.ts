// One HTTP request/response, whether it came over HTTP/1.1 or as a non-gRPC HTTP/2 stream,
// so the gateway and the plain endpoints are written once.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { ServerHttp2Stream } from "node:http2";
import { PassThrough, type Readable } from "node:stream";
import { DEFAULT_LIMITS, OutputGuard, realClock, type H2Stream } from "../h2/index.ts";

export interface HttpExchange {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The request body. */
  readonly body: Readable;
  /** Response headers are sent with the first write or end. */
  writeHead(status: number, headers: Record<string, string>): void;
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: string | Uint8Array): void;
  /** True once the client is gone or the response ended. */
  readonly closed: boolean;
  onClose(fn: () => void): void;
  /**
   * False while the response's queued output is over its high-water mark (the client reads
   * slower than it is written to): a producer should stop writing until `onDrain`.
   */
  readonly writable: boolean;
  /** Registers a callback for every time queued output drains after `writable` was false. */
  onDrain(fn: () => void): void;
  /** The whole body without a stream, null past `limit` (an exchange that can do it cheaply). */
  readAll?(limit: number): Promise<Buffer | null>;
  /** Common name of the client's verified TLS certificate, when there is one. */
  readonly peerCommonName?: string;
}

/**
 * An HTTP/1.1 exchange. A response the client does not read is bounded like an HTTP/2
 * connection's output (the same OutputGuard and limits): over the bound past the deadline,
 * or over the hard cap, the connection is closed.
 */
export function fromHttp1(req: IncomingMessage, res: ServerResponse): HttpExchange {
  let guard: OutputGuard | undefined;
  const watchOutput = () => {
    if (guard === undefined) {
      guard = new OutputGuard(
        {
          bound: DEFAULT_LIMITS.connectionOutputBound,
          hardCap: DEFAULT_LIMITS.connectionOutputHardCap,
          deadlineMs: DEFAULT_LIMITS.outputDeadlineMs,
          clock: realClock,
          onExceeded: () => res.destroy(),
        },
        () => res.writableLength,
      );
      res.once("close", () => guard!.stop());
      res.on("drain", () => guard!.update());
    }
    guard.update();
  };
  return {
    method: req.method ?? "GET",
    url: req.url ?? "/",
    headers: req.headers,
    body: req,
    writeHead: (status, headers) => void res.writeHead(status, headers),
    write: (chunk) => {
      if (res.destroyed) return false;
      const ok = res.write(chunk);
      if (!ok || guard !== undefined) watchOutput();
      return ok;
    },
    end: (chunk) => void (chunk === undefined ? res.end() : res.end(chunk)),
    get closed() {
      return res.writableEnded || res.destroyed;
    },
    onClose: (fn) => void res.on("close", fn),
    get writable() {
      return !res.destroyed && res.writableLength <= DEFAULT_LIMITS.streamHighWater;
    },
    onDrain: (fn) => void res.on("drain", fn),
  };
}

export function fromHttp2(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): HttpExchange {
  let status = 200;
  let out: Record<string, string> = {};
  let sent = false;
  const flush = (endStream: boolean) => {
    if (sent || stream.destroyed || stream.closed) return;
    sent = true;
    stream.respond({ ":status": status, ...out }, { endStream });
  };
  return {
    method: String(headers[":method"] ?? "GET"),
    url: String(headers[":path"] ?? "/"),
    headers,
    body: stream,
    writeHead(s, h) {
      status = s;
      out = {};
      // Connection-specific headers are illegal in HTTP/2.
      for (const [k, v] of Object.entries(h)) if (k.toLowerCase() !== "transfer-encoding") out[k.toLowerCase()] = v;
    },
    write(chunk) {
      flush(false);
      if (stream.destroyed || stream.closed) return false;
      return stream.write(chunk);
    },
    end(chunk) {
      if (stream.destroyed || stream.closed) return;
      const empty = chunk === undefined || chunk.length === 0;
      if (!sent) {
        flush(empty);
        if (empty) return;
      }
      if (chunk === undefined) stream.end();
      else stream.end(chunk);
    },
    get closed() {
      return stream.destroyed || stream.closed || stream.writableEnded;
    },
    onClose: (fn) => void stream.on("close", fn),
    get writable() {
      return !stream.destroyed && !stream.writableNeedDrain;
    },
    onDrain: (fn) => void stream.on("drain", fn),
  };
}

/** Reads the whole body, failing once it exceeds `limit` bytes (then returns null). */
export function readBody(ex: HttpExchange, limit: number): Promise<Buffer | null> {
  if (ex.readAll !== undefined) return ex.readAll(limit);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    ex.body.on("data", (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    ex.body.on("end", () => resolve(over ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    ex.body.on("error", reject);
  });
}

export function header(ex: HttpExchange, name: string): string | undefined {
  const v = ex.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A non-gRPC request on the h2 engine (rare: browsers over TLS, h2c curl). */
export function fromH2Engine(s: H2Stream): HttpExchange {
  const body = new PassThrough();
  s.ondata = (chunk) => void body.write(chunk);
  s.onend = () => void body.end();
  const closers: (() => void)[] = [];
  const drains: (() => void)[] = [];
  s.onclose = () => {
    body.destroy();
    for (const fn of closers) fn();
  };
  s.ondrain = () => {
    for (const fn of drains) fn();
  };
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of s.headers) headers[k] = v;
  let status = 200;
  let out: [string, string][] = [];
  let sent = false;
  let ended = false;
  const flush = (endStream: boolean) => {
    if (sent || s.closed) return;
    sent = true;
    s.respond([[":status", String(status)], ...out], endStream);
  };
  return {
    method: s.headers.get(":method") ?? "GET",
    url: s.headers.get(":path") ?? "/",
    headers,
    body,
    writeHead(st, h) {
      status = st;
      out = [];
      for (const [k, v] of Object.entries(h)) if (k.toLowerCase() !== "transfer-encoding") out.push([k.toLowerCase(), v]);
    },
    write(chunk) {
      flush(false);
      if (s.closed) return false;
      s.write(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
      return s.writable;
    },
    end(chunk) {
      if (s.closed || ended) return;
      ended = true;
      const empty = chunk === undefined || chunk.length === 0;
      if (!sent) {
        flush(empty);
        if (empty) return;
      }
      if (!empty) s.write(typeof chunk === "string" ? Buffer.from(chunk) : chunk!);
      s.end();
    },
    get closed() {
      return s.closed || ended;
    },
    onClose: (fn) => void closers.push(fn),
    get writable() {
      return s.writable;
    },
    onDrain: (fn) => void drains.push(fn),
  };
}
