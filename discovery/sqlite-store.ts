// Tokens in the embedded database (drizzle over @libsql/client). One process owns the file,
// so the live state is also held in memory and every read is served from there; the file is
// the durability point. Writes are checked against memory, then committed in groups: every
// write that arrives while one commit is in flight goes into the next one (one transaction,
// one fsync for many registrations). Nothing is visible to a reader or a long poll before
// its commit has returned, and a write is acknowledged only after it.
import { createClient } from "@libsql/client";
import { asc, eq, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import * as schema from "./schema.ts";
import { ddl, EVENT_WINDOW, events, meta, nodes, pragmas, tokens } from "./schema.ts";
import {
  type DeleteResult,
  expired,
  type PutResult,
  type StoredNode,
  type StoreEvent,
  type TokenState,
  type TokenStore,
  type WaitRequest,
  type WaitResult,
} from "./store.ts";

type Db = ReturnType<typeof drizzle<typeof schema>>;
type Statement = Parameters<Db["batch"]>[0][number];

interface LiveToken {
  readonly size: number;
  readonly createdAt: number;
  readonly createdIndex: number;
  /** Machine name → node; iteration order is not relied on (listings sort by createdIndex). */
  readonly nodes: Map<string, StoredNode>;
  /** The last EVENT_WINDOW changes, oldest first. */
  readonly events: StoreEvent[];
  /** Some older events were dropped from the window. */
  pruned: boolean;
  /** A delete of the token was accepted (writers see it gone; readers once it is committed). */
  deleting?: boolean;
}

/** Whether a change to `name` concerns a watch on `watched` (v2 watch rules). */
export function eventMatches(eventName: string, watched: string, recursive: boolean): boolean {
  if (eventName === "") return true; // the directory itself went away: every watcher hears it
  if (eventName === watched) return true;
  // A recursive watch on the directory sees its children, not hidden ones ("_config/...").
  return watched === "" && recursive && !eventName.startsWith("_");
}

function rowToEvent(r: typeof events.$inferSelect): StoreEvent {
  const prevNode: StoredNode | undefined =
    r.prevCreated !== null ? { name: r.name, value: r.prevValue ?? "", createdIndex: r.prevCreated, modifiedIndex: r.prevModified ?? r.prevCreated } : undefined;
  return {
    action: r.action as StoreEvent["action"],
    index: r.idx,
    name: r.name,
    node: { name: r.name, value: r.action === "delete" ? "" : (r.value ?? ""), createdIndex: r.createdIndex, modifiedIndex: r.idx },
    ...(prevNode ? { prevNode } : {}),
    ...(r.name === "" ? { dir: true } : {}),
  };
}

export class SqliteStore implements TokenStore {
  private readonly live = new Map<string, LiveToken>();
  /** Index of the last committed write. Invariant: committedIndex ≤ lastIndex. */
  private committedIndex = 0;
  /** Index handed to the last accepted write. */
  private lastIndex = 0;
  private pending: { statements: Statement[]; apply: (() => void)[]; done: (e?: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  /** Long polls waiting for a commit that touches a token. */
  private readonly waiters = new Map<string, Set<() => void>>();

  private constructor(
    private readonly client: ReturnType<typeof createClient>,
    private readonly db: Db,
    private readonly minAgeMs: number,
  ) {}

  static async open(file: string, minAgeMs: number): Promise<SqliteStore> {
    const client = createClient({ url: `file:${file}` });
    for (const p of pragmas) await client.execute(p);
    for (const d of ddl) await client.execute(d);
    const db = drizzle(client, { schema });
    const s = new SqliteStore(client, db, minAgeMs);
    s.lastIndex = s.committedIndex = (await db.select().from(meta).where(eq(meta.id, 1)))[0]?.idx ?? 0;
    for (const t of await db.select().from(tokens)) {
      s.live.set(t.token, { size: t.size, createdAt: t.createdAt, createdIndex: t.createdIndex, nodes: new Map(), events: [], pruned: false });
    }
    for (const n of await db.select().from(nodes)) {
      s.live.get(n.token)?.nodes.set(n.name, { name: n.name, value: n.value, createdIndex: n.createdIndex, modifiedIndex: n.modifiedIndex });
    }
    for (const e of await db.select().from(events).orderBy(asc(events.idx))) s.live.get(e.token)?.events.push(rowToEvent(e));
    for (const t of s.live.values()) t.pruned = (t.events[0]?.index ?? t.createdIndex) > t.createdIndex;
    return s;
  }

  /**
   * Queues a write: its statements go into the next group commit; `apply` updates memory once
   * that commit returned. Resolves when the write is durable.
   */
  private commit(statements: Statement[], apply: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ statements, apply: [apply], done: (e) => (e === undefined ? resolve() : reject(e)) });
      if (this.flushing === undefined) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      // The driver commits synchronously (the event loop waits for the fsync): let requests
      // that arrived meanwhile be read and join this group before it is taken.
      await new Promise<void>((r) => setImmediate(r));
      const group = this.pending.splice(0);
      const index = this.lastIndex;
      const all = group.flatMap((w) => w.statements);
      try {
        await this.db.batch([this.db.update(meta).set({ idx: index }).where(eq(meta.id, 1)), ...all]);
      } catch (e) {
        // Nothing of the group was written: memory stays as it was, the writers hear why.
        // (Indexes handed out are not reused: later writes keep theirs, gaps are harmless.)
        for (const w of group) w.done(e);
        continue;
      }
      this.committedIndex = index;
      const touched = new Set<string>();
      for (const w of group) for (const a of w.apply) a();
      for (const w of group) w.done();
      for (const t of this.touchedTokens.splice(0)) touched.add(t);
      for (const t of touched) this.wake(t);
    }
    this.flushing = undefined;
  }

  private readonly touchedTokens: string[] = [];

  private wake(token: string): void {
    const set = this.waiters.get(token);
    if (set === undefined) return;
    this.waiters.delete(token);
    for (const w of set) w();
  }

  /** Records an event in memory (at apply time) and returns the statements that persist it. */
  private eventWrite(token: string, ev: StoreEvent): { statements: Statement[]; apply: () => void } {
    const statements: Statement[] = [
      this.db.insert(events).values({
        token,
        idx: ev.index,
        action: ev.action,
        name: ev.name,
        value: ev.action === "delete" ? null : (ev.node?.value ?? null),
        createdIndex: ev.node?.createdIndex ?? ev.index,
        prevValue: ev.prevNode?.value ?? null,
        prevCreated: ev.prevNode?.createdIndex ?? null,
        prevModified: ev.prevNode?.modifiedIndex ?? null,
      }),
      this.db.run(
        sql`DELETE FROM disc_events WHERE token = ${token} AND idx IN (SELECT idx FROM disc_events WHERE token = ${token} ORDER BY idx DESC LIMIT -1 OFFSET ${EVENT_WINDOW})`,
      ),
    ];
    const apply = () => {
      const t = this.live.get(token);
      if (t === undefined) return;
      t.events.push(ev);
      if (t.events.length > EVENT_WINDOW) {
        t.events.splice(0, t.events.length - EVENT_WINDOW);
        t.pruned = true;
      }
      this.touchedTokens.push(token);
    };
    return { statements, apply };
  }

  /**
   * A token as readers see it: committed and not expired. Nodes and events enter memory only
   * after their commit, so everything a reader sees is durable.
   */
  private visible(token: string, now: number): LiveToken | undefined {
    const t = this.live.get(token);
    if (t === undefined || t.createdIndex > this.committedIndex || expired(t.createdAt, now, this.minAgeMs)) return undefined;
    return t;
  }

  /** Waits until no write is in flight (close, collection). */
  private async settled(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
  }

  async createToken(token: string, size: number, now: number): Promise<boolean> {
    if (this.live.has(token)) return false;
    const idx = ++this.lastIndex;
    const t: LiveToken = { size, createdAt: now, createdIndex: idx, nodes: new Map(), events: [], pruned: false };
    // Reserve the name at once (a second create sees it); readers wait for the commit.
    this.live.set(token, t);
    const ev: StoreEvent = { action: "create", index: idx, name: "_config/size", node: { name: "_config/size", value: String(size), createdIndex: idx, modifiedIndex: idx } };
    const e = this.eventWrite(token, ev);
    try {
      await this.commit([this.db.insert(tokens).values({ token, size, createdAt: now, createdIndex: idx }), ...e.statements], e.apply);
    } catch (err) {
      this.live.delete(token);
      throw err;
    }
    return true;
  }

  async getToken(token: string, now: number): Promise<TokenState | undefined> {
    const t = this.visible(token, now);
    if (t === undefined) return undefined;
    return {
      token,
      size: t.size,
      createdAt: t.createdAt,
      sizeNode: { name: "_config/size", value: String(t.size), createdIndex: t.createdIndex, modifiedIndex: t.createdIndex },
      nodes: [...t.nodes.values()].sort((a, b) => a.createdIndex - b.createdIndex),
      index: this.committedIndex,
    };
  }

  /** Checks against memory that includes accepted, not yet committed writes (so two creates collide). */
  private writable(token: string, now: number): LiveToken | undefined {
    const t = this.live.get(token);
    return t === undefined || t.deleting === true || expired(t.createdAt, now, this.minAgeMs) ? undefined : t;
  }

  /** Machines accepted for a token, committed or not: checks of later writes see earlier ones. */
  private readonly accepted = new Map<string, Map<string, StoredNode | null>>();

  private acceptedNode(token: string, t: LiveToken, name: string): StoredNode | undefined {
    const a = this.accepted.get(token)?.get(name);
    if (a === null) return undefined;
    return a ?? t.nodes.get(name);
  }

  private accept(token: string, name: string, n: StoredNode | null): () => void {
    let m = this.accepted.get(token);
    if (m === undefined) this.accepted.set(token, (m = new Map()));
    m.set(name, n);
    return () => {
      const cur = this.accepted.get(token);
      if (cur?.get(name) === n) cur.delete(name);
      if (cur?.size === 0) this.accepted.delete(token);
    };
  }

  async putMachine(token: string, name: string, value: string, mode: "create" | "update" | "set", now: number, maxNodes: number): Promise<PutResult> {
    const t = this.writable(token, now);
    if (t === undefined) return { ok: false, reason: "no-token", index: this.committedIndex };
    const prev = this.acceptedNode(token, t, name);
    if (prev !== undefined && mode === "create") return { ok: false, reason: "exists", index: this.committedIndex };
    if (prev === undefined && mode === "update") return { ok: false, reason: "missing", index: this.committedIndex };
    if (prev === undefined) {
      const pendingNew = [...(this.accepted.get(token)?.entries() ?? [])].filter(([k, v]) => v !== null && !t.nodes.has(k)).length;
      if (t.nodes.size + pendingNew >= maxNodes) return { ok: false, reason: "too-many", index: this.committedIndex };
    }
    const idx = ++this.lastIndex;
    // set replaces the node (new createdIndex); update keeps its createdIndex, as v2 does.
    const createdIndex = mode === "update" && prev ? prev.createdIndex : idx;
    const node: StoredNode = { name, value, createdIndex, modifiedIndex: idx };
    const action: StoreEvent["action"] = prev === undefined && mode === "create" ? "create" : "set";
    const ev: StoreEvent = { action, index: idx, name, node, ...(prev ? { prevNode: prev } : {}) };
    const release = this.accept(token, name, node);
    const e = this.eventWrite(token, ev);
    try {
      await this.commit(
        [
          this.db
            .insert(nodes)
            .values({ token, name, value, createdIndex, modifiedIndex: idx })
            .onConflictDoUpdate({ target: [nodes.token, nodes.name], set: { value, createdIndex, modifiedIndex: idx } }),
          ...e.statements,
        ],
        () => {
          t.nodes.set(name, node);
          e.apply();
        },
      );
    } finally {
      release();
    }
    return { ok: true, event: ev };
  }

  async deleteMachine(token: string, name: string, now: number): Promise<DeleteResult> {
    const t = this.writable(token, now);
    const prev = t ? this.acceptedNode(token, t, name) : undefined;
    if (t === undefined || prev === undefined) return { ok: false, index: this.committedIndex };
    const idx = ++this.lastIndex;
    const ev: StoreEvent = { action: "delete", index: idx, name, node: { name, value: "", createdIndex: prev.createdIndex, modifiedIndex: idx }, prevNode: prev };
    const release = this.accept(token, name, null);
    const e = this.eventWrite(token, ev);
    try {
      await this.commit([this.db.delete(nodes).where(sql`${nodes.token} = ${token} AND ${nodes.name} = ${name}`), ...e.statements], () => {
        t.nodes.delete(name);
        e.apply();
      });
    } finally {
      release();
    }
    return { ok: true, event: ev };
  }

  private dropStatements(token: string): Statement[] {
    return [
      this.db.delete(nodes).where(eq(nodes.token, token)),
      this.db.delete(events).where(eq(events.token, token)),
      this.db.delete(tokens).where(eq(tokens.token, token)),
    ];
  }

  async deleteToken(token: string, now: number): Promise<DeleteResult> {
    const t = this.writable(token, now);
    if (t === undefined) return { ok: false, index: this.committedIndex };
    const idx = ++this.lastIndex;
    const ev: StoreEvent = {
      action: "delete",
      index: idx,
      name: "",
      dir: true,
      node: { name: "", value: "", createdIndex: t.createdIndex, modifiedIndex: idx },
      prevNode: { name: "", value: "", createdIndex: t.createdIndex, modifiedIndex: t.createdIndex },
    };
    t.deleting = true;
    try {
      await this.commit(this.dropStatements(token), () => {
        this.live.delete(token);
        this.touchedTokens.push(token);
      });
    } catch (e) {
      t.deleting = false;
      throw e;
    }
    return { ok: true, event: ev };
  }

  async wait(r: WaitRequest, now: number): Promise<WaitResult> {
    const t = this.visible(r.token, now);
    if (t === undefined) return { kind: "no-token", index: this.committedIndex };
    const startIndex = this.committedIndex;
    const from = r.fromIndex ?? startIndex + 1;
    const oldest = t.events[0]?.index;
    if (r.fromIndex !== undefined && t.pruned && oldest !== undefined && from < oldest) {
      return { kind: "cleared", oldest, index: this.committedIndex };
    }
    const deadline = Date.now() + r.timeoutMs;
    for (;;) {
      const cur = this.visible(r.token, Date.now());
      if (cur === undefined) {
        // Deleted (or collected) while waiting: watchers hear the directory's deletion.
        return this.live.has(r.token)
          ? { kind: "no-token", index: this.committedIndex }
          : { kind: "event", startIndex, event: { action: "delete", index: this.committedIndex, name: "", dir: true, node: { name: "", value: "", createdIndex: t.createdIndex, modifiedIndex: this.committedIndex } } };
      }
      const hit = cur.events.find((e) => e.index >= from && eventMatches(e.name, r.name, r.recursive));
      if (hit !== undefined) return { kind: "event", event: hit, startIndex };
      const left = deadline - Date.now();
      if (left <= 0 || r.signal.aborted) return { kind: "timeout" };
      let wakeUp!: () => void;
      const woken = new Promise<void>((res) => (wakeUp = res));
      let set = this.waiters.get(r.token);
      if (set === undefined) this.waiters.set(r.token, (set = new Set()));
      set.add(wakeUp);
      const timer = setTimeout(wakeUp, left);
      r.signal.addEventListener("abort", wakeUp, { once: true });
      await woken;
      clearTimeout(timer);
      r.signal.removeEventListener("abort", wakeUp);
      set.delete(wakeUp);
      if (set.size === 0 && this.waiters.get(r.token) === set) this.waiters.delete(r.token);
    }
  }

  async collect(olderThan: number): Promise<number> {
    await this.settled();
    const old = await this.db.select({ token: tokens.token }).from(tokens).where(lt(tokens.createdAt, olderThan)).limit(1000);
    for (const { token } of old) {
      const t = this.live.get(token);
      if (t !== undefined) t.deleting = true;
      await this.commit(this.dropStatements(token), () => {
        this.live.delete(token);
        this.touchedTokens.push(token);
      });
    }
    return old.length;
  }

  async index(): Promise<number> {
    // A read of the file, so /health reports a database that stopped answering.
    await this.db.select().from(meta).where(eq(meta.id, 1));
    return this.committedIndex;
  }

  async tokenCount(): Promise<number> {
    return this.live.size;
  }

  async close(): Promise<void> {
    await this.settled();
    for (const token of [...this.waiters.keys()]) this.wake(token);
    this.client.close();
  }
}
