// Tokens in a Conclave or etcd cluster's v3 keys (`--etcd`), so several discovery processes
// behind one load balancer serve the same tokens. Indexes are the cluster's revisions
// (createdIndex = create_revision, modifiedIndex = mod_revision), long polls are v3 watches.
//
//   <prefix>/tokens/<token>/_config/size      the size
//   <prefix>/tokens/<token>/_config/created   creation time, ms since the epoch
//   <prefix>/tokens/<token>/<machine>         registrations
//   <prefix>/gc/<13-digit ms>/<token>         index for collection by age
import { type KeyValue, type V3Client, V3Error } from "../src/bootstrap/index.ts";
import { eventMatches } from "./sqlite-store.ts";
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

const pad = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(13, "0");

export class EtcdStore implements TokenStore {
  constructor(
    private readonly client: V3Client,
    private readonly prefix: string,
    private readonly minAgeMs: number,
  ) {}

  private dir(token: string): string {
    return `${this.prefix}/tokens/${token}/`;
  }
  private sizeKey(token: string): string {
    return `${this.dir(token)}_config/size`;
  }
  private createdKey(token: string): string {
    return `${this.dir(token)}_config/created`;
  }
  private gcKey(token: string, createdAt: number): string {
    return `${this.prefix}/gc/${pad(createdAt)}/${token}`;
  }
  /** Machine name ("_config/size" for the size) of a key under a token, or undefined. */
  private nameOf(token: string, key: string): string | undefined {
    const d = this.dir(token);
    return key.startsWith(d) ? key.slice(d.length) : undefined;
  }

  async createToken(token: string, size: number, now: number): Promise<boolean> {
    const r = await this.client.txn(
      [{ key: this.sizeKey(token), target: "CREATE", result: "EQUAL", value: 0 }],
      [
        { put: { key: this.sizeKey(token), value: String(size) } },
        { put: { key: this.createdKey(token), value: String(now) } },
        { put: { key: this.gcKey(token, now), value: "" } },
      ],
    );
    return r.succeeded;
  }

  private state(token: string, kvs: readonly KeyValue[], index: number, now: number): TokenState | undefined {
    let size: KeyValue | undefined;
    let createdAt: number | undefined;
    const machines: StoredNode[] = [];
    for (const kv of kvs) {
      const name = this.nameOf(token, kv.key);
      if (name === "_config/size") size = kv;
      else if (name === "_config/created") createdAt = Number(kv.value);
      else if (name !== undefined && !name.startsWith("_")) {
        machines.push({ name, value: kv.value, createdIndex: kv.createRevision, modifiedIndex: kv.modRevision });
      }
    }
    if (size === undefined || createdAt === undefined || !Number.isFinite(createdAt)) return undefined;
    if (expired(createdAt, now, this.minAgeMs)) return undefined;
    machines.sort((a, b) => a.createdIndex - b.createdIndex);
    return {
      token,
      size: Number(size.value),
      createdAt,
      sizeNode: { name: "_config/size", value: size.value, createdIndex: size.createRevision, modifiedIndex: size.modRevision },
      nodes: machines,
      index,
    };
  }

  async getToken(token: string, now: number): Promise<TokenState | undefined> {
    const r = await this.client.range(this.dir(token), { prefix: true });
    return this.state(token, r.kvs, r.revision, now);
  }

  /** Token sizes and creation times, which never change while a token lives. */
  private readonly meta = new Map<string, { size: number; createdAt: number; sizeMod: number; sizeCreate: number }>();

  private async tokenMeta(token: string, now: number) {
    let m = this.meta.get(token);
    if (m === undefined) {
      const t = await this.getToken(token, now);
      if (t === undefined) return undefined;
      m = { size: t.size, createdAt: t.createdAt, sizeMod: t.sizeNode.modifiedIndex, sizeCreate: t.sizeNode.createdIndex };
      if (this.meta.size >= 10_000) this.meta.delete(this.meta.keys().next().value!);
      this.meta.set(token, m);
    }
    return expired(m.createdAt, now, this.minAgeMs) ? undefined : m;
  }

