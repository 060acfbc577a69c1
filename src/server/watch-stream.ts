// One client watch stream of the hub (etcd's watchStream with its synced and unsynced groups).
//
// A watcher is synced (it receives each apply batch's changes as they are committed) or
// unsynced (it reads what it has not seen from history, in windows of revisions, until it
// reaches the committed revision; then it is synced again with no await in between, so
// there is no gap and no duplicate). Watchers start unsynced when they ask for past revisions,
// all of a stream's watchers become unsynced when its client stops reading (the transport's
// StreamFlow is not writable: nothing more is queued for it, so what the member holds for a
// slow stream is bounded by the transport's high-water mark plus one batch), and every
// watcher becomes unsynced while the store is replaced by a snapshot. Catch-up reads the
// revisions the hub still keeps in memory (its last few MiB of apply batches) from there, and
// older ones from the state file.
import {
  type Event,
} from "../gen/kv_pb.ts";
import {
  type ResponseHeader,
  type WatchCreateRequest,
  WatchCreateRequest_FilterType as FilterType,
  type WatchResponse,
} from "../gen/rpc_pb.ts";
import { isEmptyRange, keyRange, type KeyRange } from "../mvcc/index.ts";
import type { StreamFlow, WatchStream } from "./types.ts";
import { type EventChunk, eventSize, WatchBatch, type WatchFilter, watchResponse, withPrevs } from "./watch-batch.ts";
import type { WatchHub, WatchPermission } from "./watch.ts";

interface Watcher extends WatchFilter {
  readonly id: number;
  /** The range as asked (key "\x00" for an empty one), for permission re-checks. */
  readonly key: Uint8Array;
  readonly end: Uint8Array;
  readonly fragment: boolean;
  readonly progressNotify: boolean;
  /** Range, filters and prev_kv as one string: watchers that share it share event lists. */
  readonly filterKey: string;
  /** Next revision this watcher has to deliver. */
  nextRev: number;
  synced: boolean;
  canceled: boolean;
  /** Sent something since the last progress tick. */
  sentSinceTick: boolean;
}

const DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream";
const EMPTY_RANGE = "mvcc: watcher range is empty";

