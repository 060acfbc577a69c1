// One request and its answer on an HTTP/1.1 connection (connection.ts): the request body as
// the connection hands it over (a stream, or whole up to a limit), and the answer's head and
// body as they go on the wire (Content-Length when known at once, chunked otherwise). Apart
// from the connection, which parses the bytes and runs one exchange at a time.
import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import type { HttpExchange } from "../http/exchange.ts";
import type { RequestHead } from "./request-head.ts";

/** What an exchange needs from its connection. */
export interface ExchangeConnection {
  readonly socket: Socket;
  /** Octets of answers the socket holds past which the current exchange is not writable. */
  readonly highWater: number;
  /** The current exchange's drain callbacks. */
  drainFns: (() => void)[];
  pause(): void;
  resume(): void;
  write(b: Buffer | Uint8Array): boolean;
  /** The answer ended; `close`: the connection closes after it. */
  finished(ex: Exchange, close: boolean): void;
}

/** Bytes of later (pipelined) requests buffered before the socket is paused. */
export const MAX_PENDING = 1 << 20;

const LAST_CHUNK = Buffer.from("0\r\n\r\n");
const EMPTY = Buffer.alloc(0);

const REASONS: Record<number, string> = {
  100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
  301: "Moved Permanently", 302: "Found", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
  408: "Request Timeout", 409: "Conflict", 410: "Gone", 412: "Precondition Failed", 413: "Payload Too Large",
  415: "Unsupported Media Type", 421: "Misdirected Request", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
  500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported",
};

let dateSecond = -1;
let dateText = "";
/** The Date field, formatted once per second. */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** Field values that would break the head (CR, LF, NUL) are refused, never written. */
const BAD_VALUE = /[\r\n\0]/;

/** One request and its answer, as the client port's HttpExchange. */
export class Exchange implements HttpExchange {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  private status = 200;
  private fields: Record<string, string> = {};
  private headSent = false;
  private chunked = false;
  private ended = false;
  private gone = false;
  private reader: Readable | undefined;
  /** Body chunks that arrived before anyone asked for the body (bounded: the socket pauses). */
  private early: Buffer[] | undefined = [];
  private earlyBytes = 0;
  private bodyEnded = false;
  private discarding = false;
  private readonly closeFns: (() => void)[] = [];
  private bodyEndFns: (() => void)[] = [];

  constructor(
    private readonly conn: ExchangeConnection,
    readonly head: RequestHead,
  ) {
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
  }

  get body(): Readable {
    if (this.reader === undefined) {
      const conn = this.conn;
      this.reader = new Readable({ read: () => conn.resume() });
      for (const b of this.early ?? []) this.reader.push(b);
      this.early = undefined;
      if (this.bodyEnded) this.reader.push(null);
    }
    return this.reader;
  }

