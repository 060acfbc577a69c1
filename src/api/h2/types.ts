// Public surface of the HTTP/2 server engine.

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
  /** Sends DATA, split to the peer's frame size; queued while the peer's flow-control window is exhausted. */
  write(data: Uint8Array): void;
  /** Ends the response: trailers HEADERS with END_STREAM, or an empty DATA frame with END_STREAM. */
  end(trailers?: ReadonlyArray<readonly [string, string]>): void;
  /** Sends RST_STREAM(code) and closes the stream. No-op once closed. */
  reset(code: number): void;
  readonly closed: boolean;
  /** Octets written but not yet handed to the socket (flow control or congestion holds them). */
  readonly bufferedAmount: number;
  /** False while bufferedAmount is above the high-water mark: stop writing until `ondrain`. */
  readonly writable: boolean;
}

export interface H2Options {
  onStream(s: H2Stream): void;
  /** SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are refused (REFUSED_STREAM). Default 1000. */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE for request bodies. Default 1 MiB. */
  initialWindowSize?: number;
  /** SETTINGS_MAX_FRAME_SIZE accepted from the peer. Default 16384. */
  maxFrameSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE; larger requests get HTTP 431. Default 64 KiB. */
  maxHeaderListSize?: number;
  /** Unexpected failures: a callback that threw, an internal error. Protocol errors are not reported. */
  onError?(err: Error): void;
}

export interface H2Connection {
  /** Closes now: GOAWAY(NO_ERROR), open streams are reset, the socket is ended. */
  close(): void;
  /** Graceful: GOAWAY(NO_ERROR), no new streams; the socket ends once open streams finish. */
  goaway(): void;
}
