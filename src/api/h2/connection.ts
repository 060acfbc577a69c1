// One server-side HTTP/2 connection (RFC 9113) on a connected socket: frame dispatch, stream
// lifecycle, flow control in both directions, and write batching (all frames produced during one
// event-loop turn leave in one socket.write).

import type { Socket } from "node:net";
import {
  DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, Flag, FrameType, MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE, Setting,
} from "./constants.ts";
import { ConnectionError, StreamError } from "./errors.ts";
import { FrameReader } from "./frame-reader.ts";
import { FrameWriter } from "./frame-writer.ts";
import { HpackDecoder, HpackError } from "./hpack-decoder.ts";
import type { HeaderList } from "./hpack-encoder.ts";
import { requestHeaders } from "./request-headers.ts";
import { ServerStream, type StreamHost } from "./stream.ts";
import type { H2Connection, H2Options } from "./types.ts";

/** Connection-level receive window we grant up front (RFC 9113 §6.9.2). */
const CONNECTION_WINDOW = 16 * 1024 * 1024;
const STATUS_431: HeaderList = [[":status", "431"]];
const EMPTY = new Uint8Array(0);
/** Queued output that is written at once instead of waiting for the end of the turn. */
const HIGH_WATER = 256 * 1024;
/** A stream whose queued output exceeds this reports itself not writable (backpressure to its producer) ... */
const STREAM_HIGH_WATER = 1024 * 1024;
/** ... until it drains to this (then `ondrain`). */
const STREAM_LOW_WATER = 256 * 1024;

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

class Connection implements StreamHost, H2Connection {
  private readonly reader: FrameReader;
  private readonly writer = new FrameWriter();
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, ServerStream>();
  /** Streams with DATA (or an end) waiting for flow-control window or socket drain. */
  private readonly blocked = new Set<ServerStream>();

  private readonly maxConcurrent: number;
  private readonly initialWindow: number;
  private readonly maxHeaderList: number;
  /** Limit on a header block's encoded size while CONTINUATION frames accumulate. */
  private readonly maxHeaderBlock: number;

  // Peer's settings.
  private peerInitialWindow = DEFAULT_WINDOW_SIZE;
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private gotSettings = false;

  /** Connection window for sending (peer's). */
  private sendWindow = DEFAULT_WINDOW_SIZE;
  /** Connection window for receiving, and octets consumed but not yet acknowledged. */
  private recvWindow = CONNECTION_WINDOW;
  private recvUnacked = 0;

  /** Highest client stream id seen. Invariant: streams only holds ids <= lastStreamId. */
  private lastStreamId = 0;
  /** Header block being continued: stream id (0 = none), END_STREAM flag, fragments. */
  private contStream = 0;
  private contEndStream = false;
  private contSelfDependent = false;
  private contParts: Buffer[] = [];
  private contLen = 0;

  private goawaySent = false;
  private peerGoaway = false;
  private dead = false;
  private congested = false;
  private flushScheduled = false;
  private readonly flushNow = () => this.flush();

  constructor(private readonly socket: Socket, private readonly opts: H2Options) {
    this.maxConcurrent = opts.maxConcurrentStreams ?? 1000;
    this.initialWindow = opts.initialWindowSize ?? 1024 * 1024;
    this.maxHeaderList = opts.maxHeaderListSize ?? 64 * 1024;
    this.maxHeaderBlock = this.maxHeaderList + 16 * 1024;
    const maxFrame = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (maxFrame < DEFAULT_MAX_FRAME_SIZE || maxFrame > MAX_ALLOWED_FRAME_SIZE) throw new RangeError("h2: maxFrameSize out of range");
    if (this.initialWindow > MAX_WINDOW_SIZE) throw new RangeError("h2: initialWindowSize out of range");
    this.reader = new FrameReader(maxFrame, (t, f, id, b, s, e) => this.onFrame(t, f, id, b, s, e));
  }

