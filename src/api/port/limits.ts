// The client port's connection limits and where their defaults come from. The HTTP/2
// engine's own limits are in ../h2/limits.ts.
import { DEFAULT_KEEPALIVE, DEFAULT_MAX_CONCURRENT_STREAMS, type H2Limits, type KeepalivePolicy } from "../h2/index.ts";

export interface ClientPortLimits {
  /**
   * Open client connections (TCP, TLS, unix) at most. etcd has no such cap (it runs until
   * accept fails for want of descriptors); a member that runs out of descriptors cannot open a
   * WAL segment or a snapshot, so the cap keeps `reservedFds` of them for itself.
   */
  readonly maxConnections: number;
  /**
   * A request's headers (or an HTTP/2 connection's preface and SETTINGS) must arrive within
   * this long of its first octet. etcd's server sets none (Go's ReadHeaderTimeout is 0);
   * without one, clients that send headers an octet at a time hold connections forever.
   */
  readonly readHeaderTimeoutMs: number;
  /** A kept-alive HTTP/1.1 connection with no request in flight is closed after this long. */
  readonly idleTimeoutMs: number;
  /** Output queued to all clients together (see output-budget.ts). */
  readonly outputBudgetBytes: number;
  /** etcd --max-concurrent-streams. */
  readonly maxConcurrentStreams: number;
  /** etcd --grpc-keepalive-min-time, --grpc-keepalive-interval, --grpc-keepalive-timeout. */
  readonly keepalive: KeepalivePolicy;
  /** The HTTP/2 engine's other limits (defaults in ../h2/limits.ts). */
  readonly h2: Partial<H2Limits>;
}

/** Descriptors kept for the member itself when the connection cap comes from the fd limit. */
export const RESERVED_FDS = 256;
/** The cap when the fd limit cannot be read. */
const FALLBACK_MAX_CONNECTIONS = 10_000;

export const DEFAULT_PORT_LIMITS: ClientPortLimits = {
  maxConnections: FALLBACK_MAX_CONNECTIONS,
  readHeaderTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  outputBudgetBytes: 256 * 1024 * 1024,
  maxConcurrentStreams: DEFAULT_MAX_CONCURRENT_STREAMS,
  keepalive: DEFAULT_KEEPALIVE,
  h2: {},
};

/** The connection cap for a descriptor limit (undefined = unknown). */
export function connectionCap(fdLimit: number | undefined): number {
  if (fdLimit === undefined) return FALLBACK_MAX_CONNECTIONS;
  return Math.max(64, Math.min(fdLimit - RESERVED_FDS, 1_000_000));
}

/**
 * etcd's flags as grpc-go receives them (embed/etcd.go): a min time of 0 sets no enforcement
 * policy, and grpc-go then enforces its own default of 5 minutes; an interval or timeout of 0
 * sets no server parameters, and grpc-go pings after 2 h with a 20 s timeout.
 */
export function keepaliveFromFlags(minTimeMs: number, intervalMs: number, timeoutMs: number): KeepalivePolicy {
  const both = intervalMs > 0 && timeoutMs > 0;
  return {
    minTimeMs: minTimeMs > 0 ? minTimeMs : 5 * 60 * 1000,
    permitWithoutStream: false,
    intervalMs: both ? intervalMs : DEFAULT_KEEPALIVE.intervalMs,
    timeoutMs: both ? timeoutMs : DEFAULT_KEEPALIVE.timeoutMs,
  };
}
