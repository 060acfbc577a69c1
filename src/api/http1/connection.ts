// One server-side HTTP/1.1 connection (RFC 9112) on a connected socket: request heads parsed
// from the bytes, bodies by Content-Length or chunked, one exchange at a time (pipelined
// requests wait their turn), keep-alive, `Expect: 100-continue`, and an answer written in one
// socket write when its body is known at once (head + Content-Length + body), chunked otherwise.
// What an answer queues for a client that does not read is bounded as an HTTP/2 connection's
// output is (the same OutputGuard and limits); a websocket upgrade can take the socket over.
// Read-header and idle timeouts and the connection cap are the port's (src/api/port), which
// applies them to this engine and to node:http alike.
// Each request and its answer are an Exchange (exchange.ts).
//
// Measured under Bun: a socket handed to node:http with emit("connection") served 12k trivial
// answers/s, node:http on its own listener 28k/s, this loop on the raw socket 57k/s.
import type { Socket } from "node:net";
import { DEFAULT_LIMITS, OutputGuard, realClock, type H2Clock } from "../h2/index.ts";
import type { HttpExchange } from "../http/exchange.ts";
import { Exchange, MAX_PENDING } from "./exchange.ts";
import { HeadError, parseHead, refusalAnswer, type RequestHead } from "./request-head.ts";

export interface H1Options {
  /** A request head arrived: answer it through the exchange (its body streams in meanwhile). */
  readonly onRequest: (ex: HttpExchange) => void;
  /**
   * A request with an Upgrade field: return true to take the socket over (a websocket). The
   * engine stops reading it and hands over the bytes that followed the head. Otherwise, or
   * without this option, the request is served as a plain one, as Go's server does when the
   * handler does not hijack the connection.
   */
  readonly onUpgrade?: (head: RequestHead, socket: Socket, rest: Buffer) => boolean;
  /** Largest request head (request line and fields); larger gets 431. Default Go's (see below). */
  readonly maxHeadBytes?: number;
  /** Bounds on what answers may queue for a client that does not read; default the h2 engine's. */
  readonly output?: { readonly bound: number; readonly hardCap: number; readonly deadlineMs: number; readonly highWater: number };
  readonly clock?: H2Clock;
  readonly onError?: (err: unknown) => void;
}

/**
 * Go's http.Server reads a request head up to MaxHeaderBytes (DefaultMaxHeaderBytes, 1 MiB)
 * plus 4096 octets of slack (initialReadLimitSize) before answering 431; etcd keeps Go's default.
 */
export const DEFAULT_MAX_HEAD_BYTES = (1 << 20) + 4096;

const CRLFCRLF = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");
const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n");
const EMPTY = Buffer.alloc(0);
/** An unread request body up to this size is skipped to keep the connection; larger closes it. */
const MAX_DISCARD = 1 << 20;

/** Serves HTTP/1.x on a connected socket; `alreadyRead` holds bytes a protocol sniffer took. */
export function serveH1(socket: Socket, opts: H1Options, alreadyRead?: Uint8Array): void {
  new Connection(socket, opts).start(alreadyRead);
}

type ChunkState = "size" | "data" | "data-crlf" | "trailers";

class Connection {
  /** Unparsed input. Either a chunk as the socket gave it, or a view of `store` ending at storeLen. */
  private buf: Buffer = EMPTY;
  /** Owned input storage, grown by doubling: a head arriving an octet at a time costs linear time. */
  private store: Buffer | undefined;
  private storeLen = 0;
  /** How far the current head has been searched for CRLFCRLF. */
  private scanned = 0;
  private ex: Exchange | undefined;
  /** Body bytes still expected (length framing) or chunk bytes left (chunked). */
  private remaining = 0;
  private chunk: ChunkState = "size";
  private bodyDone = true;
  private dead = false;
  private paused = false;
  private readonly maxHead: number;
  /** Octets of answers the socket holds past which the current exchange is not writable. */
  readonly highWater: number;
  private readonly guard: OutputGuard;
  /** The current exchange's drain callbacks (StreamFlow of a streamed answer). */
  drainFns: (() => void)[] = [];
  /** The engine's socket listeners (removed when an upgrade takes the socket over). */
  private readonly listeners: Array<[string, (d: Buffer) => void]>;

