// The watch hub: client watch streams, fed by the state machine after each committed
// apply batch. A watcher is either catching up (replaying history from SQLite up to the
// committed revision) or synced (receiving live changes). The switch happens with no
// await between "replayed up to the committed revision" and "synced", and live changes
// are only delivered after they are committed, so there is no gap and no duplicate.
//
// The hub outlives the store it reads from: a follower that installs a snapshot suspends the
// hub, replaces its store, and rebinds the hub to the new one. Every watcher then re-syncs
// from its next revision against the new store (etcd moves its watchers to the unsynced group
// on restore), or is canceled with compact_revision when the new store compacted past it.
import type { Event, KeyValue } from "../gen/kv_pb.ts";
import { Event_EventType } from "../gen/kv_pb.ts";
import {
  type ResponseHeader,
  type WatchCreateRequest,
  WatchCreateRequest_FilterType as FilterType,
  type WatchResponse,
} from "../gen/rpc_pb.ts";
import {
  type Change,
  inRange,
  isEmptyRange,
  keyRange,
  type KeyRange,
  type KeyState,
  toKey,
  toKeyValue,
} from "../mvcc/index.ts";
import type { EtcdError } from "../rpctypes/index.ts";
import type { WatchStream } from "./types.ts";

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

interface Watcher {
  readonly id: number;
  readonly range: KeyRange;
  /** The range as asked (key "\x00" for an empty one), for permission re-checks. */
  readonly key: Uint8Array;
  readonly end: Uint8Array;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly fragment: boolean;
  readonly progressNotify: boolean;
  /** Next revision this watcher has to deliver. */
  nextRev: number;
  synced: boolean;
  canceled: boolean;
  /** Sent something since the last progress tick. */
  sentSinceTick: boolean;
}

const DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream";
const EMPTY_RANGE = "mvcc: watcher range is empty";

