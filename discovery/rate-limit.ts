// Per-address token buckets for /new: `rate` tokens per second, up to `burst` saved up.
// The table is bounded: when full, buckets that have refilled completely (idle clients) go.

export interface RateLimiter {
  /** Takes one token for `key`; returns 0 when allowed, else the seconds until one is free. */
  take(key: string, nowMs: number): number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createRateLimiter(o: { rate: number; burst: number; maxKeys?: number }): RateLimiter {
  const buckets = new Map<string, Bucket>();
  const maxKeys = o.maxKeys ?? 100_000;
  const refill = (b: Bucket, now: number) => {
    b.tokens = Math.min(o.burst, b.tokens + ((now - b.at) / 1000) * o.rate);
    b.at = now;
  };
  return {
    take(key, now) {
      if (o.rate <= 0) return 0;
      let b = buckets.get(key);
      if (b === undefined) {
        if (buckets.size >= maxKeys) {
          for (const [k, x] of buckets) {
            refill(x, now);
            if (x.tokens >= o.burst) buckets.delete(k);
          }
          // Still full of active clients: the oldest entry goes (Maps iterate in insertion order).
          if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value!);
        }
        b = { tokens: o.burst, at: now };
        buckets.set(key, b);
      }
      refill(b, now);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - b.tokens) / o.rate);
    },
  };
}
