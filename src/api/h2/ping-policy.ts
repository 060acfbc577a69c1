// grpc-go's server-side enforcement of client keepalive pings (http2Server.handlePing), which
// etcd configures with --grpc-keepalive-min-time and PermitWithoutStream=false: a ping that
// comes sooner than allowed after the previous one is a strike; the third strike ends the
// connection with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"). Whenever the server has sent
// HEADERS or DATA since the last ping, the strikes are forgiven (the client is in a live
// exchange, not probing an idle connection).
//
// Go clients (etcdctl included) never ping more often than every 10 s and only when the
// connection has been idle for that long, so they are never struck at the 5 s default.

import type { KeepalivePolicy } from "./limits.ts";

/** grpc-go's maxPingStrikes: the strike after this many closes the connection. */
const MAX_STRIKES = 2;
/** grpc-go's defaultPingTimeout: how far apart pings without an open stream must be. */
const NO_STREAM_PING_INTERVAL_MS = 2 * 60 * 60 * 1000;

export const TOO_MANY_PINGS = "too_many_pings";

export class PingPolicy {
  private strikes = 0;
  private lastPingAt = -Infinity;
  private forgiven = false;

  constructor(private readonly policy: KeepalivePolicy) {}

  /** The server sent HEADERS or DATA: the next ping is not judged. */
  sent(): void {
    this.forgiven = true;
  }

  /** A ping (not an ack) arrived; true when it is one too many. */
  ping(now: number, openStreams: number): boolean {
    const last = this.lastPingAt;
    this.lastPingAt = now;
    if (this.forgiven) {
      this.forgiven = false;
      this.strikes = 0;
      return false;
    }
    const gap = openStreams < 1 && !this.policy.permitWithoutStream ? NO_STREAM_PING_INTERVAL_MS : this.policy.minTimeMs;
    if (last + gap > now) this.strikes++;
    return this.strikes > MAX_STRIKES;
  }
}
