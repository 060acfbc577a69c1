// A small in-memory EtcdServer for the api layer's tests: single revision counter, a
// current-key map, an event log for watch replay, leases without expiry.
import { create } from "@bufbuild/protobuf";
import { Event_EventType, EventSchema, KeyValueSchema, type Event, type KeyValue } from "../../src/gen/kv_pb.ts";
import * as pb from "../../src/gen/rpc_pb.ts";
import { Errors, EtcdError } from "../../src/rpctypes/index.ts";
import type { AuthGate, AuthServer, EtcdServer, RequestContext, WatchStream } from "../../src/server/types.ts";

/** Auth off: Authenticate answers "authentication is not enabled", the rest Unimplemented. */
const authOff: AuthGate = {
  enabled: () => false,
  revision: () => 1,
  identify: () => undefined,
  checkKeys: () => {},
  checkAdmin: () => {},
  checkUser: () => {},
  hasRole: () => false,
};
const unimplemented = (name: string) => () => Promise.reject(new EtcdError(12, `method ${name} not implemented`));
const authServerOff = new Proxy({} as AuthServer, {
  get: (_t, prop) => (prop === "authenticate" ? () => Promise.reject(Errors.authNotEnabled) : unimplemented(String(prop))),
});

const cmp = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const hex = (k: Uint8Array) => Buffer.from(k).toString("hex");

function inRange(key: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  if (end.length === 0) return cmp(key, start) === 0;
  if (end.length === 1 && end[0] === 0) return cmp(key, start) >= 0;
  return cmp(key, start) >= 0 && cmp(key, end) < 0;
}

interface Watcher {
  id: number;
  key: Uint8Array;
  end: Uint8Array;
  send: (r: pb.WatchResponse) => void;
}

export class FakeServer implements EtcdServer {
  readonly auth = authOff;
  readonly authServer = authServerOff;
  readonly maxTxnOps = 128;
  learner = false;
  leaderKnown = true;
  isLearner(): boolean {
    return this.learner;
  }
  hasLeader(): boolean {
    return this.leaderKnown;
  }
  applyBacklogged(): boolean {
    return false;
  }
  onLeaderLost(): () => void {
    return () => {};
  }
  leaseKeys(): Uint8Array[] {
    return [];
  }
  leaseIds(): bigint[] {
    return [...this.leases.keys()];
  }
  readonly clusterId = 0x1000n;
  readonly memberId = 0x2000n;
  maxRequestBytes = 1.5 * 1024 * 1024;
  rev = 1;
  kvs = new Map<string, KeyValue>();
  events: Event[] = [];
  leases = new Map<bigint, bigint>();
  nextLease = 0x7000n;
  watchers = new Set<Watcher>();
  healthy = true;
  lastCtx: RequestContext | undefined;
  /** Make the next call of a method fail. */
  failNext: EtcdError | null = null;
  /** Snapshot chunks to stream. */
  snapshotChunks: Uint8Array[] = [new Uint8Array([1, 2, 3])];

  header(): pb.ResponseHeader {
    return create(pb.ResponseHeaderSchema, {
      clusterId: this.clusterId,
      memberId: this.memberId,
      revision: BigInt(this.rev),
      raftTerm: 2n,
    });
  }

  private check(ctx: RequestContext): void {
    this.lastCtx = ctx;
    const f = this.failNext;
    if (f) {
      this.failNext = null;
      throw f;
    }
  }

  private doRange(req: pb.RangeRequest): pb.RangeResponse {
    let kvs = [...this.kvs.values()].filter((kv) => inRange(kv.key, req.key, req.rangeEnd));
    if (req.maxCreateRevision > 0n) kvs = kvs.filter((kv) => kv.createRevision <= req.maxCreateRevision);
    kvs.sort((a, b) => cmp(a.key, b.key));
    if (req.sortTarget === pb.RangeRequest_SortTarget.CREATE) kvs.sort((a, b) => Number(a.createRevision - b.createRevision));
    if (req.sortOrder === pb.RangeRequest_SortOrder.DESCEND) kvs.reverse();
    const count = kvs.length;
    if (req.limit > 0n) kvs = kvs.slice(0, Number(req.limit));
    return create(pb.RangeResponseSchema, { header: this.header(), kvs, count: BigInt(count), more: kvs.length < count });
  }

  private doPut(req: pb.PutRequest, rev: number): pb.PutResponse {
    const k = hex(req.key);
    const prev = this.kvs.get(k);
    const kv = create(KeyValueSchema, {
      key: req.key,
      value: req.value,
      lease: req.lease,
      createRevision: prev ? prev.createRevision : BigInt(rev),
      modRevision: BigInt(rev),
      version: prev ? prev.version + 1n : 1n,
    });
    this.kvs.set(k, kv);
    this.emit(create(EventSchema, { type: Event_EventType.PUT, kv }));
    return create(pb.PutResponseSchema, { header: this.header(), ...(req.prevKv && prev ? { prevKv: prev } : {}) });
  }

