// Server keepalive (grpc-go http2Server.keepalive, etcd --grpc-keepalive-interval and
// --grpc-keepalive-timeout): after `intervalMs` with nothing read from the client the server
// sends a PING; if nothing at all is read within `timeoutMs` after that, the connection is
// closed. Anything read (an ack, a request, the client's own ping) counts as alive.

import type { H2Clock, KeepalivePolicy } from "./limits.ts";

export interface KeepaliveHooks {
  sendPing(): void;
  /** The client did not answer in time. */
  expire(): void;
}

export class KeepaliveTimer {
  private lastRead: number;
  private timer: unknown = undefined;
  /** When the outstanding ping was sent; undefined = none outstanding. */
  private pingSentAt: number | undefined = undefined;
  private stopped = false;

  constructor(
    private readonly policy: KeepalivePolicy,
    private readonly clock: H2Clock,
    private readonly hooks: KeepaliveHooks,
  ) {
    this.lastRead = clock.now();
    if (policy.intervalMs > 0) this.arm(policy.intervalMs);
  }

  /** Called for every chunk read from the socket (cheap: a clock read and a store). */
  read(now: number): void {
    this.lastRead = now;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(1, ms));
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    const { intervalMs, timeoutMs } = this.policy;
    if (this.pingSentAt !== undefined) {
      if (this.lastRead >= this.pingSentAt) {
        this.pingSentAt = undefined; // answered (or otherwise heard from)
      } else if (now - this.pingSentAt >= timeoutMs) {
        this.stop();
        this.hooks.expire();
        return;
      } else {
        this.arm(this.pingSentAt + timeoutMs - now);
        return;
      }
    }
    const idle = now - this.lastRead;
    if (idle < intervalMs) {
      this.arm(intervalMs - idle);
      return;
    }
    this.hooks.sendPing();
    if (timeoutMs <= 0) {
      this.arm(intervalMs);
      return;
    }
    this.pingSentAt = now;
    this.arm(timeoutMs);
  }
}
