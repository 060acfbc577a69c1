// clientv3/concurrency's recipes, key for key, so a lock or election taken here and one taken by
// etcdctl (or any Go client) exclude each other: a session is a lease kept alive; a waiter
// writes <name>/<lease id %x> with that lease and waits until every key under <name>/ with a
// smaller create revision is deleted.
import { create } from "@bufbuild/protobuf";
import { KV, Lease, type ResponseHeader, type RangeResponse, RequestOpSchema, CompareSchema, Compare_CompareResult, Compare_CompareTarget, RangeRequest_SortOrder, RangeRequest_SortTarget, type RequestOp } from "../gen/rpc_pb.ts";
import { Event_EventType, type KeyValue } from "../gen/kv_pb.ts";
import type { Client } from "./client.ts";
import { Code } from "../rpctypes/index.ts";
import { ClientError } from "./errors.ts";
import { bytes, prefixEnd } from "./keys.ts";
import { keepAlive, type KeepAliveHandle } from "./lease.ts";
import { Watcher } from "./watch.ts";

const LONG = 365 * 24 * 3600 * 1000;

export class Session {
  private constructor(readonly client: Client, readonly lease: bigint, private readonly ka: KeepAliveHandle, readonly ttl: number) {}

  static async create(client: Client, ttl = 60, deadline = Date.now() + LONG): Promise<Session> {
    const g = await client.call(Lease.method.leaseGrant, { TTL: BigInt(ttl) }, { deadline });
    const ka = keepAlive(client, g.ID, () => {});
    return new Session(client, g.ID, ka, ttl);
  }

  /** Resolves when the lease can no longer be kept alive (expired or revoked). */
  get done(): Promise<unknown> {
    return this.ka.done;
  }

  /** Stops keeping the lease alive without revoking it. */
  orphan(): void {
    this.ka.stop();
  }

  async close(): Promise<void> {
    this.ka.stop();
    await this.client.call(Lease.method.leaseRevoke, { ID: this.lease }, { deadline: Date.now() + this.ttl * 1000 }).catch(() => {});
  }
}

function putOp(key: string, value: Uint8Array, lease: bigint): RequestOp {
  return create(RequestOpSchema, { request: { case: "requestPut", value: { key: bytes(key), value, lease } } });
}

function getOp(key: string, firstCreate = false): RequestOp {
  const k = bytes(key);
  return create(RequestOpSchema, {
    request: {
      case: "requestRange",
      value: firstCreate
        ? { key: k, rangeEnd: prefixEnd(k), limit: 1n, sortOrder: RangeRequest_SortOrder.ASCEND, sortTarget: RangeRequest_SortTarget.CREATE }
        : { key: k },
    },
  });
}

function createRevIs(key: string, rev: bigint) {
  return create(CompareSchema, {
    key: bytes(key),
    target: Compare_CompareTarget.CREATE,
    result: Compare_CompareResult.EQUAL,
    targetUnion: { case: "createRevision", value: rev },
  });
}

function rangeOf(r: { response: { case?: string; value?: unknown } }): RangeResponse {
  return r.response.value as RangeResponse;
}

/** Waits until `key` is deleted (watching from `rev`). */
function waitDelete(client: Client, key: string, rev: bigint, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Watcher(client);
    const stop = () => {
      w.close();
      reject(new ClientError(Code.Canceled, "context canceled", "context"));
    };
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    w.watch({ key: bytes(key), startRevision: rev, requireLeader: false }, (u) => {
      if (u.response.events.some((e) => e.type === Event_EventType.DELETE)) {
        signal.removeEventListener("abort", stop);
        w.close();
        resolve();
      }
    }, (err) => {
      signal.removeEventListener("abort", stop);
      if (err) reject(err);
    });
  });
}

/** Waits until no key under `pfx` has create revision <= maxCreateRev. */
async function waitDeletes(client: Client, pfx: string, maxCreateRev: bigint, signal: AbortSignal): Promise<ResponseHeader | undefined> {
  const k = bytes(pfx);
  for (;;) {
    const resp = await client.call(
      KV.method.range,
      { key: k, rangeEnd: prefixEnd(k), limit: 1n, sortOrder: RangeRequest_SortOrder.DESCEND, sortTarget: RangeRequest_SortTarget.CREATE, maxCreateRevision: maxCreateRev },
      { deadline: Date.now() + LONG, idempotent: true },
    );
    if (resp.kvs.length === 0) return resp.header;
    const last = new TextDecoder().decode(resp.kvs[0]!.key);
    await waitDelete(client, last, resp.header!.revision, signal);
  }
}

export class Mutex {
  private myKey = "";
  private myRev = -1n;
  header: ResponseHeader | undefined;
  private readonly pfx: string;

  constructor(private readonly session: Session, name: string) {
    this.pfx = `${name}/`;
  }

  get key(): string {
    return this.myKey;
  }

  async lock(signal: AbortSignal): Promise<void> {
    const client = this.session.client;
    this.myKey = `${this.pfx}${this.session.lease.toString(16)}`;
    const resp = await client.call(
      KV.method.txn,
      {
        compare: [createRevIs(this.myKey, 0n)],
        success: [putOp(this.myKey, new Uint8Array(0), this.session.lease), getOp(this.pfx, true)],
        failure: [getOp(this.myKey), getOp(this.pfx, true)],
      },
      { deadline: Date.now() + LONG },
    );
    this.myRev = resp.header!.revision;
    if (!resp.succeeded) this.myRev = rangeOf(resp.responses[0]!).kvs[0]!.createRevision;
    const owner = rangeOf(resp.responses[1]!).kvs;
    if (owner.length === 0 || owner[0]!.createRevision === this.myRev) {
      this.header = resp.header;
      return;
    }
    try {
      this.header = await waitDeletes(client, this.pfx, this.myRev - 1n, signal);
    } catch (e) {
      await this.unlock().catch(() => {});
      throw e;
    }
  }

