// Events per second, estimated over a sliding one-second window from two fixed windows
// (the current second's count plus the previous second's, weighted by the part of it still
// inside the window). Constant memory and time per event.

export class RateCounter {
  private windowStart = 0;
  private current = 0;
  private previous = 0;

  constructor(private readonly perSecond: number) {}

  /** Counts one event at `now` (ms); true when the rate is now above the limit. */
  hit(now: number): boolean {
    const elapsed = now - this.windowStart;
    if (elapsed >= 1000) {
      // One window later the current count becomes the previous one; more than that, both are stale.
      this.previous = elapsed < 2000 ? this.current : 0;
      this.current = 0;
      this.windowStart = elapsed < 2000 ? this.windowStart + 1000 : now;
    }
    this.current++;
    const weight = 1 - Math.min(1, (now - this.windowStart) / 1000);
    return this.current + this.previous * weight > this.perSecond;
  }
}
