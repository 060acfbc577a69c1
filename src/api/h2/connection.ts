// One server-side HTTP/2 connection (RFC 9113) on a connected socket: frame dispatch, stream
// lifecycle and the connection's defences (limits.ts). Output (flow control, write batching,
// congestion) lives in output.ts; this class is its host.

import type { Socket } from "node:net";
import {
  DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, Flag, FrameType, MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE, Setting,
} from "./constants.ts";
import { ConnectionError, StreamError } from "./errors.ts";
import { FrameReader } from "./frame-reader.ts";
import { HeaderBlock } from "./header-block.ts";
import { HpackDecoder } from "./hpack-decoder.ts";
import { Hold, InputPacer } from "./input-pacer.ts";
import type { HeaderList } from "./hpack-encoder.ts";
import { KeepaliveTimer } from "./keepalive.ts";
import {
  continuationLimit, DEFAULT_KEEPALIVE, DEFAULT_LIMITS, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_HEADER_LIST_SIZE,
  realClock, REFUSALS_BEFORE_SLOW, type H2Clock, type H2Limits,
} from "./limits.ts";
import { Output, type OutputHost } from "./output.ts";
import { PingPolicy, TOO_MANY_PINGS } from "./ping-policy.ts";
import { RateCounter } from "./rate-counter.ts";
import { requestHeaders } from "./request-headers.ts";
import { ServerStream } from "./stream.ts";
import type { H2Connection, H2Options } from "./types.ts";

/** Connection-level receive window we grant up front (RFC 9113 §6.9.2). */
const CONNECTION_WINDOW = 16 * 1024 * 1024;
const STATUS_431: HeaderList = [[":status", "431"]];
/** How long an ended connection waits for its client to read the last frames. */
const LINGER_MS = 1000;

/**
 * Serves HTTP/2 on a connected socket (cleartext with prior knowledge, or a TLSSocket whose ALPN
 * chose "h2"). alreadyRead: octets a protocol sniffer consumed from the socket (the preface
 * included); they are processed before serveH2 returns, so onStream may already run inside it.
 * Never throws out of socket callbacks: protocol errors become RST_STREAM / GOAWAY.
 */
export function serveH2(socket: Socket, opts: H2Options, alreadyRead?: Uint8Array): H2Connection {
  const c = new Connection(socket, opts);
  c.start(alreadyRead);
  return c;
}

class Connection implements OutputHost, H2Connection {
  private readonly reader: FrameReader;
  private readonly out: Output;
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, ServerStream>();
  private readonly block: HeaderBlock;

  private readonly limits: H2Limits;
  private readonly clock: H2Clock;
  private readonly maxConcurrent: number;
  private readonly initialWindow: number;
  private readonly maxHeaderList: number;
  private readonly resets: RateCounter;
  private readonly cancels: RateCounter;
  private readonly pings: PingPolicy;
  private readonly keepalive: KeepaliveTimer;
  private handshakeTimer: unknown;
  /** Clock reading taken once per input slice, used by the per-frame policies. */
  private now = 0;
  private readonly input: InputPacer;

  private peerInitialWindow = DEFAULT_WINDOW_SIZE;
  private gotSettings = false;

  /** Connection window for receiving, and octets consumed but not yet acknowledged. */
  private recvWindow = CONNECTION_WINDOW;
  private recvUnacked = 0;

  /** Highest client stream id seen. Invariant: streams only holds ids <= lastStreamId. */
  private lastStreamId = 0;

  /** Header lists refused in a row (see REFUSALS_BEFORE_SLOW). */
  private refusals = 0;

  private goawaySent = false;
  private peerGoaway = false;
  private dead = false;
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((r) => (this.resolveClosed = r));