  async unlock(): Promise<void> {
    await this.session.client.call(KV.method.deleteRange, { key: bytes(this.myKey) }, { deadline: Date.now() + 10_000 });
    this.myKey = "\x00";
    this.myRev = -1n;
  }
}

export class Election {
  private leaderKey = "";
  private leaderRev = 0n;
  private leading = false;
  header: ResponseHeader | undefined;
  private readonly pfx: string;

  constructor(private readonly session: Session, name: string) {
    this.pfx = `${name}/`;
  }

  get key(): string {
    return this.leaderKey;
  }

  async campaign(value: string, signal: AbortSignal): Promise<void> {
    const client = this.session.client;
    const k = `${this.pfx}${this.session.lease.toString(16)}`;
    const val = bytes(value);
    const resp = await client.call(
      KV.method.txn,
      { compare: [createRevIs(k, 0n)], success: [putOp(k, val, this.session.lease)], failure: [getOp(k)] },
      { deadline: Date.now() + LONG },
    );
    this.leaderKey = k;
    this.leaderRev = resp.header!.revision;
    this.leading = true;
    if (!resp.succeeded) {
      const kv = rangeOf(resp.responses[0]!).kvs[0]!;
      this.leaderRev = kv.createRevision;
      if (new TextDecoder().decode(kv.value) !== value) await this.proclaim(value);
    }
    try {
      await waitDeletes(client, this.pfx, this.leaderRev - 1n, signal);
    } catch (e) {
      if (signal.aborted) await this.resign().catch(() => {});
      else this.leading = false;
      throw e;
    }
    this.header = resp.header;
  }

  async proclaim(value: string): Promise<void> {
    if (!this.leading) throw new Error("election: not leader");
    const r = await this.session.client.call(
      KV.method.txn,
      { compare: [createRevIs(this.leaderKey, this.leaderRev)], success: [putOp(this.leaderKey, bytes(value), this.session.lease)] },
      { deadline: Date.now() + 10_000 },
    );
    if (!r.succeeded) {
      this.leaderKey = "";
      throw new Error("election: not leader");
    }
  }

  async resign(): Promise<void> {
    if (!this.leading) return;
    await this.session.client.call(
      KV.method.txn,
      { compare: [createRevIs(this.leaderKey, this.leaderRev)], success: [create(RequestOpSchema, { request: { case: "requestDeleteRange", value: { key: bytes(this.leaderKey) } } })] },
      { deadline: Date.now() + 10_000 },
    );
    this.leaderKey = "";
    this.leading = false;
  }

  /**
   * Observe: the current leader's key-value, then every change of it, until the signal aborts
   * or the stream is lost (clientv3's Election.Observe).
   */
  async observe(onLeader: (header: ResponseHeader, kv: KeyValue) => void, signal: AbortSignal): Promise<void> {
    const client = this.session.client;
    const pk = bytes(this.pfx);
    for (;;) {
      if (signal.aborted) return;
      const resp = await client.call(
        KV.method.range,
        { key: pk, rangeEnd: prefixEnd(pk), limit: 1n, sortOrder: RangeRequest_SortOrder.ASCEND, sortTarget: RangeRequest_SortTarget.CREATE },
        { deadline: Date.now() + LONG, idempotent: true },
      );
      let kv: KeyValue;
      let hdr: ResponseHeader;
      if (resp.kvs.length === 0) {
        const got = await watchFirst(client, pk, resp.header!.revision, signal, (ev) => ev.type === Event_EventType.PUT);
        if (got === undefined) return;
        [hdr, kv] = got;
        hdr.revision = kv.modRevision;
      } else {
        hdr = resp.header!;
        kv = resp.kvs[0]!;
      }
      onLeader(hdr, kv);
      // Follow the leader key until it is deleted.
      const ended = await new Promise<boolean>((resolve) => {
        const w = new Watcher(client);
        const abort = () => {
          w.close();
          resolve(true);
        };
        // An abort that came during the read above fires no event: check for it too.
        if (signal.aborted) return abort();
        signal.addEventListener("abort", abort, { once: true });
        w.watch({ key: kv.key, startRevision: hdr.revision + 1n, requireLeader: false }, (u) => {
          for (const ev of u.response.events) {
            if (ev.type === Event_EventType.DELETE) {
              signal.removeEventListener("abort", abort);
              w.close();
              resolve(false);
              return;
            }
            onLeader(u.response.header!, ev.kv!);
          }
        }, (err) => {
          if (err) {
            signal.removeEventListener("abort", abort);
            resolve(true);
          }
        });
      });
      if (ended) return;
    }
  }
}

function watchFirst(
  client: Client,
  pfx: Uint8Array,
  rev: bigint,
  signal: AbortSignal,
  pred: (ev: { type: Event_EventType; kv?: KeyValue }) => boolean,
): Promise<[ResponseHeader, KeyValue] | undefined> {
  return new Promise((resolve) => {
    const w = new Watcher(client);
    const abort = () => {
      w.close();
      resolve(undefined);
    };
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    w.watch({ key: pfx, rangeEnd: prefixEnd(pfx), startRevision: rev, requireLeader: false }, (u) => {
      for (const ev of u.response.events) {
        if (pred(ev)) {
          signal.removeEventListener("abort", abort);
          w.close();
          resolve([u.response.header!, ev.kv!]);
          return;
        }
      }
    }, (err) => {
      if (err) resolve(undefined);
    });
  });
}
