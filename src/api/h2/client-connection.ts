// The client side of the HTTP/2 engine (RFC 9113): one connection on a connected socket
// (cleartext with prior knowledge, or a TLSSocket whose ALPN chose "h2"), many request streams.
// Used by the gRPC client library (src/client): a one-shot `conclave ctl` command pays neither
// for loading node:http2 (~25 ms under Bun) nor for its per-request overhead.
//
// Receive flow control: large windows granted up front and replenished as soon as DATA is
// handed to the stream's callback (consumers keep up or buffer themselves). Send flow control
// follows the peer's windows; writes wait in a per-stream queue.

import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, Flag, FrameType, MAX_WINDOW_SIZE, Setting,
} from "./constants.ts";
import { ConnectionError } from "./errors.ts";
import { FrameReader } from "./frame-reader.ts";
import { FrameWriter } from "./frame-writer.ts";
import { HpackDecoder } from "./hpack-decoder.ts";
import type { HeaderList } from "./hpack-encoder.ts";

const STREAM_WINDOW = 8 * 1024 * 1024;
const CONNECTION_WINDOW = 32 * 1024 * 1024;
const MAX_FRAME = 1 << 20;
const EMPTY = new Uint8Array(0);

/** One request stream, driven by its callbacks (plain fields, no emitter). */
export interface H2ClientStream {
  readonly id: number;
  /** Response headers (first block) and trailers (a later block with END_STREAM). */
  onheaders: ((fields: Map<string, string>, endStream: boolean) => void) | null;
  ondata: ((chunk: Uint8Array) => void) | null;
  /** Called once: ended normally (error undefined) or reset / connection lost. */
  onclose: ((error: H2StreamError | undefined) => void) | null;
  /** Queues DATA; `end` sets END_STREAM on the last frame. */
  write(data: Uint8Array, end?: boolean): void;
  /** Sends RST_STREAM(CANCEL) and closes the stream. */
  cancel(): void;
  readonly closed: boolean;
}

/** Why a stream ended abnormally: RST_STREAM from the peer, GOAWAY, or the socket going away. */
export class H2StreamError extends Error {
  constructor(readonly code: number, message: string, readonly refused = false) {
    super(message);
  }
}

export interface H2ClientConnection {
  /** Opens a stream with request headers (":method", ":scheme", ":authority", ":path" first). */
  request(headers: HeaderList, endStream?: boolean): H2ClientStream;
  /** Sends PING; resolves with the round trip in ms, rejects if the connection dies first. */
  ping(): Promise<number>;
  /** GOAWAY and close the socket; open streams end with an error. */
  close(): void;
  /** True once the connection can no longer open streams. */
  readonly dead: boolean;
  /** Called once when the connection is gone (error = why, undefined after close()). */
  onclose: ((error: Error | undefined) => void) | null;
}

/**
 * What the connection needs of its socket: node:net's Socket and tls.TLSSocket have it, and so
 * does src/client/tcp-socket.ts over Bun's native socket.
 */
export interface H2Socket {
  setNoDelay?(noDelay?: boolean): unknown;
  on(event: "data", fn: (chunk: Buffer) => void): unknown;
  on(event: "error", fn: (err: Error) => void): unknown;
  on(event: "close" | "drain", fn: () => void): unknown;
  /** Takes all of data (buffering what the kernel does not); false when the caller should wait for "drain". */
  write(data: Uint8Array): boolean;
  end(): unknown;
  destroy(): unknown;
  readonly destroyed: boolean;
}

export function connectH2(socket: H2Socket): H2ClientConnection {
  const c = new ClientConnection(socket);
  c.start();
  return c;
}

class ClientStream implements H2ClientStream {
  onheaders: H2ClientStream["onheaders"] = null;
  ondata: H2ClientStream["ondata"] = null;
  onclose: H2ClientStream["onclose"] = null;
  closed = false;
  sendWindow: number;
  /** Queued output: chunks not yet sent, and whether END_STREAM follows them. */
  queue: Uint8Array[] = [];
  queueOffset = 0;
  endQueued = false;
  endSent = false;
  remoteEnded = false;
  recvUnacked = 0;