  private doDelete(req: pb.DeleteRangeRequest, rev: number): pb.DeleteRangeResponse {
    const gone = [...this.kvs.values()].filter((kv) => inRange(kv.key, req.key, req.rangeEnd));
    for (const kv of gone) {
      this.kvs.delete(hex(kv.key));
      this.emit(create(EventSchema, { type: Event_EventType.DELETE, kv: { key: kv.key, modRevision: BigInt(rev) } }));
    }
    return create(pb.DeleteRangeResponseSchema, { header: this.header(), deleted: BigInt(gone.length) });
  }

  private pending: Event[] = [];
  private emit(ev: Event): void {
    this.events.push(ev);
    this.pending.push(ev);
  }
  private flush(): void {
    const evs = this.pending;
    this.pending = [];
    if (evs.length === 0) return;
    for (const w of this.watchers) {
      const mine = evs.filter((e) => inRange(e.kv!.key, w.key, w.end));
      if (mine.length) w.send(create(pb.WatchResponseSchema, { header: this.header(), watchId: BigInt(w.id), events: mine }));
    }
  }

  async range(req: pb.RangeRequest, ctx: RequestContext) {
    this.check(ctx);
    if (req.key.length === 0) throw Errors.emptyKey;
    return this.doRange(req);
  }
  async put(req: pb.PutRequest, ctx: RequestContext) {
    this.check(ctx);
    if (req.key.length === 0) throw Errors.emptyKey;
    this.rev++;
    const r = this.doPut(req, this.rev);
    this.flush();
    return r;
  }
  async deleteRange(req: pb.DeleteRangeRequest, ctx: RequestContext) {
    this.check(ctx);
    const matched = [...this.kvs.values()].some((kv) => inRange(kv.key, req.key, req.rangeEnd));
    if (matched) this.rev++;
    const r = this.doDelete(req, this.rev);
    this.flush();
    return r;
  }
  async txn(req: pb.TxnRequest, ctx: RequestContext) {
    this.check(ctx);
    const ok = req.compare.every((c) => {
      const kv = this.kvs.get(hex(c.key));
      if (c.target === pb.Compare_CompareTarget.CREATE && c.targetUnion.case === "createRevision") {
        return (kv ? kv.createRevision : 0n) === c.targetUnion.value;
      }
      if (c.target === pb.Compare_CompareTarget.VALUE && c.targetUnion.case === "value") {
        return kv !== undefined && cmp(kv.value, c.targetUnion.value) === 0;
      }
      return false;
    });
    const ops = ok ? req.success : req.failure;
    const writes = ops.some((o) => o.request.case === "requestPut" || o.request.case === "requestDeleteRange");
    if (writes) this.rev++;
    const responses = ops.map((o) => {
      const r = o.request;
      switch (r.case) {
        case "requestPut":
          return create(pb.ResponseOpSchema, { response: { case: "responsePut", value: this.doPut(r.value, this.rev) } });
        case "requestDeleteRange":
          return create(pb.ResponseOpSchema, { response: { case: "responseDeleteRange", value: this.doDelete(r.value, this.rev) } });
        case "requestRange":
          return create(pb.ResponseOpSchema, { response: { case: "responseRange", value: this.doRange(r.value) } });
        default:
          throw new Error("unsupported op");
      }
    });
    this.flush();
    return create(pb.TxnResponseSchema, { header: this.header(), succeeded: ok, responses });
  }
  async compact(req: pb.CompactionRequest, ctx: RequestContext) {
    this.check(ctx);
    if (req.revision > BigInt(this.rev)) throw Errors.futureRev;
    return create(pb.CompactionResponseSchema, { header: this.header() });
  }

  /** The close callbacks of open watch streams (end a stream with an error from the server side). */
  watchClosers = new Set<(err: Error) => void>();

  openWatchStream(send: (r: pb.WatchResponse) => void, ctx: RequestContext, close: (err: Error) => void): WatchStream {
    this.lastCtx = ctx;
    this.watchClosers.add(close);
    let next = 0;
    const mine = new Map<number, Watcher>();
    return {
      create: (req) => {
        const id = req.watchId !== 0n ? Number(req.watchId) : next++;
        const w: Watcher = { id, key: req.key, end: req.rangeEnd, send };
        send(create(pb.WatchResponseSchema, { header: this.header(), watchId: BigInt(id), created: true }));
        if (req.startRevision > 0n) {
          const old = this.events.filter((e) => e.kv!.modRevision >= req.startRevision && inRange(e.kv!.key, w.key, w.end));
          if (old.length) send(create(pb.WatchResponseSchema, { header: this.header(), watchId: BigInt(id), events: old }));
        }
        mine.set(id, w);
        this.watchers.add(w);
      },
      cancel: (id) => {
        const w = mine.get(id);
        if (!w) return;
        this.watchers.delete(w);
        mine.delete(id);
        send(create(pb.WatchResponseSchema, { header: this.header(), watchId: BigInt(id), canceled: true }));
      },
      progress: () => send(create(pb.WatchResponseSchema, { header: this.header(), watchId: -1n })),
      close: () => {
        this.watchClosers.delete(close);
        for (const w of mine.values()) this.watchers.delete(w);
        mine.clear();
      },
    };
  }

