// Tokens in the embedded database (drizzle over @libsql/client). One process owns the file:
// writes go through one queue, each a single batch (so atomic), with the index counted here
// and stored in the same batch. Long polls wait on an in-process signal and re-read.
import { createClient } from "@libsql/client";
import { and, asc, count, eq, gte, lt, sql } from "drizzle-orm";
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
type EventRow = typeof events.$inferSelect;

function eventOf(r: EventRow): StoreEvent {
  const node: StoredNode | undefined =
    r.action === "delete" ? { name: r.name, value: "", createdIndex: r.createdIndex, modifiedIndex: r.idx } : { name: r.name, value: r.value ?? "", createdIndex: r.createdIndex, modifiedIndex: r.idx };
  const prevNode: StoredNode | undefined =
    r.prevCreated !== null ? { name: r.name, value: r.prevValue ?? "", createdIndex: r.prevCreated, modifiedIndex: r.prevModified ?? r.prevCreated } : undefined;
  return {
    action: r.action as StoreEvent["action"],
    index: r.idx,
    name: r.name,
    node,
    ...(prevNode ? { prevNode } : {}),
    ...(r.name === "" ? { dir: true } : {}),
  };
}

/** Whether a change to `name` concerns a watch on `watched` (v2 watch rules). */
export function eventMatches(eventName: string, watched: string, recursive: boolean): boolean {
  if (eventName === "") return true; // the directory itself went away: every watcher hears it
  if (eventName === watched) return true;
  // A recursive watch on the directory sees its children, not hidden ones ("_config/...").
  return watched === "" && recursive && !eventName.startsWith("_");
}

