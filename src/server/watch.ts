// The watch hub: client watch streams, fed by the state machine after each committed apply
// batch (HubStream in watch-stream.ts holds one stream's watchers, synced or catching up).
//
// Fan-out: the changes of a batch become one WatchBatch whose Event objects and per-filter
// event lists are shared by every watcher that selects them, and each watcher gets the whole
// batch as one response (split at revision boundaries past 1 MiB), as etcd's unsynced
// catch-up groups revisions: thousands of watchers on one prefix cost one event list per batch,
// not one response per watcher per revision.
//
// The hub outlives the store it reads from: a follower that installs a snapshot suspends the
// hub, replaces its store, and rebinds the hub to the new one. Every watcher then re-syncs
// from its next revision against the new store (etcd moves its watchers to the unsynced group
// on restore), or is canceled with compact_revision when the new store compacted past it.
import type { Event } from "../gen/kv_pb.ts";
import type { ResponseHeader, WatchResponse } from "../gen/rpc_pb.ts";
import type { Change, KeyRange, KeyState } from "../mvcc/index.ts";
import type { EtcdError } from "../rpctypes/index.ts";
import type { StreamFlow, WatchStream } from "./types.ts";
import { type EventChunk, MAX_BATCH_RESPONSE_BYTES, WatchBatch, type WatchFilter, eventSize } from "./watch-batch.ts";
import { HubStream } from "./watch-stream.ts";

export interface WatchSource {
  /** Revision whose changes are all on disk and delivered to synced watchers. */
  committedRevision(): number;
  compactRevision(): number;
  header(revision: number): ResponseHeader;
  changesBetween(r: KeyRange, from: number, to: number): Promise<Change[]>;
  stateAt(key: Uint8Array, rev: number): Promise<KeyState | undefined>;
}

/** A watcher's permission check: undefined when its range may be read, else the cancel error. */
export type WatchPermission = (key: Uint8Array, end: Uint8Array, recheck: boolean) => EtcdError | undefined;

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface WatchHubOptions {
  /** Responses larger than this are split when the watcher asked for fragments. */
  fragmentBytes: number;
  /** progress_notify period; 0 disables the timer (progressTick can still be called). */
  progressNotifyIntervalMs: number;
  timers?: Timers;
  /** Revisions read per replay query. */
  replayBatchRevisions?: number;
}

/**
 * The last apply batches are kept (up to about this many bytes of changes) so that a stream that
 * stalled for a moment catches up from memory, with the same shared events, instead of reading
 * the revisions back from the state file.
 */
const RECENT_BYTES = 8 * 1024 * 1024;

export class WatchHub {
  private readonly streams = new Set<HubStream>();
  /** Recent live batches, oldest first, covering contiguous revisions. */
  private recent: WatchBatch[] = [];
  private recentBytes = 0;
  /** Catch-up responses built from `recent`, by filter and first revision (cleared as it changes). */
  private recentMemo = new Map<string, EventChunk[]>();
  private readonly timer: unknown;
  private readonly timers: Timers | undefined;
  private source: WatchSource;
  private paused = false;
  /**
   * Bumped on suspend and rebind: a replay started under an older epoch read from a store
   * that is gone (or going) and drops what it read. Invariant: only replays of the current
   * epoch move a watcher's nextRev.
   */
  private epochNo = 0;

