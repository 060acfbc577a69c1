// The one call pipeline every protocol goes through (gRPC, the JSON gateway, and HTTP routes
// such as the v2 API and the dashboard). For each entry of the RPC table, in a fixed order:
//   identity (token or certificate CN → who) → learner / hasleader (etcd's interceptors)
//   → limits (request checks, the commit–apply backlog) → authorization (the method's rule)
//   → the call → error mapping (anything thrown becomes etcd's status, never an escape).
// A stream's sends are contained too: a response that fails to encode ends that call.
import type { Message } from "@bufbuild/protobuf";
import { Code, Errors, EtcdError, isEtcdError } from "../../rpctypes/index.ts";
import type { Logger } from "../../server/logger.ts";
import type { EtcdServer, RequestContext, WatchStream } from "../../server/types.ts";
import type { AnyRule } from "../rpc/auth-rules.ts";
import type { BidiHandler, BidiMethod, CallScope, RpcMethod, ServerStreamMethod, StreamSink, UnaryMethod } from "../rpc/method.ts";
import { methodOf, rpcTable } from "../rpc/table.ts";
import { KV, Lease, Watch } from "../../gen/rpc_pb.ts";
import { authorize, authorizeRenew, needsIdentity, watchPermission } from "./authorize.ts";
import { CallMetrics, type MethodCounters } from "./call-metrics.ts";
import { buildContext, type CallMeta } from "./context.ts";
import { CallDeadline, deadlineError, deadlineExceeded, type DeadlineTimers, globalDeadlineTimers } from "./deadline.ts";

export class Pipeline {
  private readonly scope: CallScope;
  /** go-grpc-prometheus' counters of the calls that enter here (/metrics). */
  readonly calls = new CallMetrics(rpcTable.values());

  constructor(
    readonly server: EtcdServer,
    private readonly logger?: Logger,
    /** Deadline timers (grpc-timeout); the global ones unless a test drives them. */
    private readonly timers: DeadlineTimers = globalDeadlineTimers,
  ) {
    this.scope = { server, inner: guardedServer(this) };
  }

  // ---- entries ------------------------------------------------------------------------------

  /** A unary call from a transport. */
  unary(method: UnaryMethod, req: Message, meta: CallMeta): Promise<Message> {
    const mc = this.calls.of(method);
    mc.started.value++;
    mc.received.value++;
    this.calls.clientRequest(false, meta.clientApiVersion);
    const ctx = buildContext(meta);
    const dl = this.deadline(meta, ctx);
    if (dl === EXPIRED) return Promise.reject(mc.failed(deadlineExceeded));
    // Without a deadline the call's own settlement counts it; with one, the race's.
    const counted = dl === undefined ? mc : undefined;
    const pending = this.identify(method.policy.auth, ctx);
    const p = pending !== undefined ? pending.then(() => this.invoke(method, req, ctx, counted)) : this.invoke(method, req, ctx, counted);
    if (dl === undefined) return p;
    const expired = deadlineError(method.policy.proposes === true ? "proposal" : "unary", meta.clientDeadline === true);
    return dl.race(p, expired).then(
      (res) => {
        dl.clear();
        return mc.succeeded(res);
      },
      (err: unknown) => {
        dl.clear();
        return Promise.reject(mc.failed(this.mapError(err)));
      },
    );
  }

  /**
   * The call's deadline, if it has one (see deadline.ts): its signal replaces the request's
   * (it also aborts when the client goes away), so every wait of the call stops at it.
   */
  private deadline(meta: CallMeta, ctx: RequestContext): CallDeadline | typeof EXPIRED | undefined {
    const ms = meta.timeoutMs;
    if (ms === undefined) return undefined;
    if (!(ms > 0)) return EXPIRED;
    const dl = new CallDeadline(ms, meta.signal, this.timers);
    // Only a call whose transport made it a signal (streams, long waits) waits on one.
    if (meta.signal !== undefined) ctx.signal = dl.signal;
    return dl;
  }

