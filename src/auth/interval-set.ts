// A set of key intervals with etcd's key conventions, merged so that a membership or coverage
// check is one binary search. Keys are latin1 strings (one char per byte), so string order is
// byte order. Interval [start, end): end undefined means +∞ (an open-ended permission).

export interface Interval {
  readonly start: string;
  /** Exclusive; undefined = no upper bound. */
  readonly end: string | undefined;
}

/** The point interval of a single key: [key, key + "\0"). */
export function pointInterval(key: string): Interval {
  return { start: key, end: key + "\0" };
}

/**
 * Disjoint, sorted, non-adjacent intervals (adjacent and overlapping ones merged): a range is
 * covered iff one interval holds all of it, which makes etcd's "the union of all permissions
 * covers the request" (adt.IntervalTree.Contains) a single lookup.
 */
export class IntervalSet {
  private readonly starts: string[] = [];
  private readonly ends: (string | undefined)[] = [];

  constructor(intervals: readonly Interval[]) {
    const sorted = intervals.filter((i) => i.end === undefined || i.start < i.end).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const iv of sorted) {
      const n = this.starts.length;
      const lastEnd = n > 0 ? this.ends[n - 1] : null;
      // Overlapping or touching the previous interval: extend it.
      if (n > 0 && (lastEnd === undefined || iv.start <= lastEnd!)) {
        if (lastEnd !== undefined && (iv.end === undefined || iv.end > lastEnd!)) this.ends[n - 1] = iv.end;
        continue;
      }
      this.starts.push(iv.start);
      this.ends.push(iv.end);
    }
  }

  get size(): number {
    return this.starts.length;
  }

  /** Index of the last interval starting at or before k, or -1. */
  private floor(k: string): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= k) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** The key lies in some interval (etcd's checkKeyPoint). */
  has(k: string): boolean {
    const i = this.floor(k);
    if (i < 0) return false;
    const e = this.ends[i];
    return e === undefined || k < e;
  }

  /** Every key of [start, end) lies in the set (end undefined: to +∞) (etcd's checkKeyInterval). */
  covers(start: string, end: string | undefined): boolean {
    const i = this.floor(start);
    if (i < 0) return false;
    const e = this.ends[i];
    if (e === undefined) return true;
    if (start >= e) return false;
    return end !== undefined && end <= e;
  }
}
