// Pending ReadIndex requests on the leader (thesis §6.4): each waits until a quorum of
// heartbeat responses carrying its context confirms the leader was still the leader.

import type { Message } from "./message.ts";

export interface ReadState {
  /** Apply up to this index before serving the read. */
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  readonly acks: Set<bigint>;
}

export function ctxKey(ctx: Uint8Array): string {
  let s = "";
  for (const b of ctx) s += b.toString(16).padStart(2, "0");
  return s;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private readonly queue: string[] = [];

  /** Queues a read at the leader's commit index; the request context is entries[0].data. */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(m.entries[0]!.data);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req: m, index, acks: new Set() });
    this.queue.push(key);
  }

  recvAck(id: bigint, ctx: Uint8Array): Set<bigint> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Dequeues the request with this context and every one queued before it. */
  advance(ctx: Uint8Array): { req: Message; index: number }[] {
    const key = ctxKey(ctx);
    const i = this.queue.indexOf(key);
    if (i < 0) return [];
    const done = this.queue.splice(0, i + 1);
    const out: { req: Message; index: number }[] = [];
    for (const k of done) {
      const rs = this.pending.get(k)!;
      this.pending.delete(k);
      out.push({ req: rs.req, index: rs.index });
    }
    return out;
  }

  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1]!)!.req.entries[0]!.data;
  }
}