  /**
   * The whole body, straight from the chunks the connection hands over (no stream objects);
   * null once it exceeds `limit` (the rest is still read and dropped).
   */
  readAll(limit: number): Promise<Buffer | null> {
    if (this.reader !== undefined) return Promise.reject(new Error("http1: body already read as a stream"));
    return new Promise((resolve, reject) => {
      const finish = () => {
        const chunks = this.early ?? [];
        const total = this.earlyBytes;
        this.early = undefined;
        if (this.discarding && !this.bodyEnded) return reject(new Error("http1: body discarded"));
        resolve(total > limit ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      };
      this.limit = limit;
      this.conn.resume();
      this.onBodyEnd(finish);
    });
  }

  /** Set by readAll: body bytes past it are counted, not kept. */
  private limit = Infinity;

  /** Common name of the client's verified certificate (TLS connections with client auth). */
  get peerCommonName(): string | undefined {
    const s = this.conn.socket as Socket & { authorized?: boolean; getPeerCertificate?: () => { subject?: { CN?: string | string[] } } };
    if (s.authorized !== true || s.getPeerCertificate === undefined) return undefined;
    const cn = s.getPeerCertificate().subject?.CN;
    return Array.isArray(cn) ? cn[0] : cn;
  }

  get answered(): boolean {
    return this.headSent || this.ended;
  }

  bodyData(b: Buffer): void {
    if (this.discarding) return;
    if (this.reader === undefined) {
      this.earlyBytes += b.length;
      if (this.earlyBytes > this.limit) {
        // Over a reader's limit: counted, dropped.
        if (this.early !== undefined) this.early.length = 0;
        return;
      }
      // Copied: the socket's buffer may be reused.
      this.early?.push(Buffer.from(b));
      if (this.earlyBytes > MAX_PENDING && this.limit === Infinity) this.conn.pause();
      return;
    }
    if (!this.reader.push(Buffer.from(b))) this.conn.pause();
  }

  bodyEnd(): void {
    this.bodyEnded = true;
    if (this.reader !== undefined && !this.discarding) this.reader.push(null);
    const fns = this.bodyEndFns;
    this.bodyEndFns = [];
    for (const f of fns) f();
  }

  onBodyEnd(fn: () => void): void {
    if (this.bodyEnded) fn();
    else this.bodyEndFns.push(fn);
  }

  /** The body is no longer wanted: drop what comes. */
  discard(): void {
    this.discarding = true;
    this.early = undefined;
    if (this.reader !== undefined) {
      this.reader.removeAllListeners("data");
      this.reader.resume();
    }
  }

  /**
   * An arrow property, not a method: the router wraps it (CORS) and calls it unbound. A field
   * whose name or value would break the head is left out rather than written.
   */
  writeHead = (status: number, headers: Record<string, string>): void => {
    if (this.headSent) return;
    let fields = headers;
    for (const k in headers) {
      if (BAD_VALUE.test(k) || BAD_VALUE.test(String(headers[k]))) {
        fields = Object.fromEntries(Object.entries(headers).filter(([n, v]) => !BAD_VALUE.test(n) && !BAD_VALUE.test(String(v))));
        break;
      }
    }
    this.status = status;
    this.fields = fields;
  };

  private headBytes(contentLength: number | undefined): string {
    let s = `HTTP/1.1 ${this.status} ${REASONS[this.status] ?? "Unknown"}\r\n`;
    let hasDate = false;
    let hasLength = false;
    for (const k in this.fields) {
      const lk = k.toLowerCase();
      if (lk === "transfer-encoding" || lk === "connection") continue;
      if (lk === "date") hasDate = true;
      if (lk === "content-length") {
        if (contentLength !== undefined) continue;
        hasLength = true;
      }
      s += `${k}: ${this.fields[k]}\r\n`;
    }
    if (!hasDate) s += `Date: ${httpDate()}\r\n`;
    const noBody = this.status === 204 || this.status === 304 || this.status < 200;
    if (contentLength !== undefined && !noBody) s += `Content-Length: ${contentLength}\r\n`;
    else if (contentLength === undefined && !hasLength && !noBody) {
      this.chunked = this.head.minor === 1;
      if (this.chunked) s += "Transfer-Encoding: chunked\r\n";
    }
    if (!this.head.keepAlive || (contentLength === undefined && !hasLength && !this.chunked && !noBody)) {
      s += "Connection: close\r\n";
      this.forceClose = true;
    } else if (this.head.minor === 0) s += "Connection: keep-alive\r\n";
    return s + "\r\n";
  }

  private forceClose = false;

  write(chunk: string | Uint8Array): boolean {
    if (this.ended || this.gone) return false;
    if (!this.headSent) {
      this.headSent = true;
      const h = Buffer.from(this.headBytes(undefined), "latin1");
      if (chunk.length === 0) return this.conn.write(h);
      return this.conn.write(Buffer.concat([h, this.frame(chunk)]));
    }
    if (chunk.length === 0) return true;
    return this.conn.write(this.frame(chunk));
  }

  /**
   * A piece of the body as it goes on the wire: a chunk of the chunked encoding, built in one
   * buffer (a streamed answer to a client that does not read is held as these), nothing for HEAD.
   */
  private frame(chunk: string | Uint8Array): Uint8Array {
    if (this.method === "HEAD") return EMPTY;
    if (!this.chunked) return typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    const n = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    const size = n.toString(16);
    const out = Buffer.allocUnsafe(size.length + 2 + n + 2);
    let at = out.write(size, 0, "latin1");
    out[at++] = 13;
    out[at++] = 10;
    if (typeof chunk === "string") out.write(chunk, at, "utf8");
    else out.set(chunk, at);
    out[at + n] = 13;
    out[at + n + 1] = 10;
    return out;
  }

  end(chunk?: string | Uint8Array): void {
    if (this.ended || this.gone) return;
    const b = chunk === undefined ? EMPTY : typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (!this.headSent) {
      this.headSent = true;
      const h = Buffer.from(this.headBytes(b.length), "latin1");
      const withBody = this.method !== "HEAD" && b.length > 0 && !(this.status === 204 || this.status === 304);
      this.conn.write(withBody ? Buffer.concat([h, b]) : h);
    } else {
      if (b.length > 0) this.conn.write(this.frame(b));
      if (this.chunked && this.method !== "HEAD") this.conn.write(LAST_CHUNK);
    }
    this.ended = true;
    this.runClose();
    this.conn.finished(this, this.forceClose);
  }

  /** The handler threw before answering. */
  fail(): void {
    this.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    this.end("Internal Server Error\n");
  }

  get closed(): boolean {
    return this.ended || this.gone;
  }

  /** False while the socket holds more of the answer than the high-water mark (a slow reader). */
  get writable(): boolean {
    return !this.closed && this.conn.socket.writableLength <= this.conn.highWater;
  }

  /** Called each time the socket's buffer drains while this exchange is the current one. */
  onDrain(fn: () => void): void {
    if (!this.closed) this.conn.drainFns.push(fn);
  }

  onClose(fn: () => void): void {
    if (this.gone) fn();
    else this.closeFns.push(fn);
  }

  socketClosed(): void {
    if (this.gone) return;
    this.gone = true;
    if (this.reader !== undefined && !this.bodyEnded) this.reader.destroy();
    this.runClose();
  }

  private runClose(): void {
    const fns = this.closeFns.splice(0);
    for (const f of fns) f();
  }
}
