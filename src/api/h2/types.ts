// Public surface of the HTTP/2 server engine.
import type { H2Clock, H2Limits, KeepalivePolicy } from "./limits.ts";

/** One request stream as seen by a gRPC / HTTP handler. Callbacks are plain fields (no emitter). */
export interface H2Stream {
  readonly id: number;
  /** Lower-case names including :method :path :scheme :authority; repeated names joined with ", " ("; " for cookie). */
  readonly headers: ReadonlyMap<string, string>;
  /** Request DATA payloads, in order. A chunk stays valid after the call (it is never reused). */
  ondata: ((chunk: Uint8Array) => void) | null;
  /** The client sent END_STREAM. */
  onend: (() => void) | null;
  /** Called once: stream finished (reset = false), or reset by either side or connection gone (true). */
  onclose: ((reset: boolean) => void) | null;
  /**
   * Called once each time the stream's queued output, having gone above the high-water mark
   * (`writable` false), drains below the low-water mark.
   */
  ondrain: (() => void) | null;
  /** Sends the response HEADERS (":status" first). Throws if already sent. */
  respond(headers: ReadonlyArray<readonly [string, string]>, endStream?: boolean): void;
  /**
   * Sends DATA, split to the peer's frame size; queued while the peer's flow-control window is
   * exhausted or the socket is congested. Check `writable` to stop producing (the connection is
   * closed if its queued output stays over its bound).
   */
  write(data: Uint8Array): void;
  /** Ends the response: trailers HEADERS with END_STREAM, or an empty DATA frame with END_STREAM. */
  end(trailers?: ReadonlyArray<readonly [string, string]>): void;
  /** Sends RST_STREAM(code) and closes the stream. No-op once closed. */
  reset(code: number): void;
  /**
   * The promise form of `writable`/`ondrain`: null while the stream is writable; else a promise
   * that resolves when its output drains below the low-water mark (or the stream closes). A
   * producer that awaits it after each write keeps at most the high-water mark queued.
   */
  drained(): Promise<void> | null;
  readonly closed: boolean;
  /** Octets written but not yet handed to the socket (flow control or congestion holds them). */
  readonly bufferedAmount: number;
  /** False while bufferedAmount is above the high-water mark: stop writing until `ondrain`. */
  readonly writable: boolean;
}

export interface H2Options {
  onStream(s: H2Stream): void;
  /**
   * SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are refused with RST_STREAM(REFUSED_STREAM),
   * as grpc-go does. etcd --max-concurrent-streams, default 2^32-1.
   */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE for request bodies. Default 1 MiB. */
  initialWindowSize?: number;
  /** SETTINGS_MAX_FRAME_SIZE accepted from the peer. Default 16384. */
  maxFrameSize?: number;
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE. A request over it gets HTTP 431 (its fields past the limit
   * are never materialised); a header block over twice it ends the connection. Default Go's
   * net/http: 1 MiB + 320.
   */
  maxHeaderListSize?: number;
  /** Connection defences; the defaults are in limits.ts. */
  limits?: Partial<H2Limits>;
  /** Ping enforcement and server keepalive (etcd's --grpc-keepalive-* flags). */
  keepalive?: Partial<KeepalivePolicy>;
  clock?: H2Clock;
  /** Unexpected failures: a callback that threw, an internal error. Protocol errors are not reported. */
  onError?(err: Error): void;
  /** The connection was ended by a defence: the GOAWAY code and why (for the log). */
  onViolation?(code: number, reason: string): void;
  /** The connection went from no open stream to some (true), or back (false). */
  onBusy?(busy: boolean): void;
  /** Octets queued for this connection changed by `delta` (shared output budgets). */
  onQueued?(delta: number): void;
}

export interface H2Connection {
  /** Closes now: GOAWAY(NO_ERROR), open streams are reset, the socket is ended. */
  close(): void;
  /** Graceful: GOAWAY(NO_ERROR), no new streams; the socket ends once open streams finish. */
  goaway(): void;
  /** Ends the connection with GOAWAY(code) and closes it (a member-wide budget chose it). */
  abort(code: number, reason: string): void;
  /** Open streams now. */
  readonly openStreams: number;
  /** Octets queued for the client and not yet handed to the socket, plus the socket's own buffer. */
  readonly queuedBytes: number;
  /** Resolves once the socket is closed. */
  readonly closed: Promise<void>;
}
