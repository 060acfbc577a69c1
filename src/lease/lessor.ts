// Leases in memory, persisted through statements the state machine commits with the
// batch. Deadlines come from the injected clock only: apply stays deterministic in the
// state it writes (ID, TTL, remaining TTL); expiry is each member's local view, and only
// the leader acts on it (by proposing LeaseExpire).
import type { InStatement } from "../storage/sql-db.ts";

export interface Lease {
  readonly id: bigint;
  /** Effective granted TTL in seconds (already raised to the minimum). */
  readonly ttl: number;
  /** Checkpointed remaining TTL in seconds (0 = none). */
  remaining: number;
  /** Deadline in clock ms. */
  expiry: number;
  /** Attached keys (latin1 index form). */
  readonly keys: Set<string>;
}

/** etcd's MaxLeaseTTL: grants above it fail with "too large lease TTL". */
export const MAX_LEASE_TTL = 9_000_000_000;

export class Lessor {
  private readonly leases = new Map<bigint, Lease>();

  constructor(
    private readonly clock: () => number,
    readonly minTtl: number,
  ) {}

  get size(): number {
    return this.leases.size;
  }

  get(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  ids(): bigint[] {
    return [...this.leases.keys()];
  }

  /** Restores a lease read from disk: its deadline restarts from now (etcd does the same). */
  restore(id: bigint, ttl: number, remaining: number): Lease {
    const l: Lease = { id, ttl, remaining, expiry: this.clock() + (remaining > 0 ? remaining : ttl) * 1000, keys: new Set() };
    this.leases.set(id, l);
    return l;
  }

  /** Caller has checked: id ≠ 0, unknown, ttl ≤ MAX_LEASE_TTL. */
  grant(id: bigint, requestedTtl: number, out: InStatement[]): Lease {
    const ttl = Math.max(requestedTtl, this.minTtl);
    const l: Lease = { id, ttl, remaining: 0, expiry: this.clock() + ttl * 1000, keys: new Set() };
    this.leases.set(id, l);
    out.push({ sql: "INSERT OR REPLACE INTO leases (id, ttl, remaining) VALUES (?, ?, 0)", args: [id.toString(), ttl] });
    return l;
  }

  /** Forgets the lease and returns it (its keys are the caller's to delete). */
  revoke(id: bigint, out: InStatement[]): Lease | undefined {
    const l = this.leases.get(id);
    if (l === undefined) return undefined;
    this.leases.delete(id);
    out.push({ sql: "DELETE FROM leases WHERE id = ?", args: [id.toString()] });
    return l;
  }

  attach(id: bigint, k: string): void {
    if (id === 0n) return;
    const l = this.leases.get(id);
    if (l === undefined) throw new Error(`lease: attach to unknown lease ${id}`);
    l.keys.add(k);
  }

  detach(id: bigint, k: string): void {
    if (id === 0n) return;
    this.leases.get(id)?.keys.delete(k);
  }

  /**
   * A remaining TTL written through the log (0 clears it: a renewal happened, the full TTL
   * counts again), as etcd's LeaseCheckpoint applies: only the remaining TTL is kept, the
   * deadline stays (promote() starts from it on a new leader). Checkpoints round up, so moving
   * the deadline to each one would lengthen a lease by up to a second per checkpoint.
   */
  checkpoint(id: bigint, remaining: number, out: InStatement[]): void {
    const l = this.leases.get(id);
    if (l === undefined) return;
    l.remaining = remaining;
    out.push({ sql: "UPDATE leases SET remaining = ? WHERE id = ?", args: [remaining, id.toString()] });
  }

  /** The lease carries a checkpointed remaining TTL (a new leader would start from it). */
  checkpointed(id: bigint): boolean {
    return (this.leases.get(id)?.remaining ?? 0) > 0;
  }

  /** Keepalive: back to the full TTL. Returns the TTL, or 0 if unknown or already expired. */
  renew(id: bigint): number {
    const l = this.leases.get(id);
    const now = this.clock();
    if (l === undefined || l.expiry <= now) return 0;
    l.expiry = now + l.ttl * 1000;
    l.remaining = 0;
    return l.ttl;
  }

  /** Remaining whole seconds (truncated, as etcd), never below 0. */
  remainingSeconds(l: Lease): number {
    return Math.max(0, Math.floor((l.expiry - this.clock()) / 1000));
  }

  /** Remaining seconds rounded up, as etcd checkpoints them: a checkpoint never shortens a lease. */
  remainingSecondsCeil(l: Lease): number {
    return Math.max(0, Math.ceil((l.expiry - this.clock()) / 1000));
  }

  isExpired(id: bigint, now: number): boolean {
    const l = this.leases.get(id);
    return l !== undefined && l.expiry <= now;
  }

  /** Leases whose deadline has passed, earliest first, at most limit. */
  expired(now: number, limit: number): bigint[] {
    const due: Lease[] = [];
    for (const l of this.leases.values()) if (l.expiry <= now) due.push(l);
    due.sort((a, b) => a.expiry - b.expiry);
    return due.slice(0, limit).map((l) => l.id);
  }

  /**
   * A new leader restarts every deadline (etcd's Promote): now + remaining TTL (or the full
   * TTL) + extend, so leases kept alive at the old leader do not expire at once.
   */
  promote(extendMs: number): void {
    const now = this.clock();
    for (const l of this.leases.values()) {
      l.expiry = now + (l.remaining > 0 ? l.remaining : l.ttl) * 1000 + extendMs;
    }
  }
}
