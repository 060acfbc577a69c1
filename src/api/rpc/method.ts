// Transport-agnostic description of one RPC: its wire path, message schemas and the call
// into the server. The gRPC adapter and the JSON gateway both dispatch through these.
import type { DescMessage, DescMethod, Message, MessageShape } from "@bufbuild/protobuf";
import type { EtcdServer, RequestContext } from "../../server/types.ts";

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

interface Base {
  /** `/<package>.<Service>/<Method>` */
  readonly path: string;
  readonly input: DescMessage;
  readonly output: DescMessage;
}

export interface UnaryMethod extends Base {
  readonly kind: "unary";
  /** Long waits (Lock, Campaign) need an abort signal; plain calls skip creating one. */
  readonly needsSignal: boolean;
  call(server: EtcdServer, req: Message, ctx: RequestContext): Promise<Message>;
}

export interface ServerStreamMethod extends Base {
  readonly kind: "server_streaming";
  call(server: EtcdServer, req: Message, ctx: RequestContext): AsyncIterable<Message>;
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
  call: (server: EtcdServer, req: Typed<M>["req"], ctx: RequestContext) => Promise<Typed<M>["res"]>,
  needsSignal = false,
): UnaryMethod {
  return {
    kind: "unary",
    path: pathOf(m),
    input: m.input,
    output: m.output,
    needsSignal,
    call: call as UnaryMethod["call"],
  };
}

export function serverStream<M extends DescMethod & { methodKind: "server_streaming" }>(
  m: M,
  call: (server: EtcdServer, req: Typed<M>["req"], ctx: RequestContext) => AsyncIterable<Typed<M>["res"]>,
): ServerStreamMethod {
  return { kind: "server_streaming", path: pathOf(m), input: m.input, output: m.output, call: call as ServerStreamMethod["call"] };
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
): BidiMethod {
  return { kind: "bidi_streaming", path: pathOf(m), input: m.input, output: m.output, open: open as BidiMethod["open"] };
}
