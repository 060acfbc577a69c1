// What a client may rely on about leases, checked on the simulated history (times are the
// simulator's virtual milliseconds, the same clock every member's monotonic clock reads):
//
//  - safety: a key put under a lease stays readable for as long as the lease was kept alive:
//    until the latest acknowledged keepalive's call time plus the TTL (the renewal happened at
//    or after the call). A linearizable read that returned before then and missed the key is a
//    lease that expired early.
//  - liveness: a lease nobody keeps alive expires: once the cluster is healthy, a read well
//    after the TTL must not find its key.

export interface LeaseEpoch {
  /** The key written under the lease (one per epoch). */
  readonly key: string;
  /** The value written under the lease (one per epoch). */
  readonly value: string;
  /** Granted TTL, ms. */
  ttlMs: number;
  /** When the put under the lease was acknowledged (undefined until then). */
  putAck: number | undefined;
  /** The lease must not expire before this (grant or keepalive call + TTL). */
  protectedUntil: number;
}

export interface LeaseRead {
  readonly epoch: LeaseEpoch;
  readonly call: number;
  readonly ret: number;
  readonly value: string | undefined;
}

/** Reads that missed a key whose lease was still kept alive. */
export function earlyExpiries(reads: readonly LeaseRead[]): string[] {
  const bad: string[] = [];
  for (const r of reads) {
    const e = r.epoch;
    if (e.putAck === undefined || r.call < e.putAck) continue;
    if (r.value === e.value) continue;
    if (r.ret < e.protectedUntil) {
      bad.push(`read [${r.call}, ${r.ret}] found ${r.value ?? "nothing"}, but the lease of ${e.value} was kept alive until ${e.protectedUntil}`);
    }
  }
  return bad;
}