export class HubStream implements WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 0;
  private closed = false;
  /** A catch-up loop runs (one at a time per stream). */
  private catching = false;
  /** Asked for while a loop was ending: run another once it has. */
  private again = false;
  /** The client stopped reading: everything waits for the flow's onWritable. */
  private blocked = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly send: (r: WatchResponse) => void,
    private readonly permission?: WatchPermission,
    private readonly flow?: StreamFlow,
  ) {
    flow?.onWritable(() => {
      if (!this.blocked || this.closed) return;
      this.blocked = false;
      this.startCatchUp();
    });
  }

  get size(): number {
    return this.watchers.size;
  }

  /** True while this stream holds back output for a client that does not read. */
  get stalled(): boolean {
    return this.blocked;
  }

  create(req: WatchCreateRequest): void {
    if (this.closed) return;
    const src = this.hub.src;
    const current = src.committedRevision();
    const key = req.key.length === 0 ? new Uint8Array([0]) : req.key;
    // etcd's recvLoop checks permission before anything about the watcher itself.
    const denied = this.permission?.(key, req.rangeEnd, false);
    if (denied !== undefined) {
      this.send(watchResponse(src.header(current), -1, { created: true, canceled: true, cancelReason: denied.grpcText }));
      return;
    }
    let id = Number(req.watchId);
    if (id !== 0 && this.watchers.has(id)) {
      this.send(watchResponse(src.header(current), -1, { created: true, canceled: true, cancelReason: DUPLICATE_ID }));
      return;
    }
    const range = keyRange(key, req.rangeEnd);
    if (isEmptyRange(range)) {
      this.send(watchResponse(src.header(current), -1, { created: true, canceled: true, cancelReason: EMPTY_RANGE }));
      return;
    }
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    }
    const start = Number(req.startRevision);
    const noPut = req.filters.includes(FilterType.NOPUT);
    const noDelete = req.filters.includes(FilterType.NODELETE);
    const w: Watcher = {
      id,
      range,
      key,
      end: req.rangeEnd,
      noPut,
      noDelete,
      prevKv: req.prevKv,
      fragment: req.fragment,
      progressNotify: req.progressNotify,
      filterKey: filterKeyOf(range, noPut, noDelete, req.prevKv),
      nextRev: start > 0 ? start : current + 1,
      synced: false,
      canceled: false,
      sentSinceTick: false,
    };
    this.watchers.set(id, w);
    this.send(watchResponse(src.header(current), id, { created: true }));
    if (start > 0 && start < src.compactRevision()) {
      this.cancelCompacted(w);
      return;
    }
    if (this.hub.suspended) return; // rebind() starts it against the new store
    // Nothing to read from history: synced now (no await since `current` was read).
    if (w.nextRev > current && !this.blocked) w.synced = true;
    else this.startCatchUp();
  }

  cancel(watchId: number): void {
    const w = this.watchers.get(watchId);
    if (w === undefined || this.closed) return;
    w.canceled = true;
    this.watchers.delete(watchId);
    this.send(watchResponse(this.hub.src.header(this.hub.src.committedRevision()), watchId, { canceled: true }));
  }

  progress(): void {
    if (this.closed) return;
    this.send(watchResponse(this.hub.src.header(this.hub.src.committedRevision()), -1, {}));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) w.canceled = true;
    this.watchers.clear();
    this.hub.remove(this);
  }

  // ---- hub side -------------------------------------------------------------------------------

  /** @internal Takes every watcher out of the synced group (the store is being replaced). */
  unsync(): void {
    for (const w of this.watchers.values()) w.synced = false;
  }

  /** @internal The hub reads a new store: every watcher catches up from it. */
  resync(): void {
    if (this.closed) return;
    this.unsync();
    this.startCatchUp();
  }

  /**
   * @internal The auth store changed: every watcher whose range the stream's user may no
   * longer read is canceled now, before any later event reaches it.
   */
  recheck(): void {
    if (this.closed || this.permission === undefined) return;
    for (const w of [...this.watchers.values()]) {
      const denied = this.permission(w.key, w.end, true);
      if (denied === undefined) continue;
      w.canceled = true;
      this.watchers.delete(w.id);
      this.send(watchResponse(this.hub.src.header(this.hub.src.committedRevision()), w.id, { canceled: true, cancelReason: denied.grpcText }));
    }
  }

  /**
   * @internal Live delivery of one committed apply batch to the synced watchers: each gets the
   * batch's events for it in one response; across watchers the responses go out in the order
   * of their first events' revisions, as etcd sends revision by revision.
   */
  deliver(batch: WatchBatch): void {
    if (this.closed || this.blocked) return;
    const last = batch.lastRev;
    const due: { w: Watcher; chunks: readonly EventChunk[] }[] = [];
    for (const w of this.watchers.values()) {
      if (!w.synced || last < w.nextRev) continue;
      const chunks = batch.chunksFor(w, w.filterKey, w.nextRev);
      if (chunks.length === 0) w.nextRev = last + 1;
      else due.push({ w, chunks });
    }
    if (due.length > 1) due.sort((a, b) => firstRev(a.chunks) - firstRev(b.chunks));
    for (const { w, chunks } of due) {
      if (w.canceled) continue;
      // The client stopped reading: this watcher and every other one wait for the drain and
      // then read what they missed from history (etcd's slow watchers become victims).
      if (!this.sendWhileWritable(w, chunks, last)) return;
    }
  }

  /** @internal Progress notifications to synced progress_notify watchers that were quiet. */
  progressTick(): void {
    if (this.closed) return;
    const src = this.hub.src;
    for (const w of this.watchers.values()) {
      if (w.synced && w.progressNotify && !w.sentSinceTick) {
        this.send(watchResponse(src.header(src.committedRevision()), w.id, {}));
      }
      w.sentSinceTick = false;
    }
  }

  // ---- catching up ----------------------------------------------------------------------------

  private block(): void {
    this.blocked = true;
    this.unsync();
  }

  private startCatchUp(): void {
    if (this.closed || this.hub.suspended) return;
    if (this.catching) {
      // The running loop may be past its last look (it stopped on backpressure and is ending):
      // another one runs after it.
      this.again = true;
      return;
    }
    const epoch = this.hub.epoch;
    this.catching = true;
    this.again = false;
    void this.catchUp(epoch)
      .catch((e: unknown) => this.fail(e, epoch))
      .finally(() => {
        this.catching = false;
        // Work that arrived as the loop ended (a rebind, a drain) starts a new one.
        if ((this.again || this.hub.epoch !== epoch) && !this.hub.suspended && !this.closed && !this.blocked) this.startCatchUp();
      });
  }

  /**
   * Reads what the unsynced watchers missed, one window of revisions at a time, watchers of the
   * same range sharing one read; stops while the client does not read (resumed by the flow's
   * onWritable), and when the store is replaced (the new epoch's loop takes over).
   */
  private async catchUp(epoch: number): Promise<void> {
    const hub = this.hub;
    const window = hub.opts.replayBatchRevisions ?? 1000;
    for (;;) {
      if (this.closed || hub.epoch !== epoch) return;
      if (this.flow !== undefined && !this.flow.writable) {
        this.block();
        return;
      }
      const src = hub.src;
      const committed = src.committedRevision();
      const compact = src.compactRevision();
      const work: Watcher[] = [];
      let lo = Infinity;
      for (const w of [...this.watchers.values()]) {
        if (w.synced || w.canceled) continue;
        if (w.nextRev > committed) {
          w.synced = true; // no await since `committed` was read: nothing committed in between
          continue;
        }
        if (w.nextRev < compact) {
          this.cancelCompacted(w);
          continue;
        }
        work.push(w);
        if (w.nextRev < lo) lo = w.nextRev;
      }
      if (work.length === 0) return;
      // What the hub still holds in memory is sent from there, the kept batches merged into
      // few responses shared by every watcher at the same position. The kept batches end at
      // the committed revision (the state machine notifies as it commits); were it otherwise
      // the file covers the gap.
      if (hub.recentStart !== undefined && hub.recentStart <= lo && hub.recentEnd === committed) {
        for (const w of work) {
          if (w.canceled) continue;
          const chunks = hub.recentChunks(w, w.filterKey, w.nextRev);
          if (chunks !== undefined && !this.sendWhileWritable(w, chunks, committed)) return;
        }
        continue; // the next round finds them past the committed revision: synced
      }
      let to = Math.min(committed, lo + window - 1);
      // Read from the file only up to what memory holds; the rest comes from there next round.
      const kept = hub.recentStart;
      if (kept !== undefined && kept > lo) to = Math.min(to, kept - 1);
      // One read per distinct range (and one prev_kv lookup if any of its watchers wants it).
      const groups = new Map<string, Watcher[]>();
      for (const w of work) {
        if (w.nextRev > to) continue;
        const g = rangeKeyOf(w.range);
        const list = groups.get(g);
        if (list === undefined) groups.set(g, [w]);
        else list.push(w);
      }
      const header = src.header(to);
      const headerOf = () => header;
      for (const list of groups.values()) {
        const from = Math.min(...list.map((w) => w.nextRev));
        let changes = await src.changesBetween(list[0]!.range, from, to);
        if (list.some((w) => w.prevKv)) changes = await withPrevs(changes, (k, r) => src.stateAt(k, r));
        // A store swapped in during the reads: the new epoch's loop covers these revisions.
        if (this.closed || hub.epoch !== epoch) return;
        const batch = new WatchBatch(changes, headerOf);
        for (const w of list) {
          if (w.canceled || w.synced || w.nextRev > to) continue;
          if (!this.sendWhileWritable(w, batch.chunksFor(w, w.filterKey, w.nextRev), to)) return;
        }
      }
    }
  }

  /**
   * Sends `chunks` (a watcher's responses up to revision `upTo`) while the stream takes them,
   * moving the watcher's next revision along; false, with the stream blocked, if it stopped
   * taking them (the rest is read again, from the next revision, after the drain).
   */
  private sendWhileWritable(w: Watcher, chunks: readonly EventChunk[], upTo: number): boolean {
    for (const c of chunks) {
      if (this.flow !== undefined && !this.flow.writable) {
        this.block();
        return false;
      }
      this.sendEvents(w, c.header, c.events);
      w.nextRev = c.lastRev + 1;
    }
    w.nextRev = upTo + 1;
    return true;
  }

  private sendEvents(w: Watcher, header: ResponseHeader, events: Event[]): void {
    w.sentSinceTick = true;
    if (!w.fragment) {
      this.send(watchResponse(header, w.id, { events }));
      return;
    }
    const limit = this.hub.opts.fragmentBytes;
    let part: Event[] = [];
    let size = 0;
    const parts: Event[][] = [];
    for (const e of events) {
      const n = eventSize(e);
      if (part.length > 0 && size + n > limit) {
        parts.push(part);
        part = [];
        size = 0;
      }
      part.push(e);
      size += n;
    }
    parts.push(part);
    parts.forEach((p, i) => this.send(watchResponse(header, w.id, { events: p, fragment: i < parts.length - 1 })));
  }

  private cancelCompacted(w: Watcher): void {
    const src = this.hub.src;
    w.canceled = true;
    this.watchers.delete(w.id);
    this.send(watchResponse(src.header(0), w.id, { canceled: true, compactRevision: src.compactRevision() }));
  }

  /** A history read failed: its watchers are canceled with the reason (not after a store swap). */
  private fail(e: unknown, epoch: number): void {
    if (this.closed || this.hub.epoch !== epoch) return;
    const reason = e instanceof Error ? e.message : String(e);
    for (const w of [...this.watchers.values()]) {
      if (w.synced || w.canceled) continue;
      w.canceled = true;
      this.watchers.delete(w.id);
      this.send(watchResponse(this.hub.src.header(this.hub.src.committedRevision()), w.id, { canceled: true, cancelReason: reason }));
    }
  }
}

function firstRev(chunks: readonly EventChunk[]): number {
  return Number(chunks[0]!.events[0]!.kv!.modRevision);
}

function rangeKeyOf(r: KeyRange): string {
  return r.end === undefined ? `=${r.start}` : `${r.start}\u0000${r.end}`;
}

function filterKeyOf(r: KeyRange, noPut: boolean, noDelete: boolean, prevKv: boolean): string {
  return `${noPut ? 1 : 0}${noDelete ? 1 : 0}${prevKv ? 1 : 0}${rangeKeyOf(r)}`;
}
