// The output side of one HTTP/2 connection: response HEADERS and DATA under flow control, the
// frames that answer the client (acks, resets), write batching (everything produced in one
// event-loop turn leaves in one socket.write), and the bounds on what is queued for a client
// that does not read:
//
// - while the socket is congested nothing more is written to it; DATA waits in its stream's
//   queue and small frames in the writer's arena;
// - answers to the client's own frames (PING and SETTINGS acks, RST_STREAM) queued behind a
//   congested socket pause reading at `pauseAtQueuedControlFrames` (grpc-go), so a client that
//   floods without reading stops being read; past `maxQueuedControlFrames` (x/net/http2) the
//   connection is closed;
// - a stream whose queue passes `streamHighWater` reports itself not writable, and `ondrain`s
//   (and resolves its drained() promises) below `streamLowWater`: the one backpressure signal
//   for producers (watch streams through StreamFlow, server-streaming pumps through drained());
// - the connection's total (queues + arena + the socket's buffer) is held to its bound by an
//   OutputGuard: over the bound past the deadline, or over the hard cap, it is closed.

import type { Socket } from "node:net";
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode } from "./constants.ts";
import { FrameWriter } from "./frame-writer.ts";
import type { HeaderList } from "./hpack-encoder.ts";
import type { H2Clock, H2Limits } from "./limits.ts";
import { OutputGuard } from "./output-guard.ts";
import type { ServerStream, StreamHost } from "./stream.ts";

const EMPTY = new Uint8Array(0);
/** Queued output that is written at once instead of waiting for the end of the turn. */
const HIGH_WATER = 256 * 1024;

/** What the output side needs from its connection. */
export interface OutputHost {
  /** END_STREAM was written for `s`. */
  localEnded(s: ServerStream): void;
  /** RST_STREAM was written for `s`. */
  resetSent(s: ServerStream): void;
  /** HEADERS or DATA went to the client (ping strikes are forgiven). */
  sentResponse(): void;
  /** A bound was exceeded: the connection must end with GOAWAY(code). */
  outputExceeded(code: number, reason: string): void;
  /** Stops (true) or restarts (false) reading from the client, for the output side's reason. */
  holdReading(hold: boolean): void;
}

export class Output implements StreamHost {
  readonly writer = new FrameWriter();
  /** Connection window for sending (peer's). */
  sendWindow = DEFAULT_WINDOW_SIZE;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;

  /** Streams with DATA (or an end) waiting for flow-control window or socket drain. */
  private readonly blocked = new Set<ServerStream>();
  /** Octets in all stream queues. Invariant: the sum of every open stream's queuedBytes. */
  private streamQueued = 0;
  /** Answers to client frames in the arena, not yet handed to the socket. */
  private controlQueued = 0;
  private congested = false;
  private paused = false;
  private stopped = false;
  private flushScheduled = false;
  private readonly guard: OutputGuard;
  /** Runs while reading is paused: a client that stays unread past the deadline is closed. */
  private pausedTimer: unknown = undefined;
  private readonly flushNow = () => this.flush();
  private readonly onDrain = () => {
    this.congested = false;
    if (this.paused) {
      this.paused = false;
      this.clearPausedTimer();
      this.host.holdReading(false);
    }
    this.writeOut();
    this.pumpBlocked();
    this.schedule();
    this.guard.update();
  };

  constructor(
    private readonly socket: Socket,
    private readonly host: OutputHost,
    private readonly limits: H2Limits,
    private readonly clock: H2Clock,
  ) {
    this.guard = new OutputGuard(
      {
        bound: limits.connectionOutputBound,
        hardCap: limits.connectionOutputHardCap,
        deadlineMs: limits.outputDeadlineMs,
        clock,
        onExceeded: (reason) => host.outputExceeded(ErrorCode.ENHANCE_YOUR_CALM, reason),
      },
      () => this.queuedBytes,
    );
  }

  /** Everything held for the client: stream queues, the arena, and the socket's own buffer. */
  get queuedBytes(): number {
    return this.streamQueued + this.writer.pending + (this.socket.writableLength ?? 0);
  }

  // ---- StreamHost ----

  sendHeaders(s: ServerStream, fields: HeaderList, endStream: boolean): void {
    this.writer.headers(s.id, fields, endStream, this.peerMaxFrame);
    this.host.sentResponse();
    this.schedule();
    if (endStream) this.localEnd(s);
  }

  sendData(s: ServerStream, data: Uint8Array): void {
    const n = data.length;
    if (s.queue.length === 0 && !this.congested && n <= s.sendWindow && n <= this.sendWindow && n <= this.peerMaxFrame) {
      s.sendWindow -= n;
      this.sendWindow -= n;
      this.writer.data(s.id, false, data, 0, n);
      this.host.sentResponse();
      this.schedule();
      return;
    }
    s.queue.push(data);
    s.queuedBytes += n;
    this.streamQueued += n;
    if (s.queuedBytes > this.limits.streamHighWater) s.needDrain = true;
    this.pump(s);
    this.guard.update();
  }

  sendEnd(s: ServerStream, trailers: HeaderList | undefined): void {
    if (s.queue.length > 0) {
      s.pendingTrailers = trailers;
      return; // pump() ends the stream once the queue drains
    }
    this.finish(s, trailers);
  }

