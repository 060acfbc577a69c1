// Proposals made in one turn of the event loop, handed to the Raft core together when the loop
// next runs (raft-loop.ts, kickSoon), after every connection readable in that turn was read.
// One whose caller has given up by then (a gRPC stream reset in the same turn: "rapid reset")
// is answered "context canceled" and never proposed, as etcd's Propose returns the context's
// error when it is done first: an attacker's requests then cost a decode, not an entry in the
// log, the state file and every member's memory.
import type { InternalRaftRequest } from "../gen/internal_pb.ts";
import { ProposalDroppedError } from "../raft/raft.ts";
import { Errors } from "../rpctypes/index.ts";

/** What waits for a proposal's entry to be applied. */
export interface Waiter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  deadline: number;
  /** The proposed request: its entry is applied from this, not decoded again. */
  req?: InternalRaftRequest;
}

/** A proposal not yet handed to the core. */
export interface QueuedProposal extends Waiter {
  readonly id: bigint;
  readonly data: Uint8Array;
  /** True once the caller has given up (RequestContext.cancelled). */
  readonly cancelled: (() => boolean) | undefined;
}

export class ProposalQueue {
  private items: QueuedProposal[] = [];

  get length(): number {
    return this.items.length;
  }

  push(p: QueuedProposal): void {
    this.items.push(p);
  }

  /**
   * Hands every queued proposal to `propose` (the core), in order, and `accepted` the ones it
   * took; a cancelled one is refused "context canceled", one the core drops "leader changed".
   */
  flush(propose: (data: Uint8Array) => void, accepted: (p: QueuedProposal) => void): void {
    const ps = this.items;
    if (ps.length === 0) return;
    this.items = [];
    for (const p of ps) {
      if (p.cancelled?.() === true) {
        p.reject(Errors.canceled);
        continue;
      }
      try {
        propose(p.data);
      } catch (err) {
        p.reject(err instanceof ProposalDroppedError ? Errors.leaderChanged : err);
        continue;
      }
      accepted(p);
    }
  }

  failAll(err: unknown): void {
    for (const p of this.items.splice(0)) p.reject(err);
  }
}
