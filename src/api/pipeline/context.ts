// The request context, built once per call from what the transport saw (gRPC metadata, HTTP
// headers, the TLS session). Every protocol builds it here, so a token or a hasleader flag
// means the same thing whichever way the request came in.
import type { RequestContext, StreamFlow } from "../../server/types.ts";

/** What a transport hands the pipeline about one call. */
export interface CallMeta {
  /** gRPC metadata `token` (clientv3). */
  readonly token?: string | undefined;
  /** gRPC metadata / HTTP header `authorization` (grpc-gateway forwards the HTTP header). */
  readonly authorization?: string | undefined;
  /** gRPC metadata `hasleader` (clientv3.WithRequireLeader). */
  readonly hasLeader?: string | undefined;
  /** gRPC metadata `client-api-version` (clientv3 sends its major.minor): /metrics only. */
  readonly clientApiVersion?: string | undefined;
  /**
   * The verified client certificate's common name: gRPC over TLS with --client-cert-auth only
   * (etcd ignores it for gateway requests). A function: most calls never need it.
   */
  readonly commonName?: (() => string | undefined) | undefined;
  /** Aborted when the client goes away (long waits and streams need it). */
  readonly signal?: AbortSignal | undefined;
  /** True once the client gave up on the call (RequestContext.cancelled). */
  readonly cancelled?: (() => boolean) | undefined;
  /**
   * The call's deadline, ms from now (`grpc-timeout`, or the gateway's `Grpc-Timeout` header),
   * already parsed by the transport; undefined for none. See deadline.ts.
   */
  readonly timeoutMs?: number | undefined;
  /**
   * The caller enforces the deadline as a gRPC client would (the JSON gateway, like
   * grpc-gateway): every call ends with DeadlineExceeded at it.
   */
  readonly clientDeadline?: boolean | undefined;
  /** Streaming calls: the output backpressure of the call's stream (h2 engine, gateway). */
  readonly flow?: StreamFlow | undefined;
}

/**
 * The token a call carries: metadata `token`, else `authorization` (etcd's AuthInfoFromCtx
 * reads both). A "Bearer " prefix is stripped, as etcd 3.5.32 / 3.6.13 do.
 */
export function tokenOf(meta: CallMeta): string | undefined {
  const t = meta.token ?? meta.authorization;
  if (t === undefined) return undefined;
  return t.startsWith("Bearer ") ? t.slice(7) : t;
}

export function buildContext(meta: CallMeta): RequestContext {
  const ctx: RequestContext = {};
  const token = tokenOf(meta);
  if (token !== undefined) ctx.token = token;
  if (meta.hasLeader === "true") ctx.requireLeader = true;
  if (meta.signal !== undefined) ctx.signal = meta.signal;
  if (meta.cancelled !== undefined) ctx.cancelled = meta.cancelled;
  if (meta.flow !== undefined) ctx.flow = meta.flow;
  if (token === undefined && meta.commonName !== undefined) {
    const cn = meta.commonName();
    if (cn !== undefined && cn !== "") ctx.commonName = cn;
  }
  return ctx;
}
