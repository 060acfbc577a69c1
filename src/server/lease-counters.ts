// etcd's lease counters (lease/metrics.go): leases granted and revoked as each member applies
// them, and the TTLs granted. Kept outside the state machine so a machine reopened from a
// snapshot counts on from the same totals.
import { Counter, exponentialBuckets, Family, Histogram } from "./prometheus.ts";

export class LeaseCounters {
  readonly granted = new Counter();
  readonly revoked = new Counter();
  /** Bucketed TTLs, 1 s doubling to about three months, as etcd's. */
  readonly ttls = new Family("etcd_debugging_lease_ttl_total", "Bucketed histogram of lease TTLs.", "histogram", [], () => new Histogram(exponentialBuckets(1, 2, 24)));
  private readonly ttl = this.ttls.with();

  grant(ttlSeconds: number): void {
    this.granted.value++;
    this.ttl.observe(ttlSeconds);
  }
}
