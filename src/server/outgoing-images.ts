// Snapshot images being streamed to peers, for the Ready loop (raft-loop.ts): each MsgSnap
// goes out with an image of the state machine taken as it is applied now, read from a copy on
// disk while the loop goes on; the copies are closed (removed) once sent, failed, never started
// or at stop. Apart from the loop, which only hands it the MsgSnap and counts the failures.
import { assert } from "../raft/assert.ts";
import type { Message } from "../raft/message.ts";
import type { RawNode } from "../raft/raw-node.ts";
import type { Snapshot } from "../raft/types.ts";
import type { PeerTransport } from "../transport/types.ts";
import { imageLengthData } from "../transport/wire.ts";
import type { Logger } from "./logger.ts";
import type { StateMachine } from "./state-machine-types.ts";

export interface OutgoingImagesOptions {
  node: RawNode;
  transport: PeerTransport;
  logger: Logger;
}

export class OutgoingImages {
  /** Images being streamed to each peer (temp copies on disk): closers, and whether reading began. */
  private readonly images = new Map<bigint, Set<{ close(): Promise<void>; started(): boolean }>>();

  constructor(private readonly o: OutgoingImagesOptions) {}

  /**
   * A MsgSnap carries the state as applied now, with the matching index, term and
   * configuration (etcd's merged snapshot message): the stored snapshot may predate the
   * follower's own addition, and a follower refuses a snapshot whose configuration lacks it.
   * The first step of the state machine's snapshot takes a consistent copy on disk (VACUUM
   * INTO) inside the loop, so no apply runs in between; the image then streams from that copy
   * while the loop goes on, one chunk at a time (never the whole image in memory). False if
   * the image could not be taken: the loop counts and reports the failed send.
   */
  async send(m: Message, sm: StateMachine): Promise<boolean> {
    const index = sm.appliedIndex;
    const it = sm.snapshot()[Symbol.asyncIterator]();
    let first: IteratorResult<{ blob: Uint8Array }>;
    try {
      first = await it.next();
    } catch (err) {
      this.o.logger.warn("failed to take a snapshot image to send", { to: m.to.toString(16), error: String(err) });
      return false;
    }
    assert(sm.appliedIndex === index, "state changed while a snapshot image was taken");
    // The first message tells the image's size: its blob and what remains after it.
    const size = first.done ? 0 : first.value.blob.length + Number((first.value as { remainingBytes?: bigint }).remainingBytes ?? 0n);
    const snap: Snapshot = {
      meta: { index, term: this.o.node.raft.raftLog.term(index), confState: this.o.node.raft.prs.confState() },
      data: imageLengthData(size),
    };
    // Closes the copy (and removes it) once sent, failed, never started, or at stop.
    let done = false;
    let started = false;
    const close = async (): Promise<void> => {
      if (done) return;
      done = true;
      this.images.get(m.to)?.delete(entry);
      await it.return?.();
    };
    const entry = { close, started: () => started };
    let set = this.images.get(m.to);
    if (set === undefined) this.images.set(m.to, (set = new Set()));
    set.add(entry);
    async function* image(): AsyncGenerator<Uint8Array> {
      started = true;
      try {
        // One chunk of lookahead: the state machine's final message is the image's SHA-256,
        // not part of it.
        let held = first.done ? undefined : first.value.blob;
        while (held !== undefined) {
          if (done) throw new Error("snapshot image closed before it was sent");
          const next = await it.next();
          if (done) throw new Error("snapshot image closed before it was sent");
          if (next.done) break;
          yield held;
          held = next.value.blob;
        }
      } finally {
        await close();
      }
    }
    this.o.transport.sendSnapshot({ ...m, snapshot: snap }, image);
    return true;
  }

  /**
   * The transport reported a send to `id`: images it never started reading are closed (their
   * copies removed); one being read closes itself when its reader stops. With `all` (at stop),
   * every image is closed, and one still being read fails its send rather than end short.
   */
  close(id: bigint, all = false): void {
    const set = this.images.get(id);
    if (set === undefined) return;
    for (const img of [...set]) if (all || !img.started()) void img.close().catch(() => {});
  }

  /** At stop: every image is closed (see close). */
  closeAll(): void {
    for (const id of [...this.images.keys()]) this.close(id, true);
  }
}