  constructor(readonly id: number, private readonly conn: ClientConnection, sendWindow: number) {
    this.sendWindow = sendWindow;
  }

  write(data: Uint8Array, end = false): void {
    if (this.closed || this.endQueued) return;
    if (data.length > 0) this.queue.push(data);
    if (end) this.endQueued = true;
    this.conn.pump(this);
  }

  cancel(): void {
    if (this.closed) return;
    this.conn.resetStream(this, ErrorCode.CANCEL);
  }
}

class ClientConnection implements H2ClientConnection {
  onclose: H2ClientConnection["onclose"] = null;
  dead = false;
  /** Set once fail() has run: every stream is closed and the socket destroyed. */
  private finished = false;
  private readonly reader: FrameReader;
  private readonly writer = new FrameWriter();
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, ClientStream>();
  private readonly blocked = new Set<ClientStream>();
  private nextId = 1;
  private peerInitialWindow = DEFAULT_WINDOW_SIZE;
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW_SIZE;
  private recvUnacked = 0;
  private flushScheduled = false;
  private readonly pings: Array<{ at: number; resolve: (ms: number) => void; reject: (e: Error) => void }> = [];
  /** Header block being continued (CONTINUATION): stream, END_STREAM flag, fragments. */
  private contStream = 0;
  private contEnd = false;
  private contParts: Buffer[] = [];

  constructor(private readonly socket: H2Socket) {
    this.reader = new FrameReader(MAX_FRAME, (t, f, id, buf, s, e) => this.onFrame(t, f, id, buf, s, e), false);
  }