export class WatchHub {
  private readonly streams = new Set<HubStream>();
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
    for (const s of this.streams) s.resync();
  }

  get watcherCount(): number {
    let n = 0;
    for (const s of this.streams) n += s.size;
    return n;
  }

  open(send: (r: WatchResponse) => void, permission?: WatchPermission): WatchStream {
    const s = new HubStream(this, send, permission);
    this.streams.add(s);
    return s;
  }

  /** @internal */
  remove(s: HubStream): void {
    this.streams.delete(s);
  }

  /** Delivers committed changes (in revision order) to synced watchers. */
  notify(changes: readonly Change[]): void {
    if (changes.length === 0 || this.streams.size === 0) return;
    for (const s of this.streams) s.deliver(changes);
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

class HubStream implements WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly send: (r: WatchResponse) => void,
    private readonly permission?: WatchPermission,
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  create(req: WatchCreateRequest): void {
    if (this.closed) return;
    const src = this.hub.src;
    const current = src.committedRevision();
    const key = req.key.length === 0 ? new Uint8Array([0]) : req.key;
    // etcd's recvLoop checks permission before anything about the watcher itself.
    const denied = this.permission?.(key, req.rangeEnd, false);
    if (denied !== undefined) {
      this.send(response(src.header(current), -1, { created: true, canceled: true, cancelReason: denied.grpcText }));
      return;
    }
    let id = Number(req.watchId);
    if (id !== 0 && this.watchers.has(id)) {
      this.send(response(src.header(current), -1, { created: true, canceled: true, cancelReason: DUPLICATE_ID }));
      return;
    }
    const range = keyRange(key, req.rangeEnd);
    if (isEmptyRange(range)) {
      this.send(response(src.header(current), -1, { created: true, canceled: true, cancelReason: EMPTY_RANGE }));
      return;
    }
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    }
    const start = Number(req.startRevision);
    const w: Watcher = {
      id,
      range,
      key,
      end: req.rangeEnd,
      noPut: req.filters.includes(FilterType.NOPUT),
      noDelete: req.filters.includes(FilterType.NODELETE),
      prevKv: req.prevKv,
      fragment: req.fragment,
      progressNotify: req.progressNotify,
      nextRev: start > 0 ? start : current + 1,
      synced: false,
      canceled: false,
      sentSinceTick: false,
    };
    this.watchers.set(id, w);
    this.send(response(src.header(current), id, { created: true }));
    if (start > 0 && start < src.compactRevision()) {
      this.cancelCompacted(w);
      return;
    }
    if (this.hub.suspended) return; // rebind() starts it against the new store
    this.startSync(w);
  }

  /** Starts a watcher's replay (or marks it synced when nothing is left to replay). */
  private startSync(w: Watcher): void {
    const epoch = this.hub.epoch;
    if (w.nextRev > this.hub.src.committedRevision()) w.synced = true;
    else void this.catchUp(w, epoch).catch((e: unknown) => this.fail(w, e, epoch));
  }

  /** @internal Takes every watcher out of the synced set (the store is being replaced). */
  unsync(): void {
    for (const w of this.watchers.values()) w.synced = false;
  }

  /** @internal Re-syncs every watcher against the hub's (new) store. */
  resync(): void {
    if (this.closed) return;
    for (const w of [...this.watchers.values()]) {
      w.synced = false;
      this.startSync(w);
    }
  }

  cancel(watchId: number): void {
    const w = this.watchers.get(watchId);
    if (w === undefined || this.closed) return;
    w.canceled = true;
    this.watchers.delete(watchId);
    this.send(response(this.hub.src.header(this.hub.src.committedRevision()), watchId, { canceled: true }));
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
      this.send(response(this.hub.src.header(this.hub.src.committedRevision()), w.id, { canceled: true, cancelReason: denied.grpcText }));
    }
  }

  progress(): void {
    if (this.closed) return;
    this.send(response(this.hub.src.header(this.hub.src.committedRevision()), -1, {}));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) w.canceled = true;
    this.watchers.clear();
    this.hub.remove(this);
  }

  /** Delivers revision by revision, so one stream's responses stay in revision order. */
  deliver(changes: readonly Change[]): void {
    let from = 0;
    while (from < changes.length) {
      const rev = changes[from]!.revision;
      let to = from + 1;
      while (to < changes.length && changes[to]!.revision === rev) to++;
      for (const w of this.watchers.values()) {
        if (!w.synced || rev < w.nextRev) continue;
        const events: Event[] = [];
        for (let i = from; i < to; i++) {
          const c = changes[i]!;
          const ev = this.toEvent(w, c, c.prev);
          if (ev !== undefined) events.push(ev);
        }
        if (events.length > 0) this.sendEvents(w, rev, events);
        w.nextRev = rev + 1;
      }
      from = to;
    }
  }

  progressTick(): void {
    if (this.closed) return;
    const src = this.hub.src;
    for (const w of this.watchers.values()) {
      if (w.synced && w.progressNotify && !w.sentSinceTick) {
        this.send(response(src.header(src.committedRevision()), w.id, {}));
      }
      w.sentSinceTick = false;
    }
  }

  private toEvent(w: Watcher, c: Change, prev: KeyState | undefined): Event | undefined {
    if (!inRange(w.range, keyOf(c))) return undefined;
    if (c.kv !== undefined) {
      if (w.noPut) return undefined;
      return event(Event_EventType.PUT, toKeyValue(c.kv), w.prevKv && prev !== undefined ? toKeyValue(prev) : undefined);
    }
    if (w.noDelete) return undefined;
    const kv: KeyValue = {
      $typeName: "mvccpb.KeyValue",
      key: c.key,
      createRevision: 0n,
      modRevision: BigInt(c.revision),
      version: 0n,
      value: new Uint8Array(0),
      lease: 0n,
    };
    return event(Event_EventType.DELETE, kv, w.prevKv && prev !== undefined ? toKeyValue(prev) : undefined);
  }

  private sendEvents(w: Watcher, rev: number, events: Event[]): void {
    w.sentSinceTick = true;
    const header = this.hub.src.header(rev);
    if (!w.fragment) {
      this.send(response(header, w.id, { events }));
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
    parts.forEach((p, i) => this.send(response(header, w.id, { events: p, fragment: i < parts.length - 1 })));
  }

  private cancelCompacted(w: Watcher): void {
    const src = this.hub.src;
    w.canceled = true;
    this.watchers.delete(w.id);
    this.send(response(src.header(0), w.id, { canceled: true, compactRevision: src.compactRevision() }));
  }

  private async catchUp(w: Watcher, epoch: number): Promise<void> {
    const src = this.hub.src;
    const batch = this.hub.opts.replayBatchRevisions ?? 1000;
    for (;;) {
      if (w.canceled || this.closed || this.hub.epoch !== epoch) return;
      const committed = src.committedRevision();
      if (w.nextRev > committed) {
        w.synced = true; // no await since the check: nothing committed in between
        return;
      }
      if (w.nextRev < src.compactRevision()) {
        this.cancelCompacted(w);
        return;
      }
      const to = Math.min(committed, w.nextRev + batch - 1);
      const changes = await src.changesBetween(w.range, w.nextRev, to);
      let prevs: Array<KeyState | undefined> = [];
      if (w.prevKv) {
        prevs = await Promise.all(
          changes.map((c) => (c.kv !== undefined && c.kv.version === 1 ? undefined : src.stateAt(c.key, c.revision - 1))),
        );
      }
      // A store swapped in during the reads: the new epoch's replay covers these revisions.
      if (w.canceled || this.closed || this.hub.epoch !== epoch) return;
      let events: Event[] = [];
      let rev = 0;
      changes.forEach((c, i) => {
        if (c.revision !== rev) {
          if (events.length > 0) this.sendEvents(w, rev, events);
          events = [];
          rev = c.revision;
        }
        const ev = this.toEvent(w, c, prevs[i]);
        if (ev !== undefined) events.push(ev);
      });
      if (events.length > 0) this.sendEvents(w, rev, events);
      w.nextRev = to + 1;
    }
  }

  private fail(w: Watcher, e: unknown, epoch: number): void {
    // A read from a store closed by a snapshot install fails: the new epoch's replay goes on.
    if (w.canceled || this.closed || this.hub.epoch !== epoch) return;
    w.canceled = true;
    this.watchers.delete(w.id);
    const reason = e instanceof Error ? e.message : String(e);
    this.send(response(this.hub.src.header(this.hub.src.committedRevision()), w.id, { canceled: true, cancelReason: reason }));
  }
}

function keyOf(c: Change): string {
  return c.k !== "" ? c.k : toKey(c.key);
}

function event(type: Event_EventType, kv: KeyValue, prevKv: KeyValue | undefined): Event {
  return { $typeName: "mvccpb.Event", type, kv, prevKv };
}

function eventSize(e: Event): number {
  const kv = e.kv!;
  const p = e.prevKv;
  return 32 + kv.key.length + kv.value.length + (p !== undefined ? 32 + p.key.length + p.value.length : 0);
}

function response(
  header: ResponseHeader,
  watchId: number,
  f: { created?: boolean; canceled?: boolean; cancelReason?: string; compactRevision?: number; events?: Event[]; fragment?: boolean },
): WatchResponse {
  return {
    $typeName: "etcdserverpb.WatchResponse",
    header,
    watchId: BigInt(watchId),
    created: f.created ?? false,
    canceled: f.canceled ?? false,
    compactRevision: BigInt(f.compactRevision ?? 0),
    cancelReason: f.cancelReason ?? "",
    fragment: f.fragment ?? false,
    events: f.events ?? [],
  };
}