  async leaseGrant(req: pb.LeaseGrantRequest, ctx: RequestContext) {
    this.check(ctx);
    const id = req.ID !== 0n ? req.ID : this.nextLease++;
    this.leases.set(id, req.TTL);
    return create(pb.LeaseGrantResponseSchema, { header: this.header(), ID: id, TTL: req.TTL });
  }
  async leaseRevoke(req: pb.LeaseRevokeRequest, ctx: RequestContext) {
    this.check(ctx);
    if (!this.leases.delete(req.ID)) throw Errors.leaseNotFound;
    const keys = [...this.kvs.values()].filter((kv) => kv.lease === req.ID);
    if (keys.length) {
      this.rev++;
      for (const kv of keys) this.doDelete(create(pb.DeleteRangeRequestSchema, { key: kv.key }), this.rev);
      this.flush();
    }
    return create(pb.LeaseRevokeResponseSchema, { header: this.header() });
  }
  async leaseKeepAlive(id: bigint, ctx: RequestContext) {
    this.check(ctx);
    const ttl = this.leases.get(id) ?? 0n;
    return create(pb.LeaseKeepAliveResponseSchema, { header: this.header(), ID: id, TTL: ttl });
  }
  async leaseTimeToLive(req: pb.LeaseTimeToLiveRequest, ctx: RequestContext) {
    this.check(ctx);
    const ttl = this.leases.get(req.ID);
    return create(pb.LeaseTimeToLiveResponseSchema, { header: this.header(), ID: req.ID, TTL: ttl ?? -1n, grantedTTL: ttl ?? 0n });
  }
  async leaseLeases(ctx: RequestContext) {
    this.check(ctx);
    return create(pb.LeaseLeasesResponseSchema, { header: this.header(), leases: [...this.leases.keys()].map((ID) => ({ ID })) });
  }
  async memberList(ctx: RequestContext) {
    this.check(ctx);
    return create(pb.MemberListResponseSchema, {
      header: { clusterId: this.clusterId, memberId: this.memberId, raftTerm: 2n },
      members: [{ ID: this.memberId, name: "default", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"] }],
    });
  }
  async memberAdd(_r: pb.MemberAddRequest, ctx: RequestContext): Promise<pb.MemberAddResponse> {
    this.check(ctx);
    throw Errors.memberBadURLs;
  }
  async memberRemove(_r: pb.MemberRemoveRequest, ctx: RequestContext): Promise<pb.MemberRemoveResponse> {
    this.check(ctx);
    throw Errors.memberNotFound;
  }
  async memberUpdate(_r: pb.MemberUpdateRequest, ctx: RequestContext): Promise<pb.MemberUpdateResponse> {
    this.check(ctx);
    throw Errors.memberNotFound;
  }
  async memberPromote(_r: pb.MemberPromoteRequest, ctx: RequestContext): Promise<pb.MemberPromoteResponse> {
    this.check(ctx);
    throw Errors.memberNotFound;
  }
  async alarm(_r: pb.AlarmRequest, ctx: RequestContext) {
    this.check(ctx);
    return create(pb.AlarmResponseSchema, { alarms: [{ memberID: this.memberId, alarm: pb.AlarmType.NOSPACE }] });
  }
  async status(ctx: RequestContext) {
    this.check(ctx);
    return create(pb.StatusResponseSchema, { header: this.header(), version: "3.4.23", dbSize: 4096n, leader: this.memberId, raftIndex: 5n, raftTerm: 2n, raftAppliedIndex: 5n });
  }
  async defragment(ctx: RequestContext) {
    this.check(ctx);
    return create(pb.DefragmentResponseSchema, {});
  }
  async hash(ctx: RequestContext) {
    this.check(ctx);
    return create(pb.HashResponseSchema, { header: this.header(), hash: 42 });
  }
  async hashKV(_r: pb.HashKVRequest, ctx: RequestContext) {
    this.check(ctx);
    return create(pb.HashKVResponseSchema, { header: this.header(), hash: 43, compactRevision: -1n });
  }
  async *snapshot(ctx: RequestContext): AsyncIterable<pb.SnapshotResponse> {
    this.check(ctx);
    let left = this.snapshotChunks.reduce((n, c) => n + c.length, 0);
    for (const blob of this.snapshotChunks) {
      left -= blob.length;
      yield create(pb.SnapshotResponseSchema, { remainingBytes: BigInt(left), blob });
    }
  }
  async moveLeader(_r: pb.MoveLeaderRequest, ctx: RequestContext): Promise<pb.MoveLeaderResponse> {
    this.check(ctx);
    throw Errors.notLeader;
  }
  async health(_exclude: string[]) {
    return { health: this.healthy };
  }
  metrics(): string {
    return "# HELP etcd_server_has_leader Whether or not a leader exists.\n# TYPE etcd_server_has_leader gauge\netcd_server_has_leader 1\n";
  }
  debugVars(): string {
    return '{\n"cmdline": ["fake"]\n}\n';
  }
}
