// The limits one HTTP/2 connection enforces, with where each default comes from. etcd 3.4
// serves gRPC on grpc-go's HTTP/2 server (cleartext) and Go's x/net/http2 (TLS); where they
// have a limit we take its default, and where neither has one (rapid reset, output bounds)
// the value is ours and says why.

/** Milliseconds clock and timers, injectable so the policies can be tested without waiting. */
export interface H2Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: H2Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** grpc-go's keepalive policy (etcd's --grpc-keepalive-* flags). */
export interface KeepalivePolicy {
  /**
   * A client that pings more often than this gets a strike; the third strike closes the
   * connection with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"). etcd --grpc-keepalive-min-time,
   * default 5 s. Sending the client HEADERS or DATA forgives its strikes (grpc-go does the same).
   */
  readonly minTimeMs: number;
  /**
   * Pings while no stream is open are only fine every 2 h (grpc-go's PermitWithoutStream=false,
   * which etcd sets).
   */
  readonly permitWithoutStream: boolean;
  /**
   * After this long without anything read from the client, the server pings it; 0 disables.
   * etcd --grpc-keepalive-interval, default 2 h.
   */
  readonly intervalMs: number;
  /** A pinged client that sends nothing for this long is closed; 0 disables. etcd --grpc-keepalive-timeout, 20 s. */
  readonly timeoutMs: number;
}

export const DEFAULT_KEEPALIVE: KeepalivePolicy = {
  minTimeMs: 5_000,
  permitWithoutStream: false,
  intervalMs: 2 * 60 * 60 * 1000,
  timeoutMs: 20_000,
};

export interface H2Limits {
  /**
   * RST_STREAM frames a client may send per second on one connection. Beyond it the connection
   * ends with GOAWAY(ENHANCE_YOUR_CALM) ("rapid reset", CVE-2023-44487). Neither Go server had a
   * count (their fix bounds handler concurrency, which etcd's MaxUint32 streams leave unbounded);
   * a client cancels a request only when its caller gives up, so a thousand a second on one
   * connection is already far from normal.
   */
  readonly maxResetsPerSecond: number;
  /**
   * Streams a client opens and then resets before any response was sent, per second: the
   * request was handed to the server for nothing. Same answer as above.
   */
  readonly maxCanceledPerSecond: number;
  /**
   * Response frames (PING and SETTINGS acknowledgements, RST_STREAM) queued for a client that is
   * not reading them: at this many the connection stops reading (grpc-go's
   * maxQueuedTransportResponseFrames, 50), so a flood cannot grow the queue further...
   */
  readonly pauseAtQueuedControlFrames: number;
  /** ...and past this many (one read can hold thousands of frames) it is closed (x/net/http2's maxQueuedControlFrames). */
  readonly maxQueuedControlFrames: number;
  /**
   * CONTINUATION frames after one HEADERS frame. A legitimate block fills its frames; a stream
   * of tiny or empty ones is a flood (CVE-2024-27316 family). Set from the header list limit:
   * room for a block of twice that size in 16 KB frames, plus slack.
   */
  readonly maxContinuationFrames: number;
  /** A stream whose queued output exceeds this reports itself not writable (backpressure to its producer). */
  readonly streamHighWater: number;
  /** ...and writable again once its queue drains below this. */
  readonly streamLowWater: number;
  /** Output queued for one connection (streams, frames, socket) above this starts the deadline below. */
  readonly connectionOutputBound: number;
  /** A connection that stays above its output bound this long is closed: its client is not reading. */
  readonly outputDeadlineMs: number;
  /** A connection whose queued output exceeds this is closed at once. */
  readonly connectionOutputHardCap: number;
  /**
   * Time for a new connection to send its first SETTINGS frame after the preface (grpc-go closes
   * a connection that has not completed its handshake after 120 s; a slow handshake holds a
   * connection slot, so ours is shorter).
   */
  readonly handshakeTimeoutMs: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: H2Limits = {
  maxResetsPerSecond: 1000,
  maxCanceledPerSecond: 200,
  pauseAtQueuedControlFrames: 50,
  maxQueuedControlFrames: 10_000,
  maxContinuationFrames: 0, // 0 = derived from the header list limit
  streamHighWater: 1 * MiB,
  streamLowWater: 256 * 1024,
  connectionOutputBound: 16 * MiB,
  outputDeadlineMs: 10_000,
  connectionOutputHardCap: 64 * MiB,
  handshakeTimeoutMs: 10_000,
};

/**
 * Go's net/http advertises MaxHeaderBytes (1 MiB by default) plus room for ten fields' 32-octet
 * overheads as SETTINGS_MAX_HEADER_LIST_SIZE.
 */
export const DEFAULT_MAX_HEADER_LIST_SIZE = MiB + 10 * 32;

/** etcd --max-concurrent-streams default (math.MaxUint32). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 0xffffffff;

/** CONTINUATION frames allowed for a header list limit (see H2Limits.maxContinuationFrames). */
export function continuationLimit(maxHeaderListSize: number): number {
  return Math.ceil((2 * maxHeaderListSize) / 16384) + 8;
}

/**
 * Header lists refused (431) in a row after which the connection's input is slowed
 * (input-pacer.ts) until it sends a request that is served: a client whose requests keep
 * failing this way is an attacker, and slowing it costs it its throughput without giving it a
 * reason to reconnect.
 */
export const REFUSALS_BEFORE_SLOW = 16;

/**
 * A header block whose list is past the limit may go on for as many octets again as the limit
 * (the whole block then about twice the limit, the size Go's server allows a piece). Its rest
 * is only skipped (entries it inserts excepted), at a slowed pace, and the request gets 431 at
 * its end, the connection kept, as grpc-go keeps it: ending the connection would only make
 * the attacker reconnect, costing a connection's buffers each time. A block that goes on
 * beyond that ends the connection, as Go's server ends it at the first such piece.
 */
export function octetsPastLimit(maxHeaderListSize: number): number {
  return maxHeaderListSize;
}