  constructor(
    readonly socket: Socket,
    private readonly opts: H1Options,
  ) {
    this.maxHead = opts.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    const o = opts.output ?? {
      bound: DEFAULT_LIMITS.connectionOutputBound,
      hardCap: DEFAULT_LIMITS.connectionOutputHardCap,
      deadlineMs: DEFAULT_LIMITS.outputDeadlineMs,
      highWater: DEFAULT_LIMITS.streamHighWater,
    };
    this.highWater = o.highWater;
    this.guard = new OutputGuard(
      { bound: o.bound, hardCap: o.hardCap, deadlineMs: o.deadlineMs, clock: opts.clock ?? realClock, onExceeded: () => this.destroy() },
      () => socket.writableLength,
    );
    this.listeners = [
      ["data", (d: Buffer) => this.onData(d)],
      ["error", () => this.destroy()],
      ["close", () => {
        this.dead = true;
        this.guard.stop();
        this.ex?.socketClosed();
      }],
      ["end", () => {
        // The client closed its side: finish what is in flight, then close ours.
        if (this.ex === undefined && this.buf.length === 0) socket.end();
      }],
      ["drain", () => {
        this.guard.update();
        for (const fn of this.drainFns) fn();
      }],
    ];
  }

  start(alreadyRead?: Uint8Array): void {
    const s = this.socket;
    s.setNoDelay(true);
    for (const [ev, fn] of this.listeners) s.on(ev, fn);
    if (alreadyRead !== undefined && alreadyRead.length > 0) this.onData(Buffer.from(alreadyRead.buffer, alreadyRead.byteOffset, alreadyRead.length));
  }

  private onData(d: Buffer): void {
    if (this.dead) return;
    this.append(d);
    this.pump();
  }

  /** Adds input after `buf`: the chunk itself when nothing waits, else copied into `store`. */
  private append(d: Buffer): void {
    const b = this.buf;
    if (b.length === 0) {
      this.buf = d;
      return;
    }
    const st = this.store;
    if (st !== undefined && b.buffer === st.buffer && b.byteOffset + b.length === st.byteOffset + this.storeLen && st.length - this.storeLen >= d.length) {
      d.copy(st, this.storeLen);
      const from = b.byteOffset - st.byteOffset;
      this.storeLen += d.length;
      this.buf = st.subarray(from, this.storeLen);
      return;
    }
    const n = Buffer.allocUnsafeSlow(Math.max(2 * (b.length + d.length), 16384));
    b.copy(n, 0);
    d.copy(n, b.length);
    this.store = n;
    this.storeLen = b.length + d.length;
    this.buf = n.subarray(0, this.storeLen);
  }

  /** Parses as far as the buffered bytes and the current exchange allow. */
  private pump(): void {
    try {
      while (!this.dead) {
        if (!this.bodyDone) {
          if (!this.readBody()) break;
          continue;
        }
        if (this.ex !== undefined) {
          // The answer to the current request is not finished: later requests wait.
          if (this.buf.length > MAX_PENDING && !this.paused) this.pause();
          break;
        }
        if (this.buf.length === 0) break;
        if (!this.readHead()) break;
      }
    } catch (e) {
      if (e instanceof HeadError) this.refuse(e);
      else {
        this.opts.onError?.(e);
        this.destroy();
      }
    }
  }

  /** Reads one request head if complete; false when more bytes are needed. */
  private readHead(): boolean {
    const end = this.buf.indexOf(CRLFCRLF, Math.max(0, this.scanned - 3));
    if (end < 0) {
      this.scanned = this.buf.length;
      // Go reads at most the limit while looking for the head's end (terminator included).
      if (this.buf.length >= this.maxHead) throw new HeadError(431, "request head too large");
      return false;
    }
    if (end + 4 > this.maxHead) throw new HeadError(431, "request head too large");
    // Leading empty lines before a request line are ignored (RFC 9112 §2.2).
    let text = this.buf.toString("latin1", 0, end);
    while (text.startsWith("\r\n")) text = text.slice(2);
    this.buf = this.buf.subarray(end + 4);
    this.scanned = 0;
    if (text === "") return true;
    const head = parseHead(text);
    if (head.headers.upgrade !== undefined && this.opts.onUpgrade !== undefined && this.takenOver(head)) return false;
    const ex = new Exchange(this, head);
    this.ex = ex;
    if (head.body.kind === "length") {
      this.remaining = head.body.length;
      this.bodyDone = false;
    } else if (head.body.kind === "chunked") {
      this.chunk = "size";
      this.bodyDone = false;
    } else {
      this.bodyDone = true;
    }
    if (!this.bodyDone && head.expectContinue) this.socket.write(CONTINUE);
    if (this.bodyDone) ex.bodyEnd();
    try {
      this.opts.onRequest(ex);
    } catch (e) {
      this.opts.onError?.(e);
      if (!ex.answered) ex.fail();
    }
    return true;
  }

