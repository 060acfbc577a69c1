// Linearizable reads for the Ready loop (raft-loop.ts): the waiting reads, batched into one
// read-index request per loop pass, the requests in flight (asked again when lost or when a new
// leader is elected) and the answered ones waiting for the apply to reach their index. Apart
// from the loop, which only hands it the read states of each Ready and the applied index.
import type { ServerMetrics } from "./server-metrics.ts";
import type { RawNode } from "../raft/raw-node.ts";
import type { ReadState } from "../raft/read-only.ts";
import { Errors } from "../rpctypes/index.ts";

interface ReadBatch {
  waiters: { resolve(): void; reject(e: unknown): void }[];
  deadline: number;
  /** When the read index was last requested: a lost request or answer is asked again. */
  sentAt: number;
}

/** etcd's readIndexRetryTime. */
const READ_RETRY_MS = 500;

export interface ReadIndexOptions {
  memberId: bigint;
  node: RawNode;
  clock: () => number;
  /** A read not answered within this fails with "request timed out". */
  requestTimeoutMs: number;
  metrics: Pick<ServerMetrics, "slowReadIndexes">;
}

export class ReadIndexReads {
  private waiting: ReadBatch["waiters"] = [];
  private readCtx = 0;
  private readonly inFlight = new Map<number, ReadBatch>();
  private awaitingApply: { index: number; batch: ReadBatch }[] = [];

  constructor(private readonly o: ReadIndexOptions) {}

  /** Reads wait for the next loop pass to ask for a read index. */
  get pending(): boolean {
    return this.waiting.length > 0;
  }

  /** Queues a read: it resolves once the apply reaches the read index asked for it. */
  add(resolve: () => void, reject: (e: unknown) => void): void {
    this.waiting.push({ resolve, reject });
  }

  /** Asks one read index for every read waiting. */
  issue(): void {
    if (this.waiting.length === 0) return;
    const ctx = ++this.readCtx;
    const now = this.o.clock();
    this.inFlight.set(ctx, { waiters: this.waiting, deadline: now + this.o.requestTimeoutMs, sentAt: now });
    this.waiting = [];
    // Without a leader the request is dropped by the core; it is re-sent when one is elected.
    if (this.o.node.raft.lead !== 0n) this.o.node.readIndex(encodeCtx(this.o.memberId, ctx));
  }

  /** A Ready's read states: the reads they answer wait for the apply to reach their index. */
  answered(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const ctx = decodeCtx(this.o.memberId, rs.requestCtx);
      const b = this.inFlight.get(ctx);
      if (!b) continue;
      this.inFlight.delete(ctx);
      this.awaitingApply.push({ index: rs.index, batch: b });
    }
  }

  /** Reads sent to a leader that is gone are lost: ask the new one. */
  resend(): void {
    for (const ctx of this.inFlight.keys()) this.o.node.readIndex(encodeCtx(this.o.memberId, ctx));
  }

  /** Resolves the reads whose read index the apply reached. */
  release(applied: number): void {
    while (this.awaitingApply.length > 0 && this.awaitingApply[0]!.index <= applied) {
      for (const w of this.awaitingApply.shift()!.batch.waiters) w.resolve();
    }
  }

  /** Fails the requests past their deadline; asks again those unanswered for a while. */
  sweep(now: number): void {
    for (const [ctx, b] of this.inFlight) {
      if (b.deadline <= now) {
        this.o.metrics.slowReadIndexes.inc(); // etcd: a read index that timed out
        this.inFlight.delete(ctx);
        for (const r of b.waiters) r.reject(Errors.timeout);
      } else if (now - b.sentAt >= READ_RETRY_MS && this.o.node.raft.lead !== 0n) {
        b.sentAt = now;
        this.o.node.readIndex(encodeCtx(this.o.memberId, ctx));
      }
    }
  }

  failAll(err: unknown): void {
    for (const r of this.waiting) r.reject(err);
    this.waiting = [];
    for (const b of this.inFlight.values()) for (const r of b.waiters) r.reject(err);
    this.inFlight.clear();
    for (const a of this.awaitingApply) for (const r of a.batch.waiters) r.reject(err);
    this.awaitingApply = [];
  }
}

/**
 * A read request's context: the member ID then a counter. The leader keys pending reads by
 * context, so contexts must differ between members or one member's read hides another's.
 */
function encodeCtx(member: bigint, n: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, member);
  v.setFloat64(8, n);
  return b;
}

function decodeCtx(member: bigint, b: Uint8Array): number {
  if (b.length !== 16) return -1;
  const v = new DataView(b.buffer, b.byteOffset, 16);
  if (v.getBigUint64(0) !== member) return -1;
  return v.getFloat64(8);
}
