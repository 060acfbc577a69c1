// clientv3/mirror's Syncer: the keys under a prefix as they are at one revision, read in pages,
// then every change after that revision from a watch. make-mirror copies a cluster with it.
// One departure: the starting revision comes from a count-only read of the prefix itself, not
// from a read of the key "foo" (clientv3 reads "foo", which needs a permission on that key).
import { KV, type RangeResponse, type WatchResponse } from "../gen/rpc_pb.ts";
import type { Client } from "./client.ts";
import type { ClientError } from "./errors.ts";
import { bytes, prefixEnd } from "./keys.ts";
import { Watcher } from "./watch.ts";

/** Keys read per page (clientv3's batchLimit). */
const BATCH = 1000n;
const LONG = 365 * 24 * 3600 * 1000;

export class Syncer {
  private readonly key: Uint8Array;
  private readonly end: Uint8Array;
  private watcher: Watcher | undefined;

  constructor(
    private readonly client: Client,
    prefix: string,
    /** The revision to copy at; 0: the store's current revision when syncBase starts. */
    public rev = 0n,
  ) {
    const p = bytes(prefix);
    // An empty prefix mirrors the whole key space.
    this.key = p.length === 0 ? new Uint8Array([0]) : p;
    this.end = p.length === 0 ? new Uint8Array([0]) : prefixEnd(p);
  }

  /** How many keys the prefix holds at the sync revision (fixes `rev` when it was 0). */
  async count(): Promise<number> {
    const r = await this.client.call(KV.method.range, { key: this.key, rangeEnd: this.end, countOnly: true, revision: this.rev }, { deadline: Date.now() + LONG, idempotent: true });
    if (this.rev === 0n) this.rev = r.header!.revision;
    return Number(r.count);
  }

  /** The keys at `rev`, page by page, in key order. */
  async *syncBase(): AsyncGenerator<RangeResponse> {
    if (this.rev === 0n) await this.count();
    let from = this.key;
    for (;;) {
      const page = await this.client.call(KV.method.range, { key: from, rangeEnd: this.end, limit: BATCH, revision: this.rev }, { deadline: Date.now() + LONG, idempotent: true });
      yield page;
      if (!page.more || page.kvs.length === 0) return;
      const last = page.kvs.at(-1)!.key;
      from = new Uint8Array(last.length + 1);
      from.set(last);
    }
  }

  /**
   * Every change after `rev`, one watch response at a time (a response holds the events of one
   * or more revisions, in order). `onEnd` gets the error that ended the watch (a compaction).
   */
  syncUpdates(onResponse: (r: WatchResponse) => void, onEnd: (e: ClientError | undefined) => void): void {
    if (this.rev === 0n) throw new Error("mirror: syncUpdates before syncBase");
    this.watcher = new Watcher(this.client);
    this.watcher.watch({ key: this.key, rangeEnd: this.end, startRevision: this.rev + 1n, requireLeader: true }, (u) => {
      if (u.error) return;
      onResponse(u.response);
    }, onEnd);
  }

  close(): void {
    this.watcher?.close();
  }
}