  /**
   * A unary call with a context whose identity is already resolved: internal calls (Lock and
   * Election on KV, Lease, Watch) and HTTP routes that built theirs with httpContext().
   */
  invoke(method: UnaryMethod, req: Message, ctx: RequestContext, mc?: MethodCounters): Promise<Message> {
    try {
      this.gate(method, req, ctx);
      this.limits(method, req);
      const after = authorize(this.server, method.policy.auth, req, ctx, this.identityErrors.get(ctx));
      const p = method.call(this.scope, req, ctx);
      if (after === undefined) {
        if (mc === undefined) return p.catch((err: unknown) => Promise.reject(this.mapError(err)));
        return p.then(mc.succeeded, (err: unknown) => Promise.reject(mc.failed(this.mapError(err))));
      }
      return p.then(
        (res) => {
          after();
          return mc === undefined ? res : mc.succeeded(res);
        },
        (err: unknown) => Promise.reject(mc === undefined ? this.mapError(err) : mc.failed(this.mapError(err))),
      );
    } catch (err) {
      return Promise.reject(mc === undefined ? this.mapError(err) : mc.failed(this.mapError(err)));
    }
  }

  /** A server-streaming call: the checks run before the first response. */
  async *serverStream(method: ServerStreamMethod, req: Message, meta: CallMeta): AsyncGenerator<Message> {
    const mc = this.calls.of(method);
    mc.started.value++;
    mc.received.value++;
    this.calls.clientRequest(true, meta.clientApiVersion);
    const ctx = buildContext(meta);
    const dl = this.deadline(meta, ctx);
    if (dl === EXPIRED) throw mc.failed(deadlineExceeded);
    // The status it ended with; a stream abandoned by its consumer (the client left) is Canceled.
    let code: number = Code.Canceled;
    const expired = dl === undefined ? undefined : deadlineError("server-stream", meta.clientDeadline === true);
    let lost: EtcdError | undefined;
    let unsubscribe: (() => void) | undefined;
    let it: AsyncIterator<Message> | undefined;
    try {
      const pending = this.identify(method.policy.auth, ctx);
      if (pending !== undefined) await (dl === undefined ? pending : dl.race(pending, expired!));
      this.gate(method, req, ctx);
      this.limits(method, req);
      authorize(this.server, method.policy.auth, req, ctx, this.identityErrors.get(ctx));
      if (ctx.requireLeader) unsubscribe = this.server.onLeaderLost(() => (lost = Errors.noLeader));
      it = method.call(this.scope, req, ctx)[Symbol.asyncIterator]();
      for (;;) {
        // At the deadline the wait for the next message is abandoned; the producer stops on
        // the aborted signal and its return() runs once its pending step is over.
        const r = dl === undefined ? await it.next() : await dl.race(it.next(), expired!);
        if (r.done) {
          it = undefined;
          code = Code.OK;
          break;
        }
        if (lost !== undefined) throw lost;
        mc.sent.value++;
        yield r.value;
      }
    } catch (err) {
      const e = this.mapError(err);
      code = e.code;
      throw e;
    } finally {
      mc.handled(code);
      unsubscribe?.();
      dl?.clear();
      if (it !== undefined) void it.return?.()?.catch(() => undefined);
    }
  }