  async putMachine(token: string, name: string, value: string, mode: "create" | "update" | "set", now: number, maxNodes: number): Promise<PutResult> {
    const m = await this.tokenMeta(token, now);
    if (m === undefined) return { ok: false, reason: "no-token", index: await this.index() };
    const key = `${this.dir(token)}${name}`;
    // One round trip: the size key unchanged (the token still lives), the node's state as the mode asks.
    const guard = [{ key: this.sizeKey(token), target: "MOD" as const, result: "EQUAL" as const, value: m.sizeMod }];
    const cond =
      mode === "create"
        ? [{ key, target: "CREATE" as const, result: "EQUAL" as const, value: 0 }]
        : mode === "update"
          ? [{ key, target: "CREATE" as const, result: "GREATER" as const, value: 0 }]
          : [];
    const r = await this.client.txn(
      [...guard, ...cond],
      [{ put: { key, value, prevKv: true } }, { range: { key } }, { range: { key: this.dir(token), prefix: true, countOnly: true } }],
      [{ range: { key: this.sizeKey(token) } }, { range: { key } }],
    );
    if (!r.succeeded) {
      if ((r.responses[0]?.kvs.length ?? 0) === 0 || r.responses[0]!.kvs[0]!.modRevision !== m.sizeMod) {
        this.meta.delete(token);
        return { ok: false, reason: "no-token", index: r.revision };
      }
      const exists = (r.responses[1]?.kvs.length ?? 0) > 0;
      return { ok: false, reason: mode === "create" && exists ? "exists" : "missing", index: r.revision };
    }
    const kv = r.responses[1]?.kvs[0];
    const before = r.responses[0]?.prevKvs[0];
    // The two _config keys are not registrations. Over the limit: take this one back.
    if (before === undefined && (r.responses[2]?.count ?? 0) - 2 > maxNodes) {
      await this.client.txn([{ key, target: "MOD", result: "EQUAL", value: r.revision }], [{ deleteRange: { key } }]);
      return { ok: false, reason: "too-many", index: r.revision };
    }
    const node: StoredNode = { name, value, createdIndex: kv?.createRevision ?? r.revision, modifiedIndex: r.revision };
    const prevNode: StoredNode | undefined = before ? { name, value: before.value, createdIndex: before.createRevision, modifiedIndex: before.modRevision } : undefined;
    const action: StoreEvent["action"] = before === undefined && mode === "create" ? "create" : "set";
    return { ok: true, event: { action, index: r.revision, name, node, ...(prevNode ? { prevNode } : {}) } };
  }

  async deleteMachine(token: string, name: string, now: number): Promise<DeleteResult> {
    const t = await this.getToken(token, now);
    if (t === undefined) return { ok: false, index: await this.index() };
    const key = `${this.dir(token)}${name}`;
    const r = await this.client.txn(
      [{ key, target: "CREATE", result: "GREATER", value: 0 }],
      [{ deleteRange: { key, prevKv: true } }],
    );
    const prev = r.responses[0]?.prevKvs[0];
    if (!r.succeeded || prev === undefined) return { ok: false, index: r.revision };
    const prevNode: StoredNode = { name, value: prev.value, createdIndex: prev.createRevision, modifiedIndex: prev.modRevision };
    return { ok: true, event: { action: "delete", index: r.revision, name, node: { name, value: "", createdIndex: prev.createRevision, modifiedIndex: r.revision }, prevNode } };
  }

  async deleteToken(token: string, now: number): Promise<DeleteResult> {
    const t = await this.getToken(token, now);
    if (t === undefined) return { ok: false, index: await this.index() };
    const r = await this.client.txn(
      [{ key: this.sizeKey(token), target: "MOD", result: "EQUAL", value: t.sizeNode.modifiedIndex }],
      [{ deleteRange: { key: this.dir(token), prefix: true } }, { deleteRange: { key: this.gcKey(token, t.createdAt) } }],
    );
    this.meta.delete(token);
    if (!r.succeeded) return { ok: false, index: r.revision };
    const created = t.sizeNode.createdIndex;
    return {
      ok: true,
      event: {
        action: "delete",
        index: r.revision,
        name: "",
        dir: true,
        node: { name: "", value: "", createdIndex: created, modifiedIndex: r.revision },
        prevNode: { name: "", value: "", createdIndex: created, modifiedIndex: created },
      },
    };
  }

