// The v2 key tree (etcd 3.4's v2store): directories and files with created/modified indexes,
// TTLs, the event history and watchers. Pure and synchronous: the caller applies replicated
// requests in log order (writes, SYNC expiry) and serves local reads; every change is also
// recorded in a journal that the persistence layer turns into rows of the state file.
//
// The store index counts changes: every successful write and every expired node takes the next
// one, and each index has exactly one event. Expiry times come from the replicated requests
// (absolute Unix ms); the clock is used only to print the remaining TTL.
import { V2Code, V2Error } from "../rpctypes/v2.ts";
import { Action, type NodeExtern, type V2Event } from "./event.ts";
import { EventHistory, HISTORY_CAPACITY } from "./event-history.ts";
import { PERMANENT, V2Node } from "./node.ts";
import { join, split, storePath } from "./path.ts";
import { count, type StatOp, StoreStats } from "./stats.ts";
import { TtlHeap } from "./ttl-heap.ts";
import { V2Watcher, WatcherHub } from "./watcher-hub.ts";

/** Expiry times before this are taken as "no expiry" (etcd: a time serialized from JS as 0). */
export const MIN_EXPIRE_TIME = Date.UTC(2000, 0, 1);

/** A change the state file must record, in order. */
export type Change =
  | { readonly kind: "put"; readonly node: V2Node }
  | { readonly kind: "delete"; readonly path: string; readonly dir: boolean }
  | { readonly kind: "event"; readonly event: V2Event };

export interface TtlOptions {
  /** Unix ms of expiry; PERMANENT (0) for none. */
  readonly expireTime: number;
  /** Only the TTL changes: the value stays and watchers are not told. */
  readonly refresh?: boolean;
}

export interface V2StoreOptions {
  /** Unix ms, for the remaining TTLs reported to clients. */
  readonly now: () => number;
  /** Directories that always exist and are read-only (etcd: "/0" members, "/1" keys). */
  readonly namespaces?: readonly string[];
  /** The watchers; shared with the store that replaces this one after a snapshot install. */
  readonly hub?: WatcherHub;
  readonly historyCapacity?: number;
}

/** Thrown errors whose operation etcd nevertheless counts as a success in its stats. */
const UNCOUNTED = Symbol("uncounted");
type Uncounted = V2Error & { [UNCOUNTED]?: true };

function uncounted(e: V2Error): V2Error {
  (e as Uncounted)[UNCOUNTED] = true;
  return e;
}

export class V2Store {
  readonly root: V2Node;
  /** The current store index (X-Etcd-Index). */
  index = 0;
  readonly stats = new StoreStats();
  readonly history: EventHistory;
  readonly hub: WatcherHub;
  private readonly heap = new TtlHeap();
  private readonly readOnly: Set<string>;
  private journal: Change[] = [];

  constructor(private readonly o: V2StoreOptions) {
    this.root = V2Node.dir("/", 0, undefined, PERMANENT);
    for (const ns of o.namespaces ?? []) this.root.children!.set(ns.slice(1), V2Node.dir(ns, 0, this.root, PERMANENT));
    this.readOnly = new Set(["/", ...(o.namespaces ?? [])]);
    this.hub = o.hub ?? new WatcherHub();
    this.history = new EventHistory(o.historyCapacity ?? HISTORY_CAPACITY);
  }

  /** The changes since the last call (for the state file), oldest first. */
  takeChanges(): Change[] {
    const j = this.journal;
    this.journal = [];
    return j;
  }

  /** Whether any node has an expiry (the leader then proposes SYNC requests). */
  get hasTtlKeys(): boolean {
    return this.heap.size > 0;
  }

  /** The soonest expiry (Unix ms), or undefined. */
  get nextExpiry(): number | undefined {
    return this.heap.top()?.expireTime;
  }

  // ---- reads --------------------------------------------------------------------------------

  get(nodePath: string, recursive: boolean, sorted: boolean): V2Event {
    return this.counted("gets", () => {
      const p = storePath(nodePath);
      const n = this.internalGet(p);
      const node: NodeExtern = { key: p, modifiedIndex: n.modifiedIndex, createdIndex: n.createdIndex };
      this.loadInternal(node, n, recursive, sorted);
      return { action: Action.Get, node, etcdIndex: this.index };
    });
  }