  /**
   * A bidi stream. Messages that arrive while the identity is resolved wait; a failing check
   * ends the stream with its error. hasleader streams end with "no leader" when it is lost.
   */
  bidi(method: BidiMethod, meta: CallMeta, sink: StreamSink): BidiHandler {
    const mc = this.calls.of(method);
    mc.started.value++;
    this.calls.clientRequest(true, meta.clientApiVersion);
    const ctx = buildContext(meta);
    const dl = this.deadline(meta, ctx);
    let handler: BidiHandler | null = null;
    let queued: Message[] | null = [];
    let halfClosed = false;
    let done = false;
    let unsubscribe: (() => void) | undefined;
    const safe: StreamSink = {
      send: (msg) => {
        if (done) return;
        try {
          sink.send(msg);
          mc.sent.value++;
        } catch (err) {
          this.logger?.warn("failed to send a stream response", { method: method.path, error: String(err) });
          safe.end(err);
        }
      },
      end: (err) => {
        if (done) return;
        done = true;
        unsubscribe?.();
        if (dl !== undefined && dl !== EXPIRED) dl.clear();
        const e = err === undefined ? undefined : this.mapError(err);
        mc.handled(e === undefined ? Code.OK : e.code);
        try {
          sink.end(e);
        } finally {
          handler?.close();
        }
      },
    };
    const rule = method.policy.auth;
    const start = (): void => {
      if (done) return;
      this.gate(method, undefined, ctx);
      const idErr = this.identityErrors.get(ctx);
      authorize(this.server, rule, undefined, ctx, idErr);
      // etcd reports a bad token per watch create (cancel_reason) and per keepalive (the
      // stream's status), not when the stream opens.
      if (rule.kind === "watch") ctx.watchPermission = watchPermission(this.server, ctx, idErr);
      if (ctx.requireLeader) unsubscribe = this.server.onLeaderLost(() => safe.end(Errors.noLeader));
      let h = method.open(this.server, ctx, safe);
      if (rule.kind === "keepalive") h = this.renewChecked(h, ctx, safe, idErr);
      handler = h;
      const q = queued ?? [];
      queued = null;
      for (const m of q) if (!done) h.message(m);
      if (halfClosed && !done) h.end();
    };
    const fail = (err: unknown) => safe.end(err);
    const startSafely = () => {
      try {
        start();
      } catch (err) {
        fail(err);
      }
    };
    if (dl === EXPIRED) {
      queueMicrotask(() => fail(deadlineExceeded));
    } else {
      dl?.onExpire(() => fail(deadlineError("bidi", meta.clientDeadline === true)));
      const pending = this.identify(rule, ctx);
      // A failure is reported after open returns, so the transport has the handler when it ends.
      if (pending === undefined) queueMicrotask(startSafely);
      else void pending.then(startSafely);
    }
    return {
      message(req) {
        if (done) return;
        mc.received.value++;
        if (handler === null) queued?.push(req);
        else handler.message(req);
      },
      end() {
        if (handler === null) halfClosed = true;
        else handler.end();
      },
      close() {
        // The client went away before the stream ended: grpc-go's handler sees Canceled.
        if (!done) mc.handled(Code.Canceled);
        done = true;
        unsubscribe?.();
        if (dl !== undefined && dl !== EXPIRED) dl.clear();
        handler?.close();
      },
    };
  }

  /**
   * The context of an HTTP request (v2 API, dashboard): built once from its headers, identity
   * resolved. Use invoke() with it to call any RPC of the table under that identity.
   */
  async httpContext(headers: { get(name: string): string | null }, signal?: AbortSignal): Promise<RequestContext> {
    const auth = headers.get("authorization") ?? undefined;
    // HTTP Basic credentials belong to the v2 API's own auth; they are not a v3 token.
    const meta: CallMeta = { authorization: auth !== undefined && /^basic /i.test(auth) ? undefined : auth, signal };
    const ctx = buildContext(meta);
    await this.identify({ kind: "user" }, ctx);
    const err = this.identityErrors.get(ctx);
    if (err !== undefined) throw this.mapError(err);
    return ctx;
  }

  // ---- metrics ------------------------------------------------------------------------------

  /** The call counters in Prometheus text form (appended to the member's /metrics). */
  metrics(): string {
    return this.calls.render();
  }

  // ---- interceptors -------------------------------------------------------------------------

  /**
   * Identity: who the credentials name. Only waits (a promise) when a token must; never
   * fails: a bad token is kept and reported by the authorization step, after the request
   * checks, as etcd reports it (and in the auth store's raw words where etcd does).
   */
  private identify(rule: AnyRule, ctx: RequestContext): Promise<void> | undefined {
    const gate = this.server.auth;
    if (!gate.enabled() || !needsIdentity(rule)) return undefined;
    if (ctx.auth !== undefined || (ctx.token === undefined && ctx.commonName === undefined)) return undefined;
    let r: ReturnType<typeof gate.identify>;
    try {
      r = gate.identify(ctx.token, ctx.commonName, ctx.signal);
    } catch (err) {
      this.identityErrors.set(ctx, err);
      return undefined;
    }
    if (r instanceof Promise) {
      return r.then(
        (ai) => {
          if (ai !== undefined) ctx.auth = ai;
        },
        (err: unknown) => void this.identityErrors.set(ctx, err),
      );
    }
    if (r !== undefined) ctx.auth = r;
    return undefined;
  }

