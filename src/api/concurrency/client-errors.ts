// etcd serves Lock and Election on an in-process clientv3 (v3client): every error of the KV,
// Lease and Watch calls beneath comes back as clientv3's plain error value, which gRPC cannot
// map to a status, so the caller sees code Unknown (HTTP 500 through the gateway) with the
// same text — "etcdserver: requested lease not found" included. These wrappers do the same.
import { Code, EtcdError, isEtcdError } from "../../rpctypes/index.ts";

function asUnknown(e: unknown): unknown {
  return isEtcdError(e) && e.code !== Code.Unknown ? new EtcdError(Code.Unknown, e.message) : e;
}

/** The call's errors as the in-process client reports them. */
export function clientErrors<T>(p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    throw asUnknown(e);
  });
}

/** The stream's errors as the in-process client reports them. */
export async function* clientErrorsStream<T>(it: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* it;
  } catch (e) {
    throw asUnknown(e);
  }
}