  /**
   * A file's value, counted as a get like etcd's internal reads (its v2 auth reads its flag on
   * every request), without building an event or an error: undefined when there is no file.
   */
  peekValue(nodePath: string): string | undefined {
    const n = this.lookup(storePath(nodePath));
    count(this.stats, "gets", n !== undefined);
    return n === undefined || n.isDir ? undefined : n.value;
  }

  /** The node at a clean store path, if any (no stats, no errors). */
  private lookup(p: string): V2Node | undefined {
    let cur: V2Node | undefined = this.root;
    for (let start = 1; start < p.length && cur !== undefined; ) {
      let end = p.indexOf("/", start);
      if (end < 0) end = p.length;
      if (end === start) break;
      if (!cur.isDir) return undefined;
      cur = cur.children!.get(p.slice(start, end));
      start = end + 1;
    }
    return cur;
  }

  /** Whether a node exists at the path (no stats). */
  exists(nodePath: string): boolean {
    return this.lookup(storePath(nodePath)) !== undefined;
  }

  /**
   * A watcher for changes at `key` (and below, if recursive) from `sinceIndex` (0: the next
   * change). A past event in the history is delivered at once: a one-shot watcher then ends, a
   * streaming one also gets every later event of the history and stays for new ones.
   */
  watch(key: string, recursive: boolean, stream: boolean, sinceIndex: number): V2Watcher {
    const k = storePath(key);
    const since = sinceIndex === 0 ? this.index + 1 : sinceIndex;
    let found: V2Event | undefined;
    try {
      found = this.history.scan(k, recursive, since);
    } catch (e) {
      if (e instanceof V2Error) throw new V2Error(e.errorCode, e.cause, this.index);
      throw e;
    }
    const w = new V2Watcher(recursive, stream, since, this.index);
    if (found === undefined) {
      this.hub.add(k, w);
      return w;
    }
    w.preload(found);
    if (!stream) {
      w.end();
      return w;
    }
    // A stream also gets the later matching events of the window, then stays for new ones
    // (etcd's stream would deliver the first one and then wait forever: see docs).
    for (let next = found.node.modifiedIndex + 1; next <= this.history.lastIndex; ) {
      const e = this.history.scan(k, recursive, next);
      if (e === undefined) break;
      w.preload(e);
      next = e.node.modifiedIndex + 1;
    }
    this.hub.add(k, w);
    return w;
  }

  // ---- writes (applied in log order on every member) -----------------------------------------

  create(nodePath: string, dir: boolean, value: string, unique: boolean, ttl: TtlOptions): V2Event {
    return this.counted("create", () => {
      const e = this.internalCreate(nodePath, dir, value, unique, false, ttl.expireTime, Action.Create);
      e.etcdIndex = this.index;
      this.record(e, true);
      return e;
    });
  }

  set(nodePath: string, dir: boolean, value: string, ttl: TtlOptions): V2Event {
    return this.counted("sets", () => {
      let n: V2Node | undefined;
      try {
        n = this.internalGet(storePath(nodePath));
      } catch (err) {
        if (!(err instanceof V2Error) || err.errorCode !== V2Code.KeyNotFound) throw err;
        if (ttl.refresh === true) throw err;
      }
      const prev = n === undefined ? undefined : this.repr(n, false, false);
      if (ttl.refresh === true) value = n!.value;
      const e = this.internalCreate(nodePath, dir, value, false, true, ttl.expireTime, Action.Set);
      e.etcdIndex = this.index;
      if (prev !== undefined) e.prevNode = prev;
      this.record(e, ttl.refresh !== true);
      return e;
    });
  }

