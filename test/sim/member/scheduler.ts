// Virtual time for the member simulator: every timer of every simulated member runs here, in
// (time, sequence) order, and after each one the microtasks it started run to the end before
// the next event. Nothing in a simulated member waits on real time or real I/O (its effects are
// these timers and synchronous files), so a seed replays the same schedule every time.

export type Owner = object;

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  owner: Owner;
  every: number;
  live: boolean;
}

export class Scheduler {
  now = 0;
  private seq = 0;
  /** Pending timers, kept sorted by (at, seq) (few hundred at most: insertion is fine). */
  private queue: Timer[] = [];

  setTimeout(owner: Owner, fn: () => void, ms: number): Timer {
    return this.add({ at: this.now + Math.max(0, ms), seq: this.seq++, fn, owner, every: 0, live: true });
  }

  setInterval(owner: Owner, fn: () => void, ms: number): Timer {
    const every = Math.max(1, ms);
    return this.add({ at: this.now + every, seq: this.seq++, fn, owner, every, live: true });
  }

  clear(handle: unknown): void {
    const t = handle as Timer | undefined;
    if (t !== undefined) t.live = false;
  }

  /** Cancels every timer of `owner` (a crashed member's). */
  cancelOwner(owner: Owner): void {
    for (const t of this.queue) if (t.owner === owner) t.live = false;
  }

  /** The timer functions of one owner, in the shape src/server/effects.ts asks for. */
  timersFor(owner: Owner) {
    return {
      setTimeout: (fn: () => void, ms: number) => this.setTimeout(owner, fn, ms),
      clearTimeout: (h: unknown) => this.clear(h),
      setInterval: (fn: () => void, ms: number) => this.setInterval(owner, fn, ms),
      clearInterval: (h: unknown) => this.clear(h),
      setImmediate: (fn: () => void) => void this.setTimeout(owner, fn, 0),
    };
  }

  /** Runs every event up to time `t` (inclusive), each followed by the work it started. */
  async runUntil(t: number): Promise<void> {
    for (;;) {
      const next = this.queue[0];
      if (next === undefined || next.at > t) break;
      this.queue.shift();
      if (!next.live) continue;
      this.now = next.at;
      if (next.every > 0) {
        next.at += next.every;
        next.seq = this.seq++;
        this.insert(next);
      } else next.live = false;
      next.fn();
      await settle();
    }
    this.now = t;
  }

  private add(t: Timer): Timer {
    this.insert(t);
    return t;
  }

  private insert(t: Timer): void {
    const q = this.queue;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = q[mid]!;
      if (m.at < t.at || (m.at === t.at && m.seq < t.seq)) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, t);
  }
}

/** Lets every microtask already started run to its end (one macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
