// The waits of clientv3/concurrency: until a key is deleted, and until every waiter created
// before a revision is gone.
import { Event_EventType } from "../../gen/kv_pb.ts";
import { RangeRequest_SortOrder, type ResponseHeader } from "../../gen/rpc_pb.ts";
import type { EtcdServer, RequestContext } from "../../server/types.ts";
import { firstOrLastCreate, type Rev } from "./keys.ts";
import { WatchQueue } from "./watch-queue.ts";

const EMPTY = new Uint8Array(0);

/** Resolves once `key` is deleted at or after revision `rev` (waitDelete). */
export async function waitDelete(
  server: EtcdServer,
  key: Uint8Array,
  rev: Rev,
  ctx: RequestContext,
): Promise<void> {
  const q = new WatchQueue(server, key, EMPTY, rev, ctx);
  try {
    for (;;) {
      const r = await q.next();
      for (const ev of r.events) if (ev.type === Event_EventType.DELETE) return;
    }
  } finally {
    q.close();
  }
}

/**
 * Waits until no key under `prefix` has create revision ≤ `maxCreateRev` (waitDeletes):
 * repeatedly finds the newest such key and waits for its deletion.
 */
export async function waitDeletes(
  server: EtcdServer,
  prefix: Uint8Array,
  maxCreateRev: Rev,
  ctx: RequestContext,
): Promise<ResponseHeader | undefined> {
  const req = firstOrLastCreate(prefix, RangeRequest_SortOrder.DESCEND, maxCreateRev);
  for (;;) {
    const resp = await server.range(req, ctx);
    const kv = resp.kvs[0];
    if (kv === undefined) return resp.header;
    await waitDelete(server, kv.key, resp.header!.revision, ctx);
  }
}