  /** Identity failures by context, reported by authorization (see identify). */
  private readonly identityErrors = new WeakMap<RequestContext, unknown>();

  /** etcd's interceptors: learners serve few RPCs; hasleader needs a leader. */
  private gate(method: RpcMethod, req: Message | undefined, ctx: RequestContext): void {
    const s = this.server;
    if (s.isLearner()) {
      const l = method.policy.learner;
      const ok = typeof l === "function" ? req !== undefined && l(req) : l === true;
      if (!ok) throw Errors.notSupportedForLearner;
    }
    if (ctx.requireLeader === true && !s.hasLeader()) throw Errors.noLeader;
  }

  /** Request checks (etcd's v3rpc validation) and the proposal backlog limit. */
  private limits(method: RpcMethod, req: Message | undefined): void {
    const p = method.policy;
    if (p.validate !== undefined && req !== undefined) p.validate(req, this.server);
    if (p.proposes === true && this.server.applyBacklogged()) throw Errors.tooManyRequests;
  }

  /** Anything thrown becomes an EtcdError (etcd's togRPCError: unknown errors are Unknown). */
  mapError(err: unknown): EtcdError {
    if (isEtcdError(err)) return err;
    if (err instanceof Error) return new EtcdError(Code.Unknown, err.message);
    return new EtcdError(Code.Unknown, String(err));
  }

  private renewChecked(h: BidiHandler, ctx: RequestContext, sink: StreamSink, identityError: unknown): BidiHandler {
    const server = this.server;
    return {
      message(req) {
        try {
          if (identityError !== undefined && server.auth.enabled()) throw identityError;
          authorizeRenew(server, (req as unknown as { ID: bigint }).ID, ctx);
        } catch (err) {
          sink.end(err);
          return;
        }
        h.message(req);
      },
      end: () => h.end(),
      close: () => h.close(),
    };
  }
}

/** A deadline that passed before the call was dispatched. */
const EXPIRED = Symbol("expired");

/**
 * The server as Lock and Election see it: their KV, Lease and Watch calls go through the
 * pipeline under the caller's identity (etcd's v3lock/v3election use its client API).
 */
function guardedServer(p: Pipeline): EtcdServer {
  const s = p.server;
  const call = <T>(m: UnaryMethod, req: Message, ctx: RequestContext) => p.invoke(m, req, ctx) as Promise<T>;
  const range = methodOf(KV.method.range) as UnaryMethod;
  const put = methodOf(KV.method.put) as UnaryMethod;
  const del = methodOf(KV.method.deleteRange) as UnaryMethod;
  const txn = methodOf(KV.method.txn) as UnaryMethod;
  const grant = methodOf(Lease.method.leaseGrant) as UnaryMethod;
  const watch = methodOf(Watch.method.watch);
  const guarded: Partial<EtcdServer> = {
    range: (req, ctx) => call(range, req, ctx),
    put: (req, ctx) => call(put, req, ctx),
    deleteRange: (req, ctx) => call(del, req, ctx),
    txn: (req, ctx) => call(txn, req, ctx),
    leaseGrant: (req, ctx) => call(grant, req, ctx),
    openWatchStream(send, ctx, close): WatchStream {
      const c: RequestContext = { ...ctx };
      if (s.auth.enabled()) {
        authorize(s, watch.policy.auth, undefined, c, undefined);
        c.watchPermission = watchPermission(s, c, undefined);
      }
      let unsubscribe: (() => void) | undefined;
      if (c.requireLeader === true) {
        if (!s.hasLeader()) {
          queueMicrotask(() => close(Errors.noLeader));
        } else unsubscribe = s.onLeaderLost(() => close(Errors.noLeader));
      }
      const ws = s.openWatchStream(send, c, close);
      return {
        create: (r) => ws.create(r),
        cancel: (id) => ws.cancel(id),
        progress: () => ws.progress(),
        close: () => {
          unsubscribe?.();
          ws.close();
        },
      };
    },
  };
  return new Proxy(s, {
    get(target, prop, receiver) {
      if (Object.prototype.hasOwnProperty.call(guarded, prop)) return guarded[prop as keyof EtcdServer];
      void receiver;
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