export class SqliteStore implements TokenStore {
  private lastIndex = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Long polls waiting for a change of a token. */
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
    const row = await db.select().from(meta).where(eq(meta.id, 1));
    s.lastIndex = row[0]?.idx ?? 0;
    return s;
  }

  /** Runs writes one at a time: each sees the index the previous one left. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private wake(token: string): void {
    const set = this.waiters.get(token);
    if (set === undefined) return;
    this.waiters.delete(token);
    for (const w of set) w();
  }

  /** The statements that record one event and keep the token's window bounded. */
  private eventStatements(token: string, row: Omit<EventRow, "token">) {
    return [
      this.db.insert(events).values({ token, ...row }),
      this.db.run(
        sql`DELETE FROM disc_events WHERE token = ${token} AND idx <= (SELECT idx FROM disc_events WHERE token = ${token} ORDER BY idx DESC LIMIT 1 OFFSET ${EVENT_WINDOW})`,
      ),
      this.db.update(meta).set({ idx: row.idx }).where(eq(meta.id, 1)),
    ] as const;
  }

  async createToken(token: string, size: number, now: number): Promise<boolean> {
    return this.serial(async () => {
      const exists = await this.db.select({ t: tokens.token }).from(tokens).where(eq(tokens.token, token));
      if (exists.length > 0) return false;
      const idx = this.lastIndex + 1;
      await this.db.batch([
        this.db.insert(tokens).values({ token, size, createdAt: now, createdIndex: idx }),
        ...this.eventStatements(token, {
          idx,
          action: "create",
          name: "_config/size",
          value: String(size),
          createdIndex: idx,
          prevValue: null,
          prevCreated: null,
          prevModified: null,
        }),
      ]);
      this.lastIndex = idx;
      return true;
    });
  }

  private async tokenRow(token: string, now: number) {
    const rows = await this.db.select().from(tokens).where(eq(tokens.token, token));
    const t = rows[0];
    if (t === undefined || expired(t.createdAt, now, this.minAgeMs)) return undefined;
    return t;
  }

  async getToken(token: string, now: number): Promise<TokenState | undefined> {
    const index = this.lastIndex;
    const t = await this.tokenRow(token, now);
    if (t === undefined) return undefined;
    const rows = await this.db.select().from(nodes).where(eq(nodes.token, token)).orderBy(asc(nodes.createdIndex));
    return {
      token,
      size: t.size,
      createdAt: t.createdAt,
      sizeNode: { name: "_config/size", value: String(t.size), createdIndex: t.createdIndex, modifiedIndex: t.createdIndex },
      nodes: rows.map((r) => ({ name: r.name, value: r.value, createdIndex: r.createdIndex, modifiedIndex: r.modifiedIndex })),
      index,
    };
  }

  async putMachine(token: string, name: string, value: string, mode: "create" | "update" | "set", now: number, maxNodes: number): Promise<PutResult> {
    const result = await this.serial(async (): Promise<PutResult> => {
      if ((await this.tokenRow(token, now)) === undefined) return { ok: false, reason: "no-token", index: this.lastIndex };
      const prev = (await this.db.select().from(nodes).where(and(eq(nodes.token, token), eq(nodes.name, name))))[0];
      if (prev !== undefined && mode === "create") return { ok: false, reason: "exists", index: this.lastIndex };
      if (prev === undefined && mode === "update") return { ok: false, reason: "missing", index: this.lastIndex };
      if (prev === undefined) {
        const n = (await this.db.select({ n: count() }).from(nodes).where(eq(nodes.token, token)))[0]?.n ?? 0;
        if (n >= maxNodes) return { ok: false, reason: "too-many", index: this.lastIndex };
      }
      const idx = this.lastIndex + 1;
      // set replaces the node (new createdIndex); update keeps its createdIndex, as v2 does.
      const createdIndex = mode === "update" && prev ? prev.createdIndex : idx;
      const action = prev === undefined ? (mode === "create" ? "create" : "set") : mode === "update" ? "update" : "set";
      await this.db.batch([
        this.db
          .insert(nodes)
          .values({ token, name, value, createdIndex, modifiedIndex: idx })
          .onConflictDoUpdate({ target: [nodes.token, nodes.name], set: { value, createdIndex, modifiedIndex: idx } }),
        ...this.eventStatements(token, {
          idx,
          action: action === "update" ? "set" : action,
          name,
          value,
          createdIndex,
          prevValue: prev?.value ?? null,
          prevCreated: prev?.createdIndex ?? null,
          prevModified: prev?.modifiedIndex ?? null,
        }),
      ]);
      this.lastIndex = idx;
      const node: StoredNode = { name, value, createdIndex, modifiedIndex: idx };
      const prevNode: StoredNode | undefined = prev ? { name, value: prev.value, createdIndex: prev.createdIndex, modifiedIndex: prev.modifiedIndex } : undefined;
      return { ok: true, event: { action: action as StoreEvent["action"], index: idx, name, node, ...(prevNode ? { prevNode } : {}) } };
    });
    if (result.ok) this.wake(token);
    return result;
  }

  async deleteMachine(token: string, name: string, now: number): Promise<DeleteResult> {
    const result = await this.serial(async (): Promise<DeleteResult> => {
      if ((await this.tokenRow(token, now)) === undefined) return { ok: false, index: this.lastIndex };
      const prev = (await this.db.select().from(nodes).where(and(eq(nodes.token, token), eq(nodes.name, name))))[0];
      if (prev === undefined) return { ok: false, index: this.lastIndex };
      const idx = this.lastIndex + 1;
      await this.db.batch([
        this.db.delete(nodes).where(and(eq(nodes.token, token), eq(nodes.name, name))),
        ...this.eventStatements(token, {
          idx,
          action: "delete",
          name,
          value: null,
          createdIndex: prev.createdIndex,
          prevValue: prev.value,
          prevCreated: prev.createdIndex,
          prevModified: prev.modifiedIndex,
        }),
      ]);
      this.lastIndex = idx;
      const prevNode: StoredNode = { name, value: prev.value, createdIndex: prev.createdIndex, modifiedIndex: prev.modifiedIndex };
      return { ok: true, event: { action: "delete", index: idx, name, node: { name, value: "", createdIndex: prev.createdIndex, modifiedIndex: idx }, prevNode } };
    });
    if (result.ok) this.wake(token);
    return result;
  }

  async deleteToken(token: string, now: number): Promise<DeleteResult> {
    const result = await this.serial(async (): Promise<DeleteResult> => {
      const t = await this.tokenRow(token, now);
      if (t === undefined) return { ok: false, index: this.lastIndex };
      const idx = this.lastIndex + 1;
      await this.db.batch([
        this.db.delete(nodes).where(eq(nodes.token, token)),
        this.db.delete(tokens).where(eq(tokens.token, token)),
        this.db.delete(events).where(eq(events.token, token)),
        this.db.update(meta).set({ idx }).where(eq(meta.id, 1)),
      ]);
      this.lastIndex = idx;
      return {
        ok: true,
        event: {
          action: "delete",
          index: idx,
          name: "",
          dir: true,
          node: { name: "", value: "", createdIndex: t.createdIndex, modifiedIndex: idx },
          prevNode: { name: "", value: "", createdIndex: t.createdIndex, modifiedIndex: t.createdIndex },
        },
      };
    });
    if (result.ok) this.wake(token);
    return result;
  }

  /** The first retained event at or after `from` that concerns the watch, if any. */
  private async findEvent(r: WaitRequest, from: number): Promise<StoreEvent | undefined> {
    const rows = await this.db
      .select()
      .from(events)
      .where(and(eq(events.token, r.token), gte(events.idx, from)))
      .orderBy(asc(events.idx));
    const hit = rows.find((row) => eventMatches(row.name, r.name, r.recursive));
    return hit ? eventOf(hit) : undefined;
  }

  async wait(r: WaitRequest, now: number): Promise<WaitResult> {
    const t = await this.tokenRow(r.token, now);
    if (t === undefined) return { kind: "no-token", index: this.lastIndex };
    const startIndex = this.lastIndex;
    const from = r.fromIndex ?? startIndex + 1;
    if (r.fromIndex !== undefined) {
      const oldest = (await this.db.select({ m: sql<number>`MIN(${events.idx})` }).from(events).where(eq(events.token, r.token)))[0]?.m;
      // Events were dropped from the window (the oldest kept is past the token's creation).
      if (oldest !== undefined && oldest !== null && oldest > t.createdIndex && from < oldest) {
        return { kind: "cleared", oldest, index: this.lastIndex };
      }
    }
    const deadline = Date.now() + r.timeoutMs;
    for (;;) {
      // Register before reading so a change between the read and the wait is not missed.
      let wakeUp!: () => void;
      const woken = new Promise<void>((res) => (wakeUp = res));
      let set = this.waiters.get(r.token);
      if (set === undefined) this.waiters.set(r.token, (set = new Set()));
      set.add(wakeUp);
      try {
        const ev = await this.findEvent(r, from);
        if (ev !== undefined) return { kind: "event", event: ev, startIndex };
        if ((await this.tokenRow(r.token, Date.now())) === undefined) return { kind: "no-token", index: this.lastIndex };
        const left = deadline - Date.now();
        if (left <= 0 || r.signal.aborted) return { kind: "timeout" };
        let timer: ReturnType<typeof setTimeout> | undefined;
        const onAbort = () => wakeUp();
        r.signal.addEventListener("abort", onAbort, { once: true });
        await Promise.race([woken, new Promise<void>((res) => (timer = setTimeout(res, left)))]);
        clearTimeout(timer);
        r.signal.removeEventListener("abort", onAbort);
        if (r.signal.aborted) return { kind: "timeout" };
      } finally {
        set.delete(wakeUp);
        if (set.size === 0 && this.waiters.get(r.token) === set) this.waiters.delete(r.token);
      }
    }
  }

  async collect(olderThan: number): Promise<number> {
    return this.serial(async () => {
      const old = await this.db.select({ token: tokens.token }).from(tokens).where(lt(tokens.createdAt, olderThan)).limit(1000);
      for (const { token } of old) {
        await this.db.batch([
          this.db.delete(nodes).where(eq(nodes.token, token)),
          this.db.delete(events).where(eq(events.token, token)),
          this.db.delete(tokens).where(eq(tokens.token, token)),
        ]);
        this.wake(token);
      }
      return old.length;
    });
  }

  async index(): Promise<number> {
    return this.lastIndex;
  }

  async tokenCount(): Promise<number> {
    return (await this.db.select({ n: count() }).from(tokens))[0]?.n ?? 0;
  }

  async close(): Promise<void> {
    await this.queue;
    for (const token of [...this.waiters.keys()]) this.wake(token);
    this.client.close();
  }
}
