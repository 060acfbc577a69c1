// v3electionpb.Election on the server's KV/Lease/Watch, with clientv3/concurrency Election
// semantics: candidates put `name/<lease %x>` under their lease; the leader is the candidate
// with the lowest create revision.
import { create } from "@bufbuild/protobuf";
import { Event_EventType, type KeyValue } from "../../gen/kv_pb.ts";
import {
  RangeRequest_SortOrder,
  TxnRequestSchema,
  type ResponseHeader,
} from "../../gen/rpc_pb.ts";
import {
  CampaignResponseSchema,
  LeaderResponseSchema,
  ProclaimResponseSchema,
  ResignResponseSchema,
  type CampaignRequest,
  type CampaignResponse,
  type LeaderKey,
  type LeaderRequest,
  type LeaderResponse,
  type ProclaimRequest,
  type ProclaimResponse,
  type ResignRequest,
  type ResignResponse,
} from "../../gen/v3election_pb.ts";
import type { EtcdServer, RequestContext } from "../../server/types.ts";
import {
  createRevIs,
  firstOrLastCreate,
  NO_REV,
  prefixEnd,
  revMinus1,
  revPlus1,
  sessionKey,
  waitPrefix,
  type Rev,
} from "./keys.ts";
import { sessionLease } from "./lock.ts";
import { waitDeletes } from "./wait.ts";
import { WatchQueue } from "./watch-queue.ts";

// clientv3/concurrency's errors: plain errors, so gRPC reports them as Unknown.
export const ErrElectionNotLeader = new Error("election: not leader");
export const ErrElectionNoLeader = new Error("election: no leader");
export const ErrMissingLeaderKey = new Error('"leader" field must be provided');

const bytesEqual = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export async function campaign(
  server: EtcdServer,
  req: CampaignRequest,
  ctx: RequestContext,
): Promise<CampaignResponse> {
  const lease = await sessionLease(server, req.lease, ctx);
  const pfx = waitPrefix(req.name);
  const key = sessionKey(pfx, lease);
  const resp = await server.txn(
    create(TxnRequestSchema, {
      compare: [createRevIs(key, NO_REV)],
      success: [{ request: { case: "requestPut", value: { key, value: req.value, lease } } }],
      failure: [{ request: { case: "requestRange", value: { key } } }],
    }),
    ctx,
  );
  let rev: Rev = resp.header!.revision;
  const leader = (): LeaderKey =>
    ({ $typeName: "v3electionpb.LeaderKey", name: req.name, key, rev, lease }) as LeaderKey;
  if (!resp.succeeded) {
    const r0 = resp.responses[0]?.response;
    const kv = r0?.case === "responseRange" ? r0.value.kvs[0] : undefined;
    if (kv !== undefined) {
      rev = kv.createRevision;
      if (!bytesEqual(kv.value, req.value)) {
        try {
          await proclaimAs(server, leader(), req.value, ctx);
        } catch (err) {
          await resignAs(server, leader(), {}).catch(() => {});
          throw err;
        }
      }
    }
  }
  try {
    await waitDeletes(server, pfx, revMinus1(rev), ctx);
  } catch (err) {
    // A canceled campaign withdraws its candidacy (Election.Campaign does the same).
    if (ctx.signal?.aborted) await resignAs(server, leader(), {}).catch(() => {});
    throw err;
  }
  return create(CampaignResponseSchema, { header: resp.header, leader: leader() });
}

async function proclaimAs(
  server: EtcdServer,
  lk: LeaderKey,
  value: Uint8Array,
  ctx: RequestContext,
): Promise<ResponseHeader | undefined> {
  const resp = await server.txn(
    create(TxnRequestSchema, {
      compare: [createRevIs(lk.key, lk.rev)],
      success: [{ request: { case: "requestPut", value: { key: lk.key, value, lease: lk.lease } } }],
    }),
    ctx,
  );
  if (!resp.succeeded) throw ErrElectionNotLeader;
  return resp.header;
}

async function resignAs(
  server: EtcdServer,
  lk: LeaderKey,
  ctx: RequestContext,
): Promise<ResponseHeader | undefined> {
  const resp = await server.txn(
    create(TxnRequestSchema, {
      compare: [createRevIs(lk.key, lk.rev)],
      success: [{ request: { case: "requestDeleteRange", value: { key: lk.key } } }],
    }),
    ctx,
  );
  return resp.header;
}

export async function proclaim(
  server: EtcdServer,
  req: ProclaimRequest,
  ctx: RequestContext,
): Promise<ProclaimResponse> {
  if (req.leader === undefined) throw ErrMissingLeaderKey;
  const header = await proclaimAs(server, req.leader, req.value, ctx);
  return create(ProclaimResponseSchema, { header });
}

export async function resign(
  server: EtcdServer,
  req: ResignRequest,
  ctx: RequestContext,
): Promise<ResignResponse> {
  if (req.leader === undefined) throw ErrMissingLeaderKey;
  const header = await resignAs(server, req.leader, ctx);
  return create(ResignResponseSchema, { header });
}

export async function leader(
  server: EtcdServer,
  req: LeaderRequest,
  ctx: RequestContext,
): Promise<LeaderResponse> {
  const pfx = waitPrefix(req.name);
  const resp = await server.range(firstOrLastCreate(pfx, RangeRequest_SortOrder.ASCEND), ctx);
  const kv = resp.kvs[0];
  if (kv === undefined) throw ErrElectionNoLeader;
  return create(LeaderResponseSchema, { header: resp.header, kv });
}

/**
 * Election.Observe: the current leader's value, then every change of it; when the leader
 * resigns, waits for the next one. Ends (without error) when the request is aborted.
 */
export async function* observe(
  server: EtcdServer,
  req: LeaderRequest,
  ctx: RequestContext,
): AsyncGenerator<LeaderResponse> {
  const pfx = waitPrefix(req.name);
  const end = prefixEnd(pfx);
  const first = firstOrLastCreate(pfx, RangeRequest_SortOrder.ASCEND);
  const noRange = new Uint8Array(0);
  while (!ctx.signal?.aborted) {
    const resp = await server.range(first, ctx);
    let kv: KeyValue | undefined = resp.kvs[0];
    let header = resp.header;
    if (kv === undefined) {
      // Wait for the first put under the prefix.
      const q = new WatchQueue(server, pfx, end, resp.header!.revision, ctx);
      try {
        while (kv === undefined) {
          const wr = await q.next();
          const ev = wr.events.find((e) => e.type === Event_EventType.PUT);
          if (ev?.kv) {
            kv = ev.kv;
            header = { ...wr.header!, revision: kv.modRevision };
          }
        }
      } finally {
        q.close();
      }
    }
    yield create(LeaderResponseSchema, { header, kv });
    const q = new WatchQueue(server, kv.key, noRange, revPlus1(header!.revision), ctx);
    try {
      let deleted = false;
      while (!deleted) {
        const wr = await q.next();
        for (const ev of wr.events) {
          if (ev.type === Event_EventType.DELETE) {
            deleted = true;
            break;
          }
          yield create(LeaderResponseSchema, { header: wr.header, kv: ev.kv });
        }
      }
    } finally {
      q.close();
    }
  }
}