  /** Moves buffered body bytes to the exchange; false when more bytes are needed. */
  private readBody(): boolean {
    const ex = this.ex!;
    for (;;) {
      if (this.buf.length === 0) return false;
      if (this.ex?.head.body.kind === "length" || this.chunk === "data") {
        const n = Math.min(this.remaining, this.buf.length);
        const part = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        this.remaining -= n;
        ex.bodyData(part);
        if (this.remaining > 0) return false;
        if (ex.head.body.kind === "length") {
          this.finishBody();
          return true;
        }
        this.chunk = "data-crlf";
        continue;
      }
      const nl = this.buf.indexOf(CRLF);
      if (nl < 0) {
        if (this.buf.length > 4096) throw new HeadError(400, "malformed chunked body");
        return false;
      }
      const line = this.buf.toString("latin1", 0, nl);
      this.buf = this.buf.subarray(nl + 2);
      if (this.chunk === "data-crlf") {
        if (line !== "") throw new HeadError(400, "malformed chunked body");
        this.chunk = "size";
      } else if (this.chunk === "size") {
        const m = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
        if (m === null) throw new HeadError(400, "malformed chunk size");
        this.remaining = parseInt(m[1]!, 16);
        this.chunk = this.remaining === 0 ? "trailers" : "data";
      } else if (line === "") {
        // Trailer fields are read and dropped.
        this.finishBody();
        return true;
      }
    }
  }

  private finishBody(): void {
    this.bodyDone = true;
    this.ex!.bodyEnd();
  }

  /** Offers an upgrade request's socket to onUpgrade; true when it was taken over. */
  private takenOver(head: RequestHead): boolean {
    const rest = Buffer.from(this.buf);
    const s = this.socket;
    this.dead = true;
    for (const [ev, fn] of this.listeners) s.off(ev, fn);
    this.guard.stop();
    let taken = false;
    try {
      taken = this.opts.onUpgrade!(head, s, rest);
    } catch (e) {
      this.opts.onError?.(e);
      s.destroy();
      return true;
    }
    if (taken) {
      this.buf = EMPTY;
      this.store = undefined;
      return true;
    }
    // Served as a plain request after all.
    this.dead = false;
    for (const [ev, fn] of this.listeners) s.on(ev, fn);
    this.guard.update();
    return false;
  }

  /** Flow control from a body reader: stop or go on reading the socket. */
  pause(): void {
    if (this.paused || this.dead) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused || this.dead) return;
    this.paused = false;
    this.socket.resume();
  }

  write(b: Buffer | Uint8Array): boolean {
    if (this.dead) return false;
    const ok = this.socket.write(b);
    if (!ok) this.guard.update();
    return ok;
  }

  /** The answer to `ex` is complete: go on with the next request, or close. */
  finished(ex: Exchange, close: boolean): void {
    if (this.ex !== ex) return;
    this.drainFns = [];
    if (close || !ex.head.keepAlive) {
      this.dead = true;
      this.socket.end();
      return;
    }
    if (!this.bodyDone) {
      // The answer did not wait for the body: skip a small rest, close on a large one.
      const left = ex.head.body.kind === "length" ? this.remaining : MAX_DISCARD + 1;
      if (left > MAX_DISCARD) {
        this.dead = true;
        this.socket.end();
        return;
      }
      ex.discard();
    }
    this.ex = this.bodyDone ? undefined : this.ex;
    if (this.ex !== undefined) {
      // Reading the rest of the body; the next request follows once it is done.
      this.waitBodyThenNext(ex);
      return;
    }
    this.resume();
    queueMicrotask(() => this.pump());
  }

  private waitBodyThenNext(ex: Exchange): void {
    ex.onBodyEnd(() => {
      if (this.ex === ex) this.ex = undefined;
      this.resume();
      queueMicrotask(() => this.pump());
    });
    this.resume();
    this.pump();
  }

  /** Answers a malformed or oversized request as Go's server does, and closes. */
  refuse(e: HeadError): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.end(refusalAnswer(e.status, e.reason));
  }

  destroy(): void {
    this.dead = true;
    this.guard.stop();
    this.socket.destroy();
  }

  get isDead(): boolean {
    return this.dead;
  }
}
