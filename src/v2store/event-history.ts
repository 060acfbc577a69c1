// The last N events of the store (etcd keeps 1000), for watches that start in the past:
// `waitIndex=n` gets the first matching event with index ≥ n, or "event index cleared" when n
// is older than the window.
import { V2Code, V2Error } from "../rpctypes/v2.ts";
import { Action, eventIndex, type V2Event } from "./event.ts";

export const HISTORY_CAPACITY = 1000;

export class EventHistory {
  private readonly ring: (V2Event | undefined)[];
  private front = 0;
  private size = 0;
  /** Index of the oldest event kept (0 while empty). */
  startIndex = 0;
  /** Index of the newest event (0 while empty). */
  lastIndex = 0;

  constructor(readonly capacity = HISTORY_CAPACITY) {
    this.ring = new Array<V2Event | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  add(e: V2Event): void {
    // Invariant: the window holds consecutive indexes (every index step is one event).
    if (this.size > 0 && eventIndex(e) !== this.lastIndex + 1) {
      throw new Error(`v2store: event ${eventIndex(e)} does not follow ${this.lastIndex}`);
    }
    const back = (this.front + this.size) % this.capacity;
    this.ring[back] = e;
    if (this.size === this.capacity) this.front = (this.front + 1) % this.capacity;
    else this.size++;
    this.lastIndex = eventIndex(e);
    this.startIndex = eventIndex(this.ring[this.front]!);
  }

  /** Oldest first. */
  *events(): Iterable<V2Event> {
    for (let i = 0; i < this.size; i++) yield this.ring[(this.front + i) % this.capacity]!;
  }

  /**
   * The first event at or after `index` that a watcher of `key` sees, undefined when none has
   * happened yet. Errors with EventIndexCleared (index 0; the caller sets the store index)
   * when `index` is older than the window.
   */
  scan(key: string, recursive: boolean, index: number): V2Event | undefined {
    if (index < this.startIndex) {
      throw new V2Error(V2Code.EventIndexCleared, `the requested history has been cleared [${this.startIndex}/${index}]`, 0);
    }
    if (index > this.lastIndex || this.size === 0) return undefined;
    // Every index in the window has exactly one event, so the offset finds the first candidate.
    const dirPrefix = key.endsWith("/") ? key : key + "/";
    for (let off = index - this.startIndex; off < this.size; off++) {
      const e = this.ring[(this.front + off) % this.capacity]!;
      if (e.refresh === true) continue;
      let ok = e.node.key === key;
      if (recursive) ok ||= e.node.key.startsWith(dirPrefix);
      if ((e.action === Action.Delete || e.action === Action.Expire) && e.prevNode?.dir === true) {
        ok ||= key.startsWith(e.prevNode.key);
      }
      if (ok) return e;
    }
    return undefined;
  }
}