  start(): void {
    this.socket.setNoDelay?.(true);
    this.socket.on("data", (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        const code = err instanceof ConnectionError ? err.code : ErrorCode.PROTOCOL_ERROR;
        this.fail(new H2StreamError(code, (err as Error).message), code);
      }
    });
    this.socket.on("error", (err) => this.fail(err, undefined));
    this.socket.on("close", () => this.fail(new H2StreamError(ErrorCode.CONNECT_ERROR, "transport is closing"), undefined));
    this.socket.on("drain", () => this.pumpAll());
    const preface = Buffer.from(CLIENT_PREFACE);
    this.writer.settings([
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
      [Setting.MAX_FRAME_SIZE, MAX_FRAME],
    ]);
    this.writer.windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW_SIZE);
    const settings = this.writer.take()!;
    this.socket.write(Buffer.concat([preface, settings]));
  }

  request(headers: HeaderList, endStream = false): H2ClientStream {
    if (this.dead) {
      const s = new ClientStream(0, this, 0);
      s.closed = true;
      queueMicrotask(() => s.onclose?.(new H2StreamError(ErrorCode.REFUSED_STREAM, "transport is closing", true)));
      return s;
    }
    const id = this.nextId;
    this.nextId += 2;
    const s = new ClientStream(id, this, this.peerInitialWindow);
    this.streams.set(id, s);
    this.writer.headers(id, headers, endStream, this.peerMaxFrame);
    if (endStream) {
      s.endQueued = true;
      s.endSent = true;
    }
    this.scheduleFlush();
    return s;
  }

  ping(): Promise<number> {
    if (this.dead) return Promise.reject(new Error("transport is closing"));
    return new Promise((resolve, reject) => {
      this.pings.push({ at: performance.now(), resolve, reject });
      const payload = Buffer.alloc(8);
      this.writeRaw(FrameType.PING, 0, 0, payload);
    });
  }

  close(): void {
    if (this.finished) return;
    if (!this.dead) {
      this.writer.goaway(0, ErrorCode.NO_ERROR, "");
      this.flush();
    }
    this.fail(undefined, undefined);
  }

  /** Sends what a stream has queued, as far as the windows allow. */
  pump(s: ClientStream): void {
    if (s.closed) return;
    while (s.queue.length > 0) {
      const chunk = s.queue[0]!;
      const left = chunk.length - s.queueOffset;
      const n = Math.min(left, s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (n <= 0) {
        this.blocked.add(s);
        this.scheduleFlush();
        return;
      }
      const last = n === left && s.queue.length === 1 && s.endQueued;
      this.writer.data(s.id, last, chunk, s.queueOffset, s.queueOffset + n);
      s.sendWindow -= n;
      this.sendWindow -= n;
      if (n === left) {
        s.queue.shift();
        s.queueOffset = 0;
      } else {
        s.queueOffset += n;
      }
      if (last) s.endSent = true;
      if (this.writer.pending > 256 * 1024) this.flush();
    }
    if (s.endQueued && !s.endSent) {
      this.writer.data(s.id, true, EMPTY, 0, 0);
      s.endSent = true;
    }
    this.blocked.delete(s);
    this.scheduleFlush();
  }

  resetStream(s: ClientStream, code: number): void {
    this.writer.rstStream(s.id, code);
    this.scheduleFlush();
    this.closeStream(s, new H2StreamError(code, "stream canceled"));
  }

  private pumpAll(): void {
    for (const s of [...this.blocked]) this.pump(s);
  }

  private closeStream(s: ClientStream, error: H2StreamError | undefined): void {
    if (s.closed) return;
    s.closed = true;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    s.onclose?.(error);
    // After the peer's GOAWAY the connection ends with its last stream.
    if (this.dead && !this.finished && this.streams.size === 0) this.fail(undefined, undefined);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const out = this.writer.take();
    if (out !== null && !this.socket.destroyed) this.socket.write(out);
  }

  private writeRaw(type: number, flags: number, streamId: number, payload: Buffer): void {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(streamId, 5);
    this.flush();
    if (!this.socket.destroyed) this.socket.write(Buffer.concat([head, payload]));
  }

  private fail(error: Error | undefined, goawayCode: number | undefined): void {
    // `dead` alone is not enough: after the peer's GOAWAY the connection is dead (no new
    // streams) while the streams it still serves run on; they end here, when the socket goes.
    if (this.finished) return;
    this.finished = true;
    this.dead = true;
    if (goawayCode !== undefined) {
      this.writer.goaway(0, goawayCode, error?.message ?? "");
      this.flush();
    }
    const streamErr = new H2StreamError(ErrorCode.CONNECT_ERROR, error?.message ?? "transport is closing");
    for (const s of [...this.streams.values()]) this.closeStream(s, streamErr);
    for (const p of this.pings.splice(0)) p.reject(streamErr);
    this.socket.end();
    this.socket.destroy();
    this.onclose?.(error);
  }

  private onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.contStream !== 0 && type !== FrameType.CONTINUATION) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: expected CONTINUATION");
    }
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, id, buf, start, end);
      case FrameType.HEADERS: {
        let s0 = start;
        let e0 = end;
        if (flags & Flag.PADDED) {
          const pad = buf[s0]!;
          s0 += 1;
          e0 -= pad;
        }
        if (flags & Flag.PRIORITY) s0 += 5;
        if (s0 > e0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: bad HEADERS padding");
        if (flags & Flag.END_HEADERS) return this.onHeaderBlock(id, flags & Flag.END_STREAM, buf.subarray(s0, e0));
        this.contStream = id;
        this.contEnd = (flags & Flag.END_STREAM) !== 0;
        this.contParts = [Buffer.from(buf.subarray(s0, e0))];
        return;
      }
      case FrameType.CONTINUATION: {
        if (id !== this.contStream) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: unexpected CONTINUATION");
        this.contParts.push(Buffer.from(buf.subarray(start, end)));
        if (flags & Flag.END_HEADERS) {
          const block = Buffer.concat(this.contParts);
          this.contStream = 0;
          this.contParts = [];
          this.onHeaderBlock(id, this.contEnd ? Flag.END_STREAM : 0, block);
        }
        return;
      }
      case FrameType.RST_STREAM: {
        const s = this.streams.get(id);
        if (s !== undefined) {
          const code = buf.readUInt32BE(start);
          this.closeStream(s, new H2StreamError(code, `stream terminated by RST_STREAM with error code: ${rstName(code)}`, code === ErrorCode.REFUSED_STREAM));
        }
        return;
      }
      case FrameType.SETTINGS:
        if (flags & Flag.ACK) return;
        for (let o = start; o + 6 <= end; o += 6) {
          const key = buf.readUInt16BE(o);
          const value = buf.readUInt32BE(o + 2);
          if (key === Setting.INITIAL_WINDOW_SIZE) {
            if (value > MAX_WINDOW_SIZE) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "h2: bad initial window");
            const delta = value - this.peerInitialWindow;
            this.peerInitialWindow = value;
            for (const s of this.streams.values()) s.sendWindow += delta;
          } else if (key === Setting.MAX_FRAME_SIZE) {
            this.peerMaxFrame = value;
          }
        }
        this.writer.settingsAck();
        this.scheduleFlush();
        this.pumpAll();
        return;
      case FrameType.PING:
        if (flags & Flag.ACK) {
          const p = this.pings.shift();
          p?.resolve(performance.now() - p.at);
        } else {
          this.writer.pingAck(buf, start);
          this.scheduleFlush();
        }
        return;
      case FrameType.GOAWAY: {
        const last = buf.readUInt32BE(start) & 0x7fffffff;
        const code = buf.readUInt32BE(start + 4);
        const debug = buf.subarray(start + 8, end).toString("utf8");
        this.dead = true;
        // Streams above last-stream-id were never processed: they may be retried elsewhere.
        for (const s of [...this.streams.values()]) {
          if (s.id > last) this.closeStream(s, new H2StreamError(code, `the server sent GOAWAY ${debug}`.trim(), true));
        }
        if (this.streams.size === 0) this.fail(undefined, undefined);
        return;
      }
      case FrameType.WINDOW_UPDATE: {
        const inc = buf.readUInt32BE(start) & 0x7fffffff;
        if (id === 0) {
          this.sendWindow += inc;
          this.pumpAll();
        } else {
          const s = this.streams.get(id);
          if (s !== undefined) {
            s.sendWindow += inc;
            this.pump(s);
          }
        }
        return;
      }
      default:
        return; // PRIORITY, unknown extension frames: ignored (RFC 9113 §5.5)
    }
  }

  private onHeaderBlock(id: number, endStream: number, block: Uint8Array): void {
    // Decode even for closed streams: the HPACK table must stay in step.
    this.decoder.decode(block);
    const s = this.streams.get(id);
    if (s === undefined) return;
    const fields = new Map<string, string>();
    for (let i = 0; i < this.decoder.count; i++) {
      const name = this.decoder.names[i]!;
      const prev = fields.get(name);
      fields.set(name, prev === undefined ? this.decoder.values[i]! : `${prev}, ${this.decoder.values[i]}`);
    }
    s.onheaders?.(fields, endStream !== 0);
    if (endStream) this.remoteEnd(s);
  }

  private onData(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    const len = end - start;
    let s0 = start;
    let e0 = end;
    if (flags & Flag.PADDED) {
      const pad = buf[s0]!;
      s0 += 1;
      e0 -= pad;
    }
    // Connection-level window: every DATA octet counts, even for streams already closed.
    this.recvUnacked += len;
    if (this.recvUnacked >= CONNECTION_WINDOW / 4) {
      this.writer.windowUpdate(0, this.recvUnacked);
      this.recvUnacked = 0;
      this.scheduleFlush();
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    s.recvUnacked += len;
    if (e0 > s0) s.ondata?.(buf.subarray(s0, e0));
    if (s.closed) return;
    if (s.recvUnacked >= STREAM_WINDOW / 4 && !(flags & Flag.END_STREAM)) {
      this.writer.windowUpdate(id, s.recvUnacked);
      s.recvUnacked = 0;
      this.scheduleFlush();
    }
    if (flags & Flag.END_STREAM) this.remoteEnd(s);
  }

  private remoteEnd(s: ClientStream): void {
    s.remoteEnded = true;
    if (!s.endSent) {
      // The server answered before our request finished (e.g. trailers-only error): stop sending.
      this.writer.rstStream(s.id, ErrorCode.NO_ERROR);
      this.scheduleFlush();
    }
    this.closeStream(s, undefined);
  }
}

function rstName(code: number): string {
  for (const [name, v] of Object.entries(ErrorCode)) if (v === code) return name;
  return String(code);
}