  update(nodePath: string, newValue: string, ttl: TtlOptions): V2Event {
    return this.counted("update", () => {
      const p = storePath(nodePath);
      if (this.readOnly.has(p)) throw uncounted(new V2Error(V2Code.RootROnly, "/", this.index));
      const next = this.index + 1;
      const n = this.internalGet(p);
      if (n.isDir && newValue.length !== 0) throw uncounted(new V2Error(V2Code.NotFile, p, this.index));
      if (ttl.refresh === true) newValue = n.value;
      const e: V2Event = { action: Action.Update, node: { key: p, modifiedIndex: next, createdIndex: n.createdIndex }, etcdIndex: next };
      e.prevNode = this.repr(n, false, false);
      // etcd's node.Write refuses directories: a directory keeps its modified index.
      if (!n.isDir) {
        n.value = newValue;
        n.modifiedIndex = next;
        e.node.value = newValue;
      } else e.node.dir = true;
      this.updateTtl(n, ttl.expireTime);
      this.expirationOf(n, e.node);
      this.journal.push({ kind: "put", node: n });
      this.index = next;
      this.record(e, ttl.refresh !== true);
      return e;
    });
  }

  compareAndSwap(nodePath: string, prevValue: string, prevIndex: number, value: string, ttl: TtlOptions): V2Event {
    return this.counted("compareAndSwap", () => {
      const p = storePath(nodePath);
      if (this.readOnly.has(p)) throw uncounted(new V2Error(V2Code.RootROnly, "/", this.index));
      const n = this.internalGet(p);
      if (n.isDir) throw new V2Error(V2Code.NotFile, p, this.index);
      this.compare(n, prevValue, prevIndex, false);
      if (ttl.refresh === true) value = n.value;
      this.index++;
      const e: V2Event = { action: Action.CompareAndSwap, node: { key: p, modifiedIndex: this.index, createdIndex: n.createdIndex }, etcdIndex: this.index };
      e.prevNode = this.repr(n, false, false);
      n.value = value;
      n.modifiedIndex = this.index;
      this.updateTtl(n, ttl.expireTime);
      e.node.value = value;
      this.expirationOf(n, e.node);
      this.journal.push({ kind: "put", node: n });
      this.record(e, ttl.refresh !== true);
      return e;
    });
  }

  delete(nodePath: string, dir: boolean, recursive: boolean): V2Event {
    return this.counted("delete", () => {
      const p = storePath(nodePath);
      if (this.readOnly.has(p)) throw uncounted(new V2Error(V2Code.RootROnly, "/", this.index));
      if (recursive) dir = true;
      const n = this.internalGet(p);
      const next = this.index + 1;
      const e: V2Event = { action: Action.Delete, node: { key: p, modifiedIndex: next, createdIndex: n.createdIndex }, etcdIndex: next };
      e.prevNode = this.repr(n, false, false);
      if (n.isDir) e.node.dir = true;
      this.remove(n, dir, recursive, e);
      this.index = next;
      this.record(e, true);
      return e;
    });
  }

  compareAndDelete(nodePath: string, prevValue: string, prevIndex: number): V2Event {
    return this.counted("compareAndDelete", () => {
      const p = storePath(nodePath);
      const n = this.internalGet(p);
      if (n.isDir) throw uncounted(new V2Error(V2Code.NotFile, p, this.index));
      this.compare(n, prevValue, prevIndex, true);
      this.index++;
      const e: V2Event = { action: Action.CompareAndDelete, node: { key: p, modifiedIndex: this.index, createdIndex: n.createdIndex }, etcdIndex: this.index };
      e.prevNode = this.repr(n, false, false);
      this.remove(n, false, false, e);
      this.record(e, true);
      return e;
    });
  }

  /** Removes every node whose expiry is at or before `cutoff` (Unix ms), soonest first. */
  deleteExpiredKeys(cutoff: number): V2Event[] {
    const out: V2Event[] = [];
    for (;;) {
      const n = this.heap.top();
      if (n === undefined || n.expireTime > cutoff) break;
      this.index++;
      const e: V2Event = { action: Action.Expire, node: { key: n.path, modifiedIndex: this.index, createdIndex: n.createdIndex }, etcdIndex: this.index };
      e.prevNode = this.repr(n, false, false);
      if (n.isDir) e.node.dir = true;
      this.heap.pop();
      this.remove(n, true, true, e);
      this.stats.expireCount++;
      this.record(e, true);
      out.push(e);
    }
    return out;
  }

