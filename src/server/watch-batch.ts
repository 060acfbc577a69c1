// One batch of changes as the watch hub delivers it: the changes of one apply batch (live), or
// of one window of history (catch-up). Watchers with the same range, filters and next revision
// get the very same Event objects and the very same event lists, computed once per batch: an
// encoder that remembers what it encoded (src/api/rpc/watch-codec.ts) then writes each shared
// event once, however many watchers receive it.
import { Event_EventType, type Event, type KeyValue } from "../gen/kv_pb.ts";
import type { ResponseHeader, WatchResponse } from "../gen/rpc_pb.ts";
import { type Change, inRange, type KeyRange, type KeyState, toKey, toKeyValue } from "../mvcc/index.ts";

/** What a watcher selects from a batch. */
export interface WatchFilter {
  readonly range: KeyRange;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
}

/**
 * A response never carries more than this many bytes of events (the rest follows in the next
 * one, split at a revision boundary): coalescing a busy batch must not produce messages that a
 * client's default receive limit (4 MiB in most gRPC libraries) refuses.
 */
export const MAX_BATCH_RESPONSE_BYTES = 1024 * 1024;

/** The events of one response, with the header every watcher receiving them shares. */
export interface EventChunk {
  readonly header: ResponseHeader;
  readonly events: Event[];
  /** Revision of the last event. */
  readonly lastRev: number;
}

export class WatchBatch {
  /** Shared events per change index: plain, and with prev_kv. */
  private readonly plain: (Event | undefined)[] = [];
  private readonly withPrev: (Event | undefined)[] = [];
  /** Latin1 keys per change index. */
  private readonly keys: string[] = [];
  /** Chunk lists by filter and first revision. */
  private readonly memo = new Map<string, EventChunk[]>();
  /** Headers by revision, shared by the responses that carry them. */
  private readonly headers = new Map<number, ResponseHeader>();

  /**
   * @param changes in revision order, `prev` filled where prev_kv may be asked
   * @param header the header of a response whose last event has revision `rev`: live batches
   *        answer with that revision (etcd's synced watchers get each revision's own), history
   *        windows with the revision the window reaches (etcd's unsynced catch-up: the current)
   */
  constructor(
    readonly changes: readonly Change[],
    private readonly header: (rev: number) => ResponseHeader,
  ) {}

  get lastRev(): number {
    return this.changes.length === 0 ? 0 : this.changes[this.changes.length - 1]!.revision;
  }

  get firstRev(): number {
    return this.changes.length === 0 ? 0 : this.changes[0]!.revision;
  }

  /** About what its changes hold in memory (keys, values, previous values). */
  get bytes(): number {
    let n = 0;
    for (const c of this.changes) n += 96 + c.key.length + (c.kv?.value.length ?? 0) + (c.prev?.value.length ?? 0);
    return n;
  }

  /** The responses' events for a watcher that wants `f` from revision `from` on. */
  chunksFor(f: WatchFilter, key: string, from: number): EventChunk[] {
    const memoKey = `${from}\u0000${key}`;
    let chunks = this.memo.get(memoKey);
    if (chunks === undefined) {
      chunks = this.build(f, from);
      this.memo.set(memoKey, chunks);
    }
    return chunks;
  }

  private build(f: WatchFilter, from: number): EventChunk[] {
    const out: EventChunk[] = [];
    const cs = this.changes;
    let events: Event[] = [];
    let bytes = 0;
    let lastRev = 0;
    let i = firstAtOrAfter(cs, from);
    for (; i < cs.length; i++) {
      const c = cs[i]!;
      if (!inRange(f.range, this.keyAt(i))) continue;
      if (c.kv !== undefined ? f.noPut : f.noDelete) continue;
      const ev = this.eventAt(i, f.prevKv);
      const n = eventSize(ev);
      // Split only between revisions, so a revision's events stay in one response.
      if (events.length > 0 && bytes + n > MAX_BATCH_RESPONSE_BYTES && c.revision !== lastRev) {
        out.push({ header: this.headerAt(lastRev), events, lastRev });
        events = [];
        bytes = 0;
      }
      events.push(ev);
      bytes += n;
      lastRev = c.revision;
    }
    if (events.length > 0) out.push({ header: this.headerAt(lastRev), events, lastRev });
    return out;
  }

  private headerAt(rev: number): ResponseHeader {
    let h = this.headers.get(rev);
    if (h === undefined) {
      h = this.header(rev);
      this.headers.set(rev, h);
    }
    return h;
  }

  private keyAt(i: number): string {
    let k = this.keys[i];
    if (k === undefined) {
      const c = this.changes[i]!;
      k = c.k !== "" ? c.k : toKey(c.key);
      this.keys[i] = k;
    }
    return k;
  }

  private eventAt(i: number, prevKv: boolean): Event {
    const cache = prevKv ? this.withPrev : this.plain;
    let ev = cache[i];
    if (ev === undefined) {
      ev = toEvent(this.changes[i]!, prevKv);
      cache[i] = ev;
    }
    return ev;
  }
}

/** Index of the first change with revision ≥ rev (changes are in revision order). */
function firstAtOrAfter(cs: readonly Change[], rev: number): number {
  let lo = 0;
  let hi = cs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cs[mid]!.revision < rev) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function toEvent(c: Change, prevKv: boolean): Event {
  const prev = prevKv && c.prev !== undefined ? toKeyValue(c.prev) : undefined;
  if (c.kv !== undefined) return event(Event_EventType.PUT, toKeyValue(c.kv), prev);
  const kv: KeyValue = {
    $typeName: "mvccpb.KeyValue",
    key: c.key,
    createRevision: 0n,
    modRevision: BigInt(c.revision),
    version: 0n,
    value: new Uint8Array(0),
    lease: 0n,
  };
  return event(Event_EventType.DELETE, kv, prev);
}

function event(type: Event_EventType, kv: KeyValue, prevKv: KeyValue | undefined): Event {
  return { $typeName: "mvccpb.Event", type, kv, prevKv };
}

/** Roughly the encoded size of an event (fragmenting and response splitting use it). */
export function eventSize(e: Event): number {
  const kv = e.kv!;
  const p = e.prevKv;
  return 32 + kv.key.length + kv.value.length + (p !== undefined ? 32 + p.key.length + p.value.length : 0);
}

/** Fills `prev` of history changes for prev_kv watchers (live changes carry it already). */
export async function withPrevs(
  changes: readonly Change[],
  stateAt: (key: Uint8Array, rev: number) => Promise<KeyState | undefined>,
): Promise<Change[]> {
  const prevs = await Promise.all(
    changes.map((c) => (c.kv !== undefined && c.kv.version === 1 ? undefined : stateAt(c.key, c.revision - 1))),
  );
  return changes.map((c, i) => ({ ...c, prev: prevs[i] }));
}

export function watchResponse(
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