  constructor(private readonly socket: Socket, private readonly opts: H2Options) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.clock = opts.clock ?? realClock;
    this.maxConcurrent = Math.min(opts.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_CONCURRENT_STREAMS);
    this.initialWindow = opts.initialWindowSize ?? 1024 * 1024;
    this.maxHeaderList = opts.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;
    const maxFrame = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (maxFrame < DEFAULT_MAX_FRAME_SIZE || maxFrame > MAX_ALLOWED_FRAME_SIZE) throw new RangeError("h2: maxFrameSize out of range");
    if (this.initialWindow > MAX_WINDOW_SIZE) throw new RangeError("h2: initialWindowSize out of range");
    this.block = new HeaderBlock(this.limits.maxContinuationFrames || continuationLimit(this.maxHeaderList));
    this.resets = new RateCounter(this.limits.maxResetsPerSecond);
    this.cancels = new RateCounter(this.limits.maxCanceledPerSecond);
    const ka = { ...DEFAULT_KEEPALIVE, ...opts.keepalive };
    this.pings = new PingPolicy(ka);
    this.out = new Output(socket, this, this.limits, this.clock);
    this.keepalive = new KeepaliveTimer(ka, this.clock, {
      sendPing: () => this.out.ping(),
      expire: () => this.violation(ErrorCode.NO_ERROR, "keepalive ping not answered"),
    });
    this.reader = new FrameReader(maxFrame, (t, f, id, b, s, e) => this.onFrame(t, f, id, b, s, e));
    this.input = new InputPacer(socket, this.clock, (slice, now) => this.slice(slice, now));
  }

  start(alreadyRead: Uint8Array | undefined): void {
    const s = this.socket;
    s.setNoDelay?.(true);
    s.on("data", (chunk: Buffer) => this.onData(chunk));
    s.on("error", () => this.teardown());
    s.on("close", () => this.teardown());
    s.on("end", () => {
      // The peer is done sending: what is already queued still goes out.
      this.out.flush();
      this.teardown();
    });
    this.handshakeTimer = this.clock.setTimeout(() => {
      this.handshakeTimer = undefined;
      if (!this.gotSettings) this.violation(ErrorCode.SETTINGS_TIMEOUT, "no SETTINGS frame within the handshake timeout");
    }, this.limits.handshakeTimeoutMs);
    const settings: Array<[number, number]> = [
      [Setting.MAX_CONCURRENT_STREAMS, this.maxConcurrent],
      [Setting.INITIAL_WINDOW_SIZE, this.initialWindow],
      [Setting.MAX_HEADER_LIST_SIZE, this.maxHeaderList],
    ];
    if (this.reader.maxFrameSize !== DEFAULT_MAX_FRAME_SIZE) settings.push([Setting.MAX_FRAME_SIZE, this.reader.maxFrameSize]);
    this.out.writer.settings(settings);
    this.out.writer.windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW_SIZE);
    this.out.schedule();
    if (alreadyRead && alreadyRead.length > 0) {
      this.onData(Buffer.isBuffer(alreadyRead) ? alreadyRead : Buffer.from(alreadyRead.buffer, alreadyRead.byteOffset, alreadyRead.byteLength));
    }
  }

  // ---- H2Connection ----

  get openStreams(): number {
    return this.streams.size;
  }

  get queuedBytes(): number {
    return this.out.queuedBytes;
  }

  close(): void {
    if (this.dead) return;
    this.out.writer.goaway(this.lastStreamId, ErrorCode.NO_ERROR, "");
    this.shutdown();
  }

  goaway(): void {
    if (this.dead || this.goawaySent) return;
    this.goawaySent = true;
    this.out.writer.goaway(this.lastStreamId, ErrorCode.NO_ERROR, "");
    this.out.schedule();
    if (this.streams.size === 0) this.shutdown();
  }

  abort(code: number, reason: string): void {
    this.violation(code, reason);
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    this.keepalive.read(this.clock.now());
    this.input.push(chunk);
  }

  /** One slice of input; false once the connection has ended. */
  private slice(slice: Buffer, now: number): boolean {
    this.now = now;
    try {
      this.reader.push(slice);
    } catch (e) {
      if (e instanceof ConnectionError) {
        if (e.code === ErrorCode.ENHANCE_YOUR_CALM) this.violation(e.code, e.message);
        else this.fail(e.code, e.message);
      } else {
        this.report(e);
        this.fail(ErrorCode.INTERNAL_ERROR, "internal error");
      }
    }
    // The flush for this slice's responses is scheduled; pending WINDOW_UPDATEs ride along.
    return !this.dead;
  }

  holdReading(hold: boolean): void {
    this.input.hold(Hold.OUTPUT, hold);
  }

  private onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.block.stream !== 0 && type !== FrameType.CONTINUATION) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: expected CONTINUATION");
    }
    if (!this.gotSettings) {
      if (type !== FrameType.SETTINGS || flags & Flag.ACK) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: first frame must be SETTINGS");
      this.gotSettings = true;
      if (this.handshakeTimer !== undefined) this.clock.clearTimeout(this.handshakeTimer);
      this.handshakeTimer = undefined;
    }
    try {
      switch (type) {
        case FrameType.DATA: return this.onDataFrame(flags, id, buf, start, end);
        case FrameType.HEADERS: return this.onHeaders(flags, id, buf, start, end);
        case FrameType.CONTINUATION: return this.onContinuation(flags, id, buf, start, end);
        case FrameType.PRIORITY:
          if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: PRIORITY on stream 0");
          if (end - start !== 5) throw new StreamError(ErrorCode.FRAME_SIZE_ERROR, id, "h2: PRIORITY length");
          return;
        case FrameType.RST_STREAM: return this.onRstStream(id, end - start);
        case FrameType.SETTINGS: return this.onSettings(flags, id, buf, start, end);
        case FrameType.PUSH_PROMISE: throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: PUSH_PROMISE from client");
        case FrameType.PING: return this.onPing(flags, id, buf, start, end);
        case FrameType.GOAWAY: return this.onGoaway(id, end - start);
        case FrameType.WINDOW_UPDATE: return this.onWindowUpdate(id, buf, start, end);
        default: return; // unknown frame types are ignored (RFC 9113 §4.1)
      }
    } catch (e) {
      if (!(e instanceof StreamError)) throw e;
      this.out.rstStream(e.streamId, e.code);
      const s = this.streams.get(e.streamId);
      if (s) this.closeStream(s, true);
    }
  }

  private onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: DATA on stream 0");
    const frameLen = end - start;
    // Flow control counts the whole payload, padding included (RFC 9113 §6.9.1).
    this.recvWindow -= frameLen;
    if (this.recvWindow < 0) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "h2: connection window exceeded");
    this.consumed(frameLen);
    if (flags & Flag.PADDED) {
      if (frameLen === 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: DATA too short for padding");
      const pad = buf[start];
      start++;
      if (pad > end - start) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: padding exceeds payload");
      end -= pad;
    }
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id > this.lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: DATA on idle stream");
      return; // a stream we closed or reset: the data is dropped, its window already returned
    }
    if (s.remoteEnded) throw new StreamError(ErrorCode.STREAM_CLOSED, id, "h2: DATA after END_STREAM");
    s.recvWindow -= frameLen;
    if (s.recvWindow < 0) throw new StreamError(ErrorCode.FLOW_CONTROL_ERROR, id, "h2: stream window exceeded");
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (!endStream) {
      s.recvUnacked += frameLen;
      if (s.recvUnacked >= this.initialWindow >> 1) {
        this.out.writer.windowUpdate(id, s.recvUnacked);
        s.recvWindow += s.recvUnacked;
        s.recvUnacked = 0;
        this.out.schedule();
      }
    }
    const n = end - start;
    if (n > 0) {
      s.received += n;
      const cb = s.ondata;
      if (cb !== null) {
        try {
          cb(buf.subarray(start, end));
        } catch (e) {
          this.callbackFailed(s, e);
          return;
        }
      }
    }
    if (endStream && !s.closed) this.remoteEnd(s);
  }

  /** Returns received octets to the connection window in batches. */
  private consumed(n: number): void {
    this.recvUnacked += n;
    if (this.recvUnacked >= CONNECTION_WINDOW >> 1) {
      this.out.writer.windowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
      this.out.schedule();
    }
  }

  private onHeaders(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: HEADERS on stream 0");
    if (flags & Flag.PADDED) {
      if (end === start) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: HEADERS too short for padding");
      const pad = buf[start];
      start++;
      if (pad > end - start) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: padding exceeds payload");
      end -= pad;
    }
    let selfDependent = false;
    if (flags & Flag.PRIORITY) {
      if (end - start < 5) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: HEADERS too short for priority");
      selfDependent = (buf.readUInt32BE(start) & 0x7fffffff) === id;
      start += 5;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const last = (flags & Flag.END_HEADERS) !== 0;
    this.decoder.begin(this.maxHeaderList);
    this.block.begin(id, endStream, selfDependent);
    this.fragment(buf.subarray(start, end), last);
    if (last) this.headersDone(id, endStream, selfDependent);
  }

  private onContinuation(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    const b = this.block;
    if (b.stream === 0 || id !== b.stream) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: unexpected CONTINUATION");
    b.continued();
    const last = (flags & Flag.END_HEADERS) !== 0;
    this.fragment(buf.subarray(start, end), last);
    if (last) this.headersDone(id, b.endStream, b.selfDependent);
  }

  /** One piece of a header block; the rest of a block past the list limit is read at a slowed pace. */
  private fragment(frag: Buffer, last: boolean): void {
    this.block.decode(this.decoder, frag, last, this.maxHeaderList);
    if (!last && this.decoder.truncated) this.input.slow = true;
  }

  /** A request's (or trailers') header block is complete and decoded. */
  private headersDone(id: number, endStream: boolean, selfDependent: boolean): void {
    const d = this.decoder;
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      // Trailers: must end the stream and carry no pseudo-header fields (RFC 9113 §8.1).
      if (existing.remoteEnded) throw new StreamError(ErrorCode.STREAM_CLOSED, id, "h2: HEADERS after END_STREAM");
      if (!endStream) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: trailers without END_STREAM");
      for (let i = 0; i < d.count; i++) {
        if (d.names[i].charCodeAt(0) === 58) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: pseudo-header in trailers");
      }
      this.remoteEnd(existing);
      return;
    }
    if ((id & 1) === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: client stream id must be odd");
    // A new stream's id must exceed every id used before (RFC 9113 §5.1.1); Go's server ends
    // the connection for HEADERS on a closed stream as well.
    if (id <= this.lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: HEADERS on a closed or lower stream id");
    if (this.goawaySent) return; // beyond our GOAWAY's last stream id: ignored (RFC 9113 §6.8)
    this.lastStreamId = id;
    if (selfDependent) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: stream depends on itself");
    if (d.truncated) {
      this.refuse(id, endStream);
      return;
    }
    if (this.streams.size >= this.maxConcurrent) throw new StreamError(ErrorCode.REFUSED_STREAM, id, "h2: too many streams");
    const headers = d.badValue ? null : requestHeaders(d);
    if (headers === null) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: malformed request headers");
    const s = new ServerStream(id, headers, this.out, this.peerInitialWindow, this.initialWindow);
    const cl = headers.get("content-length");
    if (cl !== undefined) {
      if (!/^[0-9]{1,15}$/.test(cl)) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: bad content-length");
      s.contentLength = Number(cl);
    }
    this.streams.set(id, s);
    if (this.streams.size === 1) this.busy(true);
    // Known before the handler runs, so a response sent from onStream needs no RST_STREAM.
    s.remoteEnded = endStream;
    // A request served: the connection is no longer taken for an attacker.
    if (this.refusals !== 0 || this.input.slow) {
      this.refusals = 0;
      this.input.slow = false;
    }
    try {
      this.opts.onStream(s);
    } catch (e) {
      this.callbackFailed(s, e);
      return;
    }
    if (endStream && !s.closed) this.endReceived(s);
  }

  /**
   * A request whose header list is over the limit (the table is in sync): HTTP 431 (RFC 9113
   * §10.5.1), written straight away with no stream kept for it; DATA that follows for its id
   * is dropped as for any closed stream.
   */
  private refuse(id: number, endStream: boolean): void {
    this.out.writer.headers(id, STATUS_431, true, this.out.peerMaxFrame);
    // Answered before the request ended: the client is asked to stop sending (RFC 9113 §8.1).
    if (!endStream) this.out.writer.rstStream(id, ErrorCode.NO_ERROR);
    this.out.schedule();
    if (++this.refusals >= REFUSALS_BEFORE_SLOW) this.input.slow = true;
  }

  private remoteEnd(s: ServerStream): void {
    s.remoteEnded = true;
    this.endReceived(s);
  }

  private endReceived(s: ServerStream): void {
    if (s.contentLength >= 0 && s.contentLength !== s.received) {
      throw new StreamError(ErrorCode.PROTOCOL_ERROR, s.id, "h2: content-length mismatch");
    }
    const cb = s.onend;
    if (cb !== null) {
      try {
        cb();
      } catch (e) {
        this.callbackFailed(s, e);
        return;
      }
    }
    if (s.localEnded && !s.closed) this.closeStream(s, false);
  }

  private onRstStream(id: number, len: number): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: RST_STREAM on stream 0");
    if (len !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: RST_STREAM length");
    if (id > this.lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: RST_STREAM on idle stream");
    if (this.resets.hit(this.now)) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many stream resets");
    const s = this.streams.get(id);
    if (s === undefined) return;
    // Opened, handed to the server, and cancelled before anything was answered: the work done
    // for it was for nothing (rapid reset).
    if (!s.responded && this.cancels.hit(this.now)) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many canceled streams");
    this.closeStream(s, true);
  }

  private onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: SETTINGS on a stream");
    if (flags & Flag.ACK) {
      if (end !== start) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: SETTINGS ACK with payload");
      return;
    }
    if ((end - start) % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: SETTINGS length");
    let window = this.peerInitialWindow;
    for (let o = start; o < end; o += 6) {
      const key = buf.readUInt16BE(o);
      const value = buf.readUInt32BE(o + 2);
      switch (key) {
        case Setting.ENABLE_PUSH:
          if (value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: ENABLE_PUSH must be 0 or 1");
          break;
        case Setting.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW_SIZE) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "h2: INITIAL_WINDOW_SIZE too large");
          window = value;
          break;
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: MAX_FRAME_SIZE out of range");
          this.out.peerMaxFrame = value;
          break;
        default:
          break; // HEADER_TABLE_SIZE: the encoder uses no dynamic table; others need nothing here
      }
    }
    // The net change applies to every open stream's window (RFC 9113 §6.9.2), once per frame
    // however many times the frame repeats the setting.
    const delta = window - this.peerInitialWindow;
    if (delta !== 0) {
      this.peerInitialWindow = window;
      for (const s of this.streams.values()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW_SIZE) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "h2: stream window overflow");
      }
    }
    this.out.settingsAck();
    this.out.pumpBlocked();
  }

  private onPing(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: PING on a stream");
    if (end - start !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: PING length");
    if (flags & Flag.ACK) return;
    this.out.pingAck(buf, start);
    if (this.pings.ping(this.now, this.streams.size)) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, TOO_MANY_PINGS);
  }

  private onGoaway(id: number, len: number): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: GOAWAY on a stream");
    if (len < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: GOAWAY length");
    this.peerGoaway = true;
    if (this.streams.size === 0) this.shutdown();
  }

  private onWindowUpdate(id: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: WINDOW_UPDATE length");
    const inc = buf.readUInt32BE(start) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: WINDOW_UPDATE of 0");
      this.out.sendWindow += inc;
      if (this.out.sendWindow > MAX_WINDOW_SIZE) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "h2: connection window overflow");
      this.out.pumpBlocked();
      return;
    }
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id > this.lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: WINDOW_UPDATE on idle stream");
      return;
    }
    if (inc === 0) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: WINDOW_UPDATE of 0");
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW_SIZE) throw new StreamError(ErrorCode.FLOW_CONTROL_ERROR, id, "h2: stream window overflow");
    this.out.unblock(s);
  }

  // ---- OutputHost ----

  /** The stream sent its END_STREAM. */
  localEnded(s: ServerStream): void {
    if (s.closed) return;
    if (!s.remoteEnded) {
      // Response complete before the request: ask the client to stop sending (RFC 9113 §8.1).
      this.out.writer.rstStream(s.id, ErrorCode.NO_ERROR);
    }
    this.closeStream(s, false);
  }

  resetSent(s: ServerStream): void {
    this.closeStream(s, true);
  }

  sentResponse(): void {
    this.pings.sent();
  }

  /** A limit of the output side was exceeded (control frame queue, output bound). */
  outputExceeded(code: number, reason: string): void {
    this.violation(code, reason);
  }

  // ---- lifecycle ----

  private closeStream(s: ServerStream, reset: boolean): void {
    if (s.closed) return;
    s.closed = true;
    this.streams.delete(s.id);
    this.out.dropQueue(s);
    const cb = s.onclose;
    if (cb !== null) {
      try {
        cb(reset);
      } catch (e) {
        this.report(e);
      }
    }
    if (this.streams.size === 0) {
      this.busy(false);
      if (this.goawaySent || this.peerGoaway) this.shutdown();
    }
  }

  private busy(b: boolean): void {
    try {
      this.opts.onBusy?.(b);
    } catch (e) {
      this.report(e);
    }
  }

  private callbackFailed(s: ServerStream, e: unknown): void {
    this.report(e);
    if (!s.closed && !this.dead) this.out.sendReset(s, ErrorCode.INTERNAL_ERROR);
  }

  private report(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    try {
      this.opts.onError?.(err);
    } catch {
      // An error reporter that throws must not take the connection down.
    }
  }

  /** A defence ended the connection: reported, then GOAWAY(code, reason) and closed. */
  private violation(code: number, reason: string): void {
    if (this.dead) return;
    try {
      this.opts.onViolation?.(code, reason);
    } catch (e) {
      this.report(e);
    }
    this.fail(code, reason);
  }

  /** Connection error: GOAWAY(code) then close (RFC 9113 §5.4.1). */
  private fail(code: number, message: string): void {
    if (this.dead) return;
    this.out.writer.goaway(this.lastStreamId, code, message);
    this.shutdown();
  }

  /** Writes what is queued, ends the socket and closes every stream. */
  private shutdown(): void {
    if (this.dead) return;
    this.reader.stopped = true;
    this.input.stop();
    this.dead = true;
    // Nothing more is read: a client still sending (a flood) costs no more buffers.
    this.socket.pause();
    this.stopTimers();
    this.out.finalFlush();
    this.socket.end();
    // A client that does not read would hold the ended socket open: it gets a moment to take
    // the GOAWAY, then the socket is destroyed.
    const s = this.socket;
    realClock.setTimeout(() => {
      if (!s.destroyed) s.destroy();
    }, LINGER_MS);
    this.closeAll();
  }

  private teardown(): void {
    this.input.stop();
    if (!this.dead) {
      this.dead = true;
      this.reader.stopped = true;
      if (!this.socket.destroyed) this.socket.destroy();
    }
    this.stopTimers();
    this.closeAll();
    this.resolveClosed();
  }

  private stopTimers(): void {
    this.keepalive.stop();
    this.out.stop();
    if (this.handshakeTimer !== undefined) this.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private closeAll(): void {
    if (this.streams.size === 0) return;
    for (const s of [...this.streams.values()]) this.closeStream(s, true);
  }
}