  sendReset(s: ServerStream, code: number): void {
    this.rstStream(s.id, code);
    this.host.resetSent(s);
  }

  // ---- frames answering the client ----

  rstStream(id: number, code: number): void {
    this.writer.rstStream(id, code);
    this.control();
  }

  pingAck(payload: Uint8Array, from: number): void {
    this.writer.pingAck(payload, from);
    this.control();
  }

  settingsAck(): void {
    this.writer.settingsAck();
    this.control();
  }

  /** A keepalive PING of our own. */
  ping(): void {
    this.writer.ping();
    this.schedule();
  }

  private control(): void {
    this.controlQueued++;
    if (this.controlQueued > this.limits.maxQueuedControlFrames) {
      this.host.outputExceeded(ErrorCode.ENHANCE_YOUR_CALM, "too many control frames queued (client not reading)");
      return;
    }
    if (this.congested && !this.paused && this.controlQueued >= this.limits.pauseAtQueuedControlFrames) {
      // Stop reading until the client reads what it asked for; one that never does is closed.
      this.paused = true;
      this.host.holdReading(true);
      this.pausedTimer = this.clock.setTimeout(() => {
        this.pausedTimer = undefined;
        if (this.paused) this.host.outputExceeded(ErrorCode.ENHANCE_YOUR_CALM, "too many control frames queued (client not reading)");
      }, this.limits.outputDeadlineMs);
    }
    this.schedule();
  }

  // ---- flow control ----

  /** A stream's window grew. */
  unblock(s: ServerStream): void {
    if (this.blocked.has(s)) this.pump(s);
  }

  /** Sends as much queued DATA as the windows allow; ends the stream when drained and ending. */
  private pump(s: ServerStream): void {
    const q = s.queue;
    this.schedule();
    let sent = 0;
    while (q.length > 0) {
      const chunk = q[0]!;
      const avail = Math.min(s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (avail <= 0 || this.congested) {
        this.blocked.add(s);
        break;
      }
      const from = s.queueOffset;
      const to = Math.min(chunk.length, from + avail);
      this.writer.data(s.id, false, chunk, from, to);
      const n = to - from;
      s.sendWindow -= n;
      this.sendWindow -= n;
      s.queuedBytes -= n;
      this.streamQueued -= n;
      sent += n;
      // A large body goes out in slices so socket backpressure can stop it (bounded memory).
      if (this.writer.pending >= HIGH_WATER) this.writeOut();
      if (to === chunk.length) {
        q.shift();
        s.queueOffset = 0;
      } else {
        s.queueOffset = to;
      }
    }
    if (sent > 0) this.host.sentResponse();
    if (s.needDrain && s.queuedBytes <= this.limits.streamLowWater && !s.closed) {
      s.needDrain = false;
      try {
        s.releaseDrain(false);
      } catch {
        // A producer's failure is its own; the stream's output carries on.
      }
    }
    if (q.length > 0) return;
    this.blocked.delete(s);
    if (s.ending && !s.localEnded && !s.closed) this.finish(s, s.pendingTrailers);
  }

  pumpBlocked(): void {
    for (const s of this.blocked) {
      if (this.sendWindow <= 0 || this.congested) break;
      this.pump(s);
    }
    this.schedule();
  }

  /** The stream closed: its queued output is dropped and whoever waits for it to drain goes on. */
  dropQueue(s: ServerStream): void {
    this.blocked.delete(s);
    this.streamQueued -= s.queuedBytes;
    s.queuedBytes = 0;
    s.queue.length = 0;
    s.queueOffset = 0;
    s.needDrain = false;
    s.releaseDrain(true);
  }

  private finish(s: ServerStream, trailers: HeaderList | undefined): void {
    if (trailers !== undefined && trailers.length > 0) this.writer.headers(s.id, trailers, true, this.peerMaxFrame);
    else this.writer.data(s.id, true, EMPTY, 0, 0);
    this.schedule();
    this.localEnd(s);
  }

  private localEnd(s: ServerStream): void {
    s.localEnded = true;
    this.host.localEnded(s);
  }

  // ---- socket ----

  schedule(): void {
    if (this.writer.pending >= HIGH_WATER) {
      this.writeOut();
      return;
    }
    if (this.flushScheduled || this.stopped) return;
    this.flushScheduled = true;
    setImmediate(this.flushNow);
  }

  flush(): void {
    this.flushScheduled = false;
    this.writeOut();
  }

  private writeOut(): void {
    if (this.stopped || this.congested) return;
    const out = this.writer.take();
    if (out === null) return;
    this.controlQueued = 0;
    if (!this.socket.write(out)) {
      this.congested = true;
      this.socket.once("drain", this.onDrain);
      this.guard.update();
    }
  }

  /** The connection is ending: whatever is queued goes to the socket now (congested or not). */
  finalFlush(): void {
    const out = this.writer.take();
    if (out !== null && !this.socket.destroyed) this.socket.write(out);
  }

  stop(): void {
    this.stopped = true;
    this.guard.stop();
    this.clearPausedTimer();
  }

  private clearPausedTimer(): void {
    if (this.pausedTimer !== undefined) this.clock.clearTimeout(this.pausedTimer);
    this.pausedTimer = undefined;
  }
}