  start(alreadyRead: Uint8Array | undefined): void {
    const s = this.socket;
    s.setNoDelay?.(true);
    s.on("data", (chunk: Buffer) => this.onData(chunk));
    s.on("error", () => this.teardown());
    s.on("close", () => this.teardown());
    s.on("end", () => {
      // The peer is done sending: what is already queued still goes out.
      this.flush();
      this.teardown();
    });
    const settings: Array<[number, number]> = [
      [Setting.MAX_CONCURRENT_STREAMS, this.maxConcurrent],
      [Setting.INITIAL_WINDOW_SIZE, this.initialWindow],
      [Setting.MAX_HEADER_LIST_SIZE, this.maxHeaderList],
    ];
    if (this.reader.maxFrameSize !== DEFAULT_MAX_FRAME_SIZE) settings.push([Setting.MAX_FRAME_SIZE, this.reader.maxFrameSize]);
    this.writer.settings(settings);
    this.writer.windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW_SIZE);
    this.schedule();
    if (alreadyRead && alreadyRead.length > 0) {
      this.onData(Buffer.isBuffer(alreadyRead) ? alreadyRead : Buffer.from(alreadyRead.buffer, alreadyRead.byteOffset, alreadyRead.byteLength));
    }
  }

  // ---- H2Connection ----

  close(): void {
    if (this.dead) return;
    this.writer.goaway(this.lastStreamId, ErrorCode.NO_ERROR, "");
    this.shutdown();
  }

  goaway(): void {
    if (this.dead || this.goawaySent) return;
    this.goawaySent = true;
    this.writer.goaway(this.lastStreamId, ErrorCode.NO_ERROR, "");
    this.schedule();
    if (this.streams.size === 0) this.shutdown();
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    try {
      this.reader.push(chunk);
    } catch (e) {
      if (e instanceof ConnectionError) {
        this.fail(e.code, e.message);
      } else {
        this.report(e);
        this.fail(ErrorCode.INTERNAL_ERROR, "internal error");
      }
    }
    // The flush for this chunk's responses is scheduled; pending WINDOW_UPDATEs ride along.
  }

  private onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.contStream !== 0 && type !== FrameType.CONTINUATION) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: expected CONTINUATION");
    }
    if (!this.gotSettings) {
      if (type !== FrameType.SETTINGS || flags & Flag.ACK) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: first frame must be SETTINGS");
      this.gotSettings = true;
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
      this.writer.rstStream(e.streamId, e.code);
      this.schedule();
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
        this.writer.windowUpdate(id, s.recvUnacked);
        s.recvWindow += s.recvUnacked;
        s.recvUnacked = 0;
        this.schedule();
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
      this.writer.windowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
      this.schedule();
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
    if (flags & Flag.END_HEADERS) {
      this.headerBlock(id, endStream, selfDependent, buf, start, end);
      return;
    }
    if (end - start > this.maxHeaderBlock) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "h2: header block too large");
    this.contStream = id;
    this.contEndStream = endStream;
    this.contParts = [buf.subarray(start, end)];
    this.contLen = end - start;
    this.contSelfDependent = selfDependent;
  }

  private onContinuation(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.contStream === 0 || id !== this.contStream) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: unexpected CONTINUATION");
    this.contLen += end - start;
    if (this.contLen > this.maxHeaderBlock) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "h2: header block too large");
    this.contParts.push(buf.subarray(start, end));
    if ((flags & Flag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.contParts, this.contLen);
    this.contStream = 0;
    this.contParts = [];
    this.headerBlock(id, this.contEndStream, this.contSelfDependent, block, 0, block.length);
  }

  private headerBlock(id: number, endStream: boolean, selfDependent: boolean, buf: Buffer, start: number, end: number): void {
    const d = this.decoder;
    try {
      d.decode(buf, start, end);
    } catch (e) {
      if (e instanceof HpackError) throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, e.message);
      throw e;
    }
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
    if (id <= this.lastStreamId) return; // a stream already closed or reset: its headers are dropped
    if (this.goawaySent) return; // beyond our GOAWAY's last stream id: ignored (RFC 9113 §6.8)
    this.lastStreamId = id;
    if (selfDependent) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: stream depends on itself");
    if (this.streams.size >= this.maxConcurrent) throw new StreamError(ErrorCode.REFUSED_STREAM, id, "h2: too many streams");
    const headers = requestHeaders(d);
    if (headers === null) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: malformed request headers");
    const s = new ServerStream(id, headers, this, this.peerInitialWindow, this.initialWindow);
    const cl = headers.get("content-length");
    if (cl !== undefined) {
      if (!/^[0-9]{1,15}$/.test(cl)) throw new StreamError(ErrorCode.PROTOCOL_ERROR, id, "h2: bad content-length");
      s.contentLength = Number(cl);
    }
    this.streams.set(id, s);
    // Known before the handler runs, so a response sent from onStream needs no RST_STREAM.
    s.remoteEnded = endStream;
    if (d.listSize > this.maxHeaderList) {
      // Decoded (the table stays in sync) but refused: HTTP 431 (RFC 9113 §10.5.1).
      s.respond(STATUS_431, true);
      return;
    }
    try {
      this.opts.onStream(s);
    } catch (e) {
      this.callbackFailed(s, e);
      return;
    }
    if (endStream && !s.closed) this.endReceived(s);
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
    const s = this.streams.get(id);
    if (s !== undefined) this.closeStream(s, true);
  }

  private onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: SETTINGS on a stream");
    if (flags & Flag.ACK) {
      if (end !== start) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: SETTINGS ACK with payload");
      return;
    }
    if ((end - start) % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: SETTINGS length");
    for (let o = start; o < end; o += 6) {
      const key = buf.readUInt16BE(o);
      const value = buf.readUInt32BE(o + 2);
      switch (key) {
        case Setting.ENABLE_PUSH:
          if (value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: ENABLE_PUSH must be 0 or 1");
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW_SIZE) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "h2: INITIAL_WINDOW_SIZE too large");
          // The change applies to every open stream's window (RFC 9113 §6.9.2).
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW_SIZE) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "h2: stream window overflow");
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: MAX_FRAME_SIZE out of range");
          this.peerMaxFrame = value;
          break;
        default:
          break; // HEADER_TABLE_SIZE: the encoder uses no dynamic table; others need nothing here
      }
    }
    this.writer.settingsAck();
    this.pumpBlocked();
    this.schedule();
  }

  private onPing(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: PING on a stream");
    if (end - start !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "h2: PING length");
    if (flags & Flag.ACK) return;
    this.writer.pingAck(buf, start);
    this.schedule();
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
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW_SIZE) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "h2: connection window overflow");
      this.pumpBlocked();
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
    if (this.blocked.has(s)) this.pump(s);
  }

  // ---- output (StreamHost) ----

  sendHeaders(s: ServerStream, fields: HeaderList, endStream: boolean): void {
    this.writer.headers(s.id, fields, endStream, this.peerMaxFrame);
    this.schedule();
    if (endStream) this.localEnd(s);
  }

  sendData(s: ServerStream, data: Uint8Array): void {
    const n = data.length;
    if (s.queue.length === 0 && !this.congested && n <= s.sendWindow && n <= this.sendWindow && n <= this.peerMaxFrame) {
      s.sendWindow -= n;
      this.sendWindow -= n;
      this.writer.data(s.id, false, data, 0, n);
      this.schedule();
      return;
    }
    s.queue.push(data);
    s.queuedBytes += n;
    if (s.queuedBytes > STREAM_HIGH_WATER) s.needDrain = true;
    this.pump(s);
  }

  sendEnd(s: ServerStream, trailers: HeaderList | undefined): void {
    if (s.queue.length > 0) {
      s.pendingTrailers = trailers;
      return; // pump() ends the stream once the queue drains
    }
    this.finish(s, trailers);
  }

  sendReset(s: ServerStream, code: number): void {
    this.writer.rstStream(s.id, code);
    this.schedule();
    this.closeStream(s, true);
  }

  private finish(s: ServerStream, trailers: HeaderList | undefined): void {
    if (trailers !== undefined && trailers.length > 0) this.writer.headers(s.id, trailers, true, this.peerMaxFrame);
    else this.writer.data(s.id, true, EMPTY, 0, 0);
    this.schedule();
    this.localEnd(s);
  }

  private localEnd(s: ServerStream): void {
    s.localEnded = true;
    if (s.closed) return;
    if (!s.remoteEnded) {
      // Response complete before the request: ask the client to stop sending (RFC 9113 §8.1).
      this.writer.rstStream(s.id, ErrorCode.NO_ERROR);
    }
    this.closeStream(s, false);
  }

  /** Sends as much queued DATA as the windows allow; ends the stream when drained and ending. */
  private pump(s: ServerStream): void {
    const q = s.queue;
    this.schedule();
    while (q.length > 0) {
      const chunk = q[0];
      const avail = Math.min(s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (avail <= 0 || this.congested) {
        this.blocked.add(s);
        this.maybeDrained(s);
        return;
      }
      const from = s.queueOffset;
      const to = Math.min(chunk.length, from + avail);
      this.writer.data(s.id, false, chunk, from, to);
      s.sendWindow -= to - from;
      this.sendWindow -= to - from;
      s.queuedBytes -= to - from;
      // A large body goes out in slices so socket backpressure can stop it (bounded memory).
      if (this.writer.pending >= HIGH_WATER) this.writeOut();
      if (to === chunk.length) {
        q.shift();
        s.queueOffset = 0;
      } else {
        s.queueOffset = to;
      }
    }
    this.blocked.delete(s);
    if (s.ending && !s.localEnded) this.finish(s, s.pendingTrailers);
    this.maybeDrained(s);
  }

  /** A stream back below its low-water mark tells its producer (ondrain). */
  private maybeDrained(s: ServerStream): void {
    if (!s.needDrain || s.queuedBytes > STREAM_LOW_WATER || s.closed) return;
    s.needDrain = false;
    const cb = s.ondrain;
    if (cb === null) return;
    try {
      cb();
    } catch (e) {
      this.callbackFailed(s, e);
    }
  }

  private pumpBlocked(): void {
    for (const s of this.blocked) {
      if (this.sendWindow <= 0 || this.congested) return;
      this.pump(s);
    }
  }

  private closeStream(s: ServerStream, reset: boolean): void {
    if (s.closed) return;
    s.closed = true;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    s.queue.length = 0;
    s.queuedBytes = 0;
    const cb = s.onclose;
    if (cb !== null) {
      try {
        cb(reset);
      } catch (e) {
        this.report(e);
      }
    }
    if (this.streams.size === 0 && (this.goawaySent || this.peerGoaway)) this.shutdown();
  }

  private callbackFailed(s: ServerStream, e: unknown): void {
    this.report(e);
    if (!s.closed && !this.dead) this.sendReset(s, ErrorCode.INTERNAL_ERROR);
  }

  private report(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    try {
      this.opts.onError?.(err);
    } catch {
      // An error reporter that throws must not take the connection down.
    }
  }

  // ---- socket ----

  private schedule(): void {
    if (this.writer.pending >= HIGH_WATER) {
      this.writeOut();
      return;
    }
    if (this.flushScheduled || this.dead) return;
    this.flushScheduled = true;
    setImmediate(this.flushNow);
  }

  private flush(): void {
    this.flushScheduled = false;
    this.writeOut();
  }

  private writeOut(): void {
    if (this.dead) return;
    const out = this.writer.take();
    if (out === null) return;
    if (!this.socket.write(out) && !this.congested) {
      this.congested = true;
      this.socket.once("drain", () => {
        this.congested = false;
        this.pumpBlocked();
        this.schedule();
      });
    }
  }

  /** Connection error: GOAWAY(code) then close (RFC 9113 §5.4.1). */
  private fail(code: number, message: string): void {
    if (this.dead) return;
    this.writer.goaway(this.lastStreamId, code, message);
    this.shutdown();
  }

  /** Writes what is queued, ends the socket and closes every stream. */
  private shutdown(): void {
    if (this.dead) return;
    this.reader.stopped = true;
    const out = this.writer.take();
    this.dead = true;
    if (out !== null) this.socket.write(out);
    this.socket.end();
    this.closeAll();
  }

  private teardown(): void {
    if (!this.dead) {
      this.dead = true;
      this.reader.stopped = true;
      if (!this.socket.destroyed) this.socket.destroy();
    }
    this.closeAll();
  }

  private closeAll(): void {
    if (this.streams.size === 0) return;
    for (const s of [...this.streams.values()]) this.closeStream(s, true);
  }
}