  constructor(
    src: WatchSource,
    readonly opts: WatchHubOptions,
  ) {
    this.source = src;
    this.timers = opts.timers ?? (globalThis as unknown as Timers);
    if (opts.progressNotifyIntervalMs > 0) {
      this.timer = this.timers.setInterval(() => this.progressTick(), opts.progressNotifyIntervalMs);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /** The store the hub reads from now. */
  get src(): WatchSource {
    return this.source;
  }

  /** @internal */
  get epoch(): number {
    return this.epochNo;
  }

  /** True between suspend() and rebind(): no watcher is synced, no replay runs. */
  get suspended(): boolean {
    return this.paused;
  }

  /**
   * Stops every replay and takes every watcher out of the synced set: the store is about to
   * be replaced. Streams stay open; watches created meanwhile wait for rebind().
   */
  suspend(): void {
    this.paused = true;
    this.epochNo++;
    this.forgetRecent();
    for (const s of this.streams) s.unsync();
  }

  /**
   * Reads from `src` from now on (the store that replaced the old one) and re-syncs every
   * watcher from its next revision: replayed from `src`'s history, or canceled as compacted.
   */
  rebind(src: WatchSource): void {
    this.source = src;
    this.paused = false;
    this.epochNo++;
    this.forgetRecent();
    for (const s of this.streams) s.resync();
  }

  get streamCount(): number {
    return this.streams.size;
  }

  get watcherCount(): number {
    let n = 0;
    for (const s of this.streams) n += s.size;
    return n;
  }

  /** A client stream; `flow` is its transport's backpressure, when it reports one. */
  open(send: (r: WatchResponse) => void, permission?: WatchPermission, flow?: StreamFlow): WatchStream {
    const s = new HubStream(this, send, permission, flow);
    this.streams.add(s);
    return s;
  }

  /** Streams holding back output for a client that does not read (tests, metrics). */
  get stalledStreams(): number {
    let n = 0;
    for (const s of this.streams) if (s.stalled) n++;
    return n;
  }

  /** @internal */
  remove(s: HubStream): void {
    this.streams.delete(s);
  }

  /** Delivers one apply batch's committed changes (in revision order) to synced watchers. */
  notify(changes: readonly Change[]): void {
    if (changes.length === 0) return;
    if (this.streams.size === 0) {
      this.forgetRecent(); // nobody to catch up; later batches start a new run
      return;
    }
    const src = this.source;
    const batch = new WatchBatch(changes, (rev) => src.header(rev));
    this.remember(batch);
    for (const s of this.streams) s.deliver(batch);
  }

  private remember(b: WatchBatch): void {
    // The kept batches must cover contiguous revisions: a gap starts a new run.
    const prev = this.recent[this.recent.length - 1];
    if (prev !== undefined && b.firstRev !== prev.lastRev + 1) this.forgetRecent();
    this.recent.push(b);
    this.recentBytes += b.bytes;
    while (this.recentBytes > RECENT_BYTES && this.recent.length > 1) this.recentBytes -= this.recent.shift()!.bytes;
    this.recentMemo.clear();
  }

  private forgetRecent(): void {
    this.recent = [];
    this.recentBytes = 0;
    this.recentMemo.clear();
  }

  /**
   * @internal The responses that catch a watcher up from `from` to the last committed revision
   * out of the kept batches, or undefined when `from` is older than what is kept. Consecutive
   * batches are merged into responses of up to 1 MiB, as etcd's catch-up sends up to 1000
   * revisions at once; watchers with the same filter and position share them.
   */
  recentChunks(f: WatchFilter, filterKey: string, from: number): EventChunk[] | undefined {
    const r = this.recent;
    if (r.length === 0 || r[0]!.firstRev > from) return undefined;
    const key = `${from}\u0000${filterKey}`;
    const memo = this.recentMemo.get(key);
    if (memo !== undefined) return memo;
    const out: EventChunk[] = [];
    let events: Event[] = [];
    let bytes = 0;
    let last: EventChunk | undefined;
    for (const b of r) {
      if (b.lastRev < from) continue;
      for (const c of b.chunksFor(f, filterKey, from)) {
        let n = 0;
        for (const e of c.events) n += eventSize(e);
        if (events.length > 0 && bytes + n > MAX_BATCH_RESPONSE_BYTES) {
          out.push({ header: last!.header, events, lastRev: last!.lastRev });
          events = [];
          bytes = 0;
        }
        // A chunk alone is kept as it is (its list is shared and already encoded).
        events = events.length === 0 ? c.events : events.concat(c.events);
        bytes += n;
        last = c;
      }
    }
    if (events.length > 0) out.push({ header: last!.header, events, lastRev: last!.lastRev });
    this.recentMemo.set(key, out);
    return out;
  }

  /** @internal The oldest revision kept in memory (undefined: none). */
  get recentStart(): number | undefined {
    return this.recent[0]?.firstRev;
  }

  /** @internal The newest revision kept in memory (0: none). */
  get recentEnd(): number {
    return this.recent[this.recent.length - 1]?.lastRev ?? 0;
  }

  /** The auth store changed: streams drop the watchers their user may no longer read. */
  authChanged(): void {
    for (const s of [...this.streams]) s.recheck();
  }

  /** Sends a progress notification to synced progress_notify watchers that were quiet. */
  progressTick(): void {
    for (const s of this.streams) s.progressTick();
  }

  close(): void {
    if (this.timer !== undefined) this.timers?.clearInterval(this.timer);
    for (const s of [...this.streams]) s.close();
  }
}
