// v3lockpb.Lock on the server's KV/Lease/Watch, with clientv3/concurrency Mutex semantics:
// the waiter key `name/<lease %x>` is created under the caller's lease (or a fresh 60 s
// lease), and the lock is held once every waiter with a lower create revision is gone.
import { create } from "@bufbuild/protobuf";
import {
  DeleteRangeRequestSchema,
  LeaseGrantRequestSchema,
  RangeRequest_SortOrder,
  TxnRequestSchema,
  type ResponseHeader,
} from "../../gen/rpc_pb.ts";
import {
  LockResponseSchema,
  UnlockResponseSchema,
  type LockRequest,
  type LockResponse,
  type UnlockRequest,
  type UnlockResponse,
} from "../../gen/v3lock_pb.ts";
import type { EtcdServer, RequestContext } from "../../server/types.ts";
import { createRevIs, firstOrLastCreate, NO_REV, revMinus1, sessionKey, waitPrefix, type Rev } from "./keys.ts";
import { waitDeletes } from "./wait.ts";

/** clientv3/concurrency's default session TTL, used when the request names no lease. */
export const DEFAULT_SESSION_TTL = 60;

/** A session lease: the caller's, or a new one that nobody keeps alive (an orphaned session). */
export async function sessionLease(server: EtcdServer, lease: bigint, ctx: RequestContext): Promise<bigint> {
  if (lease !== 0n) return lease;
  const resp = await server.leaseGrant(
    create(LeaseGrantRequestSchema, { TTL: BigInt(DEFAULT_SESSION_TTL) }),
    ctx,
  );
  return resp.ID;
}

export async function lock(server: EtcdServer, req: LockRequest, ctx: RequestContext): Promise<LockResponse> {
  const lease = await sessionLease(server, req.lease, ctx);
  const pfx = waitPrefix(req.name);
  const myKey = sessionKey(pfx, lease);
  const getOwner = firstOrLastCreate(pfx, RangeRequest_SortOrder.ASCEND);
  const txn = create(TxnRequestSchema, {
    compare: [createRevIs(myKey, NO_REV)],
    success: [
      { request: { case: "requestPut", value: { key: myKey, lease } } },
      { request: { case: "requestRange", value: getOwner } },
    ],
    failure: [
      { request: { case: "requestRange", value: { key: myKey } } },
      { request: { case: "requestRange", value: getOwner } },
    ],
  });
  const resp = await server.txn(txn, ctx);
  let myRev: Rev = resp.header!.revision;
  if (!resp.succeeded) {
    const r0 = resp.responses[0]?.response;
    if (r0?.case === "responseRange" && r0.value.kvs[0]) myRev = r0.value.kvs[0].createRevision;
  }
  const r1 = resp.responses[1]?.response;
  const owner = r1?.case === "responseRange" ? r1.value.kvs[0] : undefined;
  let header: ResponseHeader | undefined = resp.header;
  if (owner !== undefined && owner.createRevision !== myRev) {
    try {
      header = await waitDeletes(server, pfx, revMinus1(myRev), ctx);
    } catch (err) {
      // Release the waiter key so it does not block others until the lease expires.
      await server.deleteRange(create(DeleteRangeRequestSchema, { key: myKey }), {}).catch(() => {});
      throw err;
    }
  }
  return create(LockResponseSchema, { header, key: myKey });
}

export async function unlock(
  server: EtcdServer,
  req: UnlockRequest,
  ctx: RequestContext,
): Promise<UnlockResponse> {
  const resp = await server.deleteRange(create(DeleteRangeRequestSchema, { key: req.key }), ctx);
  return create(UnlockResponseSchema, { header: resp.header });
}