  // ---- loading (from the state file) ----------------------------------------------------------

  /** Puts a stored node back; its parent must already be loaded. */
  restoreNode(path: string, dir: boolean, value: string, createdIndex: number, modifiedIndex: number, expireTime: number): void {
    const [dirName, name] = split(path);
    const parent = this.internalGet(dirName === "/" ? "/" : dirName.slice(0, -1));
    if (!parent.isDir) throw new Error(`v2store: stored node ${path} is below a file`);
    const n = dir ? V2Node.dir(path, createdIndex, parent, expireTime) : V2Node.file(path, value, createdIndex, parent, expireTime);
    n.modifiedIndex = modifiedIndex;
    parent.children!.set(name, n);
    if (!n.isPermanent) this.heap.push(n);
  }

  /** Puts a stored event back into the history (oldest first). */
  restoreEvent(e: V2Event): void {
    this.history.add(e);
  }

  // ---- internals ------------------------------------------------------------------------------

  private counted<T>(op: StatOp, fn: () => T): T {
    try {
      const r = fn();
      count(this.stats, op, true);
      return r;
    } catch (e) {
      count(this.stats, op, e instanceof V2Error && (e as Uncounted)[UNCOUNTED] === true);
      throw e;
    }
  }

  /** A finished write: into the journal and the history; watchers are told unless a refresh. */
  private record(e: V2Event, notify: boolean): void {
    if (!notify) e.refresh = true;
    this.journal.push({ kind: "event", event: e });
    this.history.add(e);
    if (notify) this.hub.notify(e);
  }

  private compare(n: V2Node, prevValue: string, prevIndex: number, forDelete: boolean): void {
    const which = n.compare(prevValue, prevIndex);
    if (which === "") return;
    let cause: string;
    if (which === "index") cause = `[${prevIndex} != ${n.modifiedIndex}]`;
    else if (which === "value") cause = `[${prevValue} != ${n.value}]`;
    else cause = `[${prevValue} != ${n.value}] [${prevIndex} != ${n.modifiedIndex}]`;
    const err = new V2Error(V2Code.TestFailed, cause, this.index);
    throw forDelete ? uncounted(err) : err;
  }

  private internalGet(p: string): V2Node {
    let cur = this.root;
    // Name by name along the clean path ("/a/b"), without splitting it.
    for (let start = 1; start < p.length; ) {
      let end = p.indexOf("/", start);
      if (end < 0) end = p.length;
      const name = p.slice(start, end);
      if (name === "") return cur;
      if (!cur.isDir) throw new V2Error(V2Code.NotDir, cur.path, this.index);
      const child = cur.children!.get(name);
      if (child === undefined) throw new V2Error(V2Code.KeyNotFound, join(cur.path, name), this.index);
      cur = child;
      start = end + 1;
    }
    return cur;
  }

  private internalCreate(
    nodePath: string,
    dir: boolean,
    value: string,
    unique: boolean,
    replace: boolean,
    expireTime: number,
    action: Action,
  ): V2Event {
    const curr = this.index;
    const next = curr + 1;
    if (unique) nodePath += "/" + String(next).padStart(20, "0");
    const p = storePath(nodePath);
    if (this.readOnly.has(p)) throw new V2Error(V2Code.RootROnly, "/", curr);
    if (expireTime < MIN_EXPIRE_TIME) expireTime = PERMANENT;
    const [dirName, nodeName] = split(p);
    let d: V2Node;
    try {
      d = this.walkCreatingDirs(dirName);
    } catch (err) {
      this.stats.setsFail++;
      if (err instanceof V2Error) throw new V2Error(err.errorCode, err.cause, curr);
      throw err;
    }
    const e: V2Event = { action, node: { key: p, modifiedIndex: next, createdIndex: next }, etcdIndex: next };
    const old = d.children!.get(nodeName);
    if (old !== undefined) {
      if (!replace) throw new V2Error(V2Code.NodeExist, p, curr);
      if (old.isDir) throw new V2Error(V2Code.NotFile, p, curr);
      e.prevNode = this.repr(old, false, false);
      this.heap.remove(old);
    }
    let n: V2Node;
    if (!dir) {
      e.node.value = value;
      n = V2Node.file(p, value, next, d, expireTime);
    } else {
      e.node.dir = true;
      n = V2Node.dir(p, next, d, expireTime);
    }
    d.children!.set(nodeName, n);
    if (!n.isPermanent) {
      this.heap.push(n);
      this.expirationOf(n, e.node);
    }
    this.journal.push({ kind: "put", node: n });
    this.index = next;
    return e;
  }

