// Watchers of the v2 store by path (etcd's watcherHub). A watcher on /a sees events at /a; a
// recursive one also below /a (except in hidden "_" subtrees); every watcher of a path that a
// delete or expiry removes sees that event. A one-shot watcher leaves the hub with its first
// event; a streaming one stays. The hub outlives a store reloaded from a snapshot image.
import { clean } from "./path.ts";
import { eventIndex, type V2Event } from "./event.ts";

/** Events a watcher may hold undelivered; one more and it is dropped (etcd's channel size). */
export const WATCHER_BUFFER = 100;

export class V2Watcher {
  private readonly queue: V2Event[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  /** Unregisters from the hub (set by the hub). */
  detach: () => void = () => {};

  constructor(
    readonly recursive: boolean,
    readonly stream: boolean,
    /** The first index this watcher reports. */
    readonly sinceIndex: number,
    /** The store index when the watch began (X-Etcd-Index of the answer). */
    readonly startIndex: number,
  ) {}

  /** Queues an event; false when the buffer is full (the watcher is then ended). */
  push(e: V2Event): boolean {
    if (this.ended) return false;
    if (this.queue.length >= WATCHER_BUFFER) {
      this.end();
      return false;
    }
    this.queue.push(e);
    this.wakeUp();
    return true;
  }

  /** Queues a past event from the history (not bounded by the buffer size). */
  preload(e: V2Event): void {
    this.queue.push(e);
  }

  /** The next queued event, if any (does not wait). */
  poll(): V2Event | undefined {
    return this.queue.shift();
  }

  /** The next event, or undefined once the watcher has ended and its queue is drained. */
  async next(): Promise<V2Event | undefined> {
    for (;;) {
      const e = this.queue.shift();
      if (e !== undefined) return e;
      if (this.ended) return undefined;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Stops the watcher: it leaves the hub; queued events can still be read. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.detach();
    this.wakeUp();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** etcd's watcher.notify: whether this watcher takes the event. */
  wants(e: V2Event, originalPath: boolean, deleted: boolean): boolean {
    return (this.recursive || originalPath || deleted) && eventIndex(e) >= this.sinceIndex;
  }
}

export class WatcherHub {
  private readonly byPath = new Map<string, Set<V2Watcher>>();
  private n = 0;

  /** Watchers registered now. */
  get count(): number {
    return this.n;
  }

  add(key: string, w: V2Watcher): void {
    let set = this.byPath.get(key);
    if (set === undefined) this.byPath.set(key, (set = new Set()));
    set.add(w);
    this.n++;
    w.detach = () => {
      if (!set.delete(w)) return;
      this.n--;
      if (set.size === 0 && this.byPath.get(key) === set) this.byPath.delete(key);
    };
  }

  /** An event at e.node.key: the watchers of that path and of every parent directory. */
  notify(e: V2Event): void {
    if (this.byPath.size === 0) return;
    // "/", then each prefix of the (clean) key ending before a slash, then the key itself.
    const key = e.node.key;
    this.notifyWatchers(e, "/", false);
    for (let i = key.indexOf("/", 1); i > 0; i = key.indexOf("/", i + 1)) this.notifyWatchers(e, key.slice(0, i), false);
    if (key !== "/") this.notifyWatchers(e, key, false);
  }

  /** The watchers of exactly `path`; `deleted` when the node at `path` was removed by `e`. */
  notifyWatchers(e: V2Event, path: string, deleted: boolean): void {
    const set = this.byPath.get(path);
    if (set === undefined) return;
    const originalPath = e.node.key === path;
    for (const w of [...set]) {
      if (!originalPath && isHidden(path, e.node.key)) continue;
      if (!w.wants(e, originalPath, deleted)) continue;
      if (!w.push(e)) continue; // buffer full: the watcher ended and left the hub
      if (!w.stream) w.end();
    }
  }

  /** Ends every watcher (member stopping). */
  closeAll(): void {
    for (const set of [...this.byPath.values()]) for (const w of [...set]) w.end();
  }
}

/** Whether `keyPath` lies in a hidden ("_") subtree below `watchPath`. */
function isHidden(watchPath: string, keyPath: string): boolean {
  // A delete of /foo notifies watchers of /foo/bar: the watch path may be the longer one.
  if (watchPath.length > keyPath.length) return false;
  const after = clean("/" + keyPath.slice(watchPath.length));
  return after.includes("/_");
}
