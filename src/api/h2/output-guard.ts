// Bounds what one connection may hold for a client that does not read: above `bound` a
// deadline starts, and a connection still above it when the deadline passes is closed; above
// `hardCap` it is closed at once. Memory per connection is then at most the hard cap, however
// long the client stalls and whatever the producers do.

import type { H2Clock } from "./limits.ts";

export interface OutputGuardOptions {
  readonly bound: number;
  readonly hardCap: number;
  readonly deadlineMs: number;
  readonly clock: H2Clock;
  /** The connection must go: `reason` says why. Called at most once. */
  readonly onExceeded: (reason: string) => void;
}

export class OutputGuard {
  private timer: unknown = undefined;
  private fired = false;

  constructor(
    private readonly o: OutputGuardOptions,
    /** Current queued octets of the connection. */
    private readonly measure: () => number,
  ) {}

  /** Re-evaluates after queued output changed. Cheap when under the bound. */
  update(): void {
    if (this.fired) return;
    const n = this.measure();
    if (n > this.o.hardCap) {
      this.exceed(`output buffer of ${n} bytes exceeds ${this.o.hardCap}`);
      return;
    }
    if (n > this.o.bound) {
      this.timer ??= this.o.clock.setTimeout(() => this.expire(), this.o.deadlineMs);
    } else if (this.timer !== undefined) {
      this.o.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  stop(): void {
    this.fired = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expire(): void {
    this.timer = undefined;
    const n = this.measure();
    if (n > this.o.bound) this.exceed(`output buffer over ${this.o.bound} bytes for ${this.o.deadlineMs} ms (client not reading)`);
  }

  private exceed(reason: string): void {
    if (this.fired) return;
    this.stop();
    this.o.onExceeded(reason);
  }
}