  async wait(r: WaitRequest, now: number): Promise<WaitResult> {
    const t = await this.getToken(r.token, now);
    if (t === undefined) return { kind: "no-token", index: await this.index() };
    const startIndex = t.index;
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    r.signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => ac.abort(), r.timeoutMs);
    try {
      for await (const batch of this.client.watch(this.dir(r.token), {
        prefix: true,
        startRevision: r.fromIndex ?? startIndex + 1,
        prevKv: true,
        signal: ac.signal,
      })) {
        if (batch.compactRevision > 0) return { kind: "cleared", oldest: batch.compactRevision, index: batch.revision };
        for (const ev of batch.events) {
          const name = this.nameOf(r.token, ev.kv.key);
          if (name === undefined || name === "_config/created") continue;
          if (name === "_config/size" && ev.type === "DELETE") {
            return {
              kind: "event",
              startIndex,
              event: {
                action: "delete",
                index: ev.kv.modRevision,
                name: "",
                dir: true,
                node: { name: "", value: "", createdIndex: t.sizeNode.createdIndex, modifiedIndex: ev.kv.modRevision },
              },
            };
          }
          if (!eventMatches(name, r.name, r.recursive)) continue;
          const prevNode: StoredNode | undefined = ev.prevKv
            ? { name, value: ev.prevKv.value, createdIndex: ev.prevKv.createRevision, modifiedIndex: ev.prevKv.modRevision }
            : undefined;
          const event: StoreEvent =
            ev.type === "DELETE"
              ? { action: "delete", index: ev.kv.modRevision, name, node: { name, value: "", createdIndex: prevNode?.createdIndex ?? 0, modifiedIndex: ev.kv.modRevision }, ...(prevNode ? { prevNode } : {}) }
              : {
                  action: ev.kv.version === 1 ? "create" : "set",
                  index: ev.kv.modRevision,
                  name,
                  node: { name, value: ev.kv.value, createdIndex: ev.kv.createRevision, modifiedIndex: ev.kv.modRevision },
                  ...(prevNode ? { prevNode } : {}),
                };
          return { kind: "event", event, startIndex };
        }
      }
      return { kind: "timeout" };
    } catch (e) {
      if (ac.signal.aborted) return { kind: "timeout" };
      if (e instanceof V3Error && /compacted/.test(e.message)) return { kind: "cleared", oldest: 0, index: startIndex };
      throw e;
    } finally {
      clearTimeout(timer);
      r.signal.removeEventListener("abort", onAbort);
      ac.abort();
    }
  }

  async collect(olderThan: number): Promise<number> {
    const from = `${this.prefix}/gc/`;
    const r = await this.client.range(from, { end: `${this.prefix}/gc/${pad(olderThan)}`, limit: 1000 });
    let n = 0;
    for (const kv of r.kvs) {
      const token = kv.key.slice(kv.key.lastIndexOf("/") + 1);
      // Conditional on the index key: of several processes collecting at once, one does it.
      const t = await this.client.txn(
        [{ key: kv.key, target: "MOD", result: "EQUAL", value: kv.modRevision }],
        [{ deleteRange: { key: this.dir(token), prefix: true } }, { deleteRange: { key: kv.key } }],
      );
      if (t.succeeded) n++;
    }
    return n;
  }

  async index(): Promise<number> {
    return (await this.client.range(`${this.prefix}/index`, { countOnly: true })).revision;
  }

  async tokenCount(): Promise<number> {
    return (await this.client.range(`${this.prefix}/gc/`, { prefix: true, countOnly: true })).count;
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
