// Transport-agnostic description of one RPC: its wire path, message schemas, the call into the
// server and its policy (who may call it, on which member, after which checks). The gRPC
// adapter and the JSON gateway both dispatch through these, via the request pipeline.
import type { DescMessage, DescMethod, Message, MessageShape } from "@bufbuild/protobuf";
import type { EtcdServer, RequestContext } from "../../server/types.ts";
import type { AuthRule } from "./auth-rules.ts";

/** Where a streaming handler writes responses; `end` finishes the RPC (error → status). */
export interface StreamSink {
  send(msg: Message): void;
  end(err?: unknown): void;
}

/** One open bidi stream, driven by the transport. */
export interface BidiHandler {
  /** A request message arrived. */
  message(req: Message): void;
  /** The client half-closed its side. */
  end(): void;
  /** The transport went away (client cancel, connection loss); release everything. */
  close(): void;
}

/**
 * The server as RPC implementations see it. Lock and Election call KV, Lease and Watch through
 * `inner`: the same server behind the same authorization rules, as etcd's v3lock and
 * v3election go through its client API with the caller's credentials.
 */
export interface CallScope {
  readonly server: EtcdServer;
  readonly inner: EtcdServer;
}

/** What the pipeline checks before calling (etcd's interceptors and v3rpc checks). */
export interface MethodPolicy<Req = Message> {
  /**
   * May a learner serve it (etcd 3.4 util.go isRPCSupportedForLearner: Status and serializable
   * Range; interceptor.go: of the streams only Snapshot)? Default: no.
   */
  readonly learner?: boolean | ((req: Req) => boolean);
  /** Request checks done before anything else (etcd v3rpc/key.go checkRangeRequest …). */
  readonly validate?: (req: Req, limits: { readonly maxTxnOps: number }) => void;
  /** Proposes through the log: refused while apply lags commit by > 5000 entries. */
  readonly proposes?: boolean;
  /** Who may call it; see auth-rules.ts. Every method states one. */
  readonly auth: AuthRule<Req>;
}

interface Base {
  /** `/<package>.<Service>/<Method>` */
  readonly path: string;
  readonly input: DescMessage;
  readonly output: DescMessage;
  readonly policy: MethodPolicy;
  /** The gRPC frame of a response, when the method has a faster encoder than the generic one. */
  readonly frame?: (msg: Message) => Uint8Array;
}

export interface UnaryMethod extends Base {
  readonly kind: "unary";
  /** Long waits (Lock, Campaign) need an abort signal; plain calls skip creating one. */
  readonly needsSignal: boolean;
  call(scope: CallScope, req: Message, ctx: RequestContext): Promise<Message>;
}

export interface ServerStreamMethod extends Base {
  readonly kind: "server_streaming";
  call(scope: CallScope, req: Message, ctx: RequestContext): AsyncIterable<Message>;
}

export interface BidiMethod extends Base {
  readonly kind: "bidi_streaming";
  open(server: EtcdServer, ctx: RequestContext, sink: StreamSink): BidiHandler;
}

export type RpcMethod = UnaryMethod | ServerStreamMethod | BidiMethod;

type Typed<M extends DescMethod> = M extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? { req: MessageShape<I>; res: MessageShape<O> }
  : never;

const pathOf = (m: DescMethod) => `/${m.parent.typeName}/${m.name}`;

export function unary<M extends DescMethod & { methodKind: "unary" }>(
  m: M,
  call: (server: EtcdServer, req: Typed<M>["req"], ctx: RequestContext, scope: CallScope) => Promise<Typed<M>["res"]>,
  policy: MethodPolicy<Typed<M>["req"]>,
  needsSignal = false,
): UnaryMethod {
  return {
    kind: "unary",
    path: pathOf(m),
    input: m.input,
    output: m.output,
    needsSignal,
    policy: policy as MethodPolicy,
    call: ((scope: CallScope, req: Typed<M>["req"], ctx: RequestContext) => call(scope.server, req, ctx, scope)) as UnaryMethod["call"],
  };
}

export function serverStream<M extends DescMethod & { methodKind: "server_streaming" }>(
  m: M,
  call: (server: EtcdServer, req: Typed<M>["req"], ctx: RequestContext, scope: CallScope) => AsyncIterable<Typed<M>["res"]>,
  policy: MethodPolicy<Typed<M>["req"]>,
): ServerStreamMethod {
  return {
    kind: "server_streaming",
    path: pathOf(m),
    input: m.input,
    output: m.output,
    policy: policy as MethodPolicy,
    call: ((scope: CallScope, req: Typed<M>["req"], ctx: RequestContext) => call(scope.server, req, ctx, scope)) as ServerStreamMethod["call"],
  };
}

export interface TypedSink<O> {
  send(msg: O): void;
  end(err?: unknown): void;
}
export interface TypedBidiHandler<I> {
  message(req: I): void;
  end(): void;
  close(): void;
}

export function bidi<M extends DescMethod & { methodKind: "bidi_streaming" }>(
  m: M,
  open: (server: EtcdServer, ctx: RequestContext, sink: TypedSink<Typed<M>["res"]>) => TypedBidiHandler<Typed<M>["req"]>,
  policy: MethodPolicy<Typed<M>["req"]>,
  frame?: (msg: Typed<M>["res"]) => Uint8Array,
): BidiMethod {
  return {
    kind: "bidi_streaming",
    path: pathOf(m),
    input: m.input,
    output: m.output,
    policy: policy as MethodPolicy,
    open: open as BidiMethod["open"],
    frame: frame as BidiMethod["frame"],
  };
}