  /** etcd's walk with checkDir: the directory at `dirName` ("/a/b/"), creating missing ones. */
  private walkCreatingDirs(dirName: string): V2Node {
    let cur = this.root;
    for (let start = 1; start < dirName.length; ) {
      let end = dirName.indexOf("/", start);
      if (end < 0) end = dirName.length;
      const name = dirName.slice(start, end);
      start = end + 1;
      if (name === "") return cur;
      const child = cur.children!.get(name);
      if (child !== undefined) {
        if (!child.isDir) throw new V2Error(V2Code.NotDir, child.path, this.index);
        cur = child;
        continue;
      }
      const d = V2Node.dir(join(cur.path, name), this.index + 1, cur, PERMANENT);
      cur.children!.set(name, d);
      this.journal.push({ kind: "put", node: d });
      cur = d;
    }
    return cur;
  }

  /**
   * etcd's node.Remove: a file always; a directory only with `dir`, and when not empty only
   * with `recursive`. Every removed path's watchers get `e`.
   */
  private remove(n: V2Node, dir: boolean, recursive: boolean, e: V2Event): void {
    if (n.isDir) {
      if (!dir) throw new V2Error(V2Code.NotFile, n.path, this.index);
      if (n.children!.size !== 0 && !recursive) throw new V2Error(V2Code.DirNotEmpty, n.path, this.index);
    }
    this.journal.push({ kind: "delete", path: n.path, dir: n.isDir });
    this.detach(n, e);
  }

  private detach(n: V2Node, e: V2Event): void {
    if (n.isDir) for (const c of [...n.children!.values()]) this.detach(c, e);
    const p = n.parent;
    if (p !== undefined && p.children!.get(n.name) === n) {
      p.children!.delete(n.name);
      this.hub.notifyWatchers(e, n.path, true);
    }
    this.heap.remove(n);
  }

  private updateTtl(n: V2Node, expireTime: number): void {
    if (expireTime < MIN_EXPIRE_TIME) expireTime = PERMANENT;
    if (expireTime === PERMANENT) {
      if (!n.isPermanent) this.heap.remove(n);
      n.expireTime = PERMANENT;
      return;
    }
    n.expireTime = expireTime;
    this.heap.update(n);
  }

  private expirationOf(n: V2Node, out: NodeExtern): void {
    if (n.isPermanent) return;
    out.expiration = n.expireTime;
    out.ttl = n.ttl(this.o.now());
  }

  /** etcd's node.Repr: the node with (if recursive) its visible children. */
  private repr(n: V2Node, recursive: boolean, sorted: boolean): NodeExtern {
    const out: NodeExtern = { key: n.path, modifiedIndex: n.modifiedIndex, createdIndex: n.createdIndex };
    if (n.isDir) {
      out.dir = true;
      this.expirationOf(n, out);
      if (recursive) out.nodes = this.childNodes(n, recursive, sorted);
      return out;
    }
    out.value = n.value;
    this.expirationOf(n, out);
    return out;
  }

  /** etcd's loadInternalNode: a GET's node (a directory lists its visible children). */
  private loadInternal(out: NodeExtern, n: V2Node, recursive: boolean, sorted: boolean): void {
    if (n.isDir) {
      out.dir = true;
      out.nodes = this.childNodes(n, recursive, sorted);
    } else out.value = n.value;
    this.expirationOf(n, out);
  }

  private childNodes(n: V2Node, recursive: boolean, sorted: boolean): NodeExtern[] {
    const out: NodeExtern[] = [];
    for (const c of n.children!.values()) if (!c.isHidden) out.push(this.repr(c, recursive, sorted));
    if (sorted) out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }
}
