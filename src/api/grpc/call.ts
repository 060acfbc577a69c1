// One gRPC call, independent of the HTTP/2 implementation underneath: decodes request
// frames, dispatches to the RPC table, and writes responses and the status through a
// GrpcPort. Bindings (node:http2, the h2 engine) feed it data/end/close events.
import { toBinary, type Message } from "@bufbuild/protobuf";
import { Code, isEtcdError } from "../../rpctypes/index.ts";
import type { StreamFlow } from "../../server/types.ts";
import { type CallMeta, type Pipeline, parseGrpcTimeout } from "../pipeline/index.ts";
import type { BidiHandler, RpcMethod, StreamSink } from "../rpc/method.ts";
import { rpcServices, rpcTable } from "../rpc/table.ts";
import { decodeRequest, encodeFrame, FrameReader } from "./framing.ts";
import { encodeGrpcMessage, grpcError, toStatus } from "./status.ts";

/** What a call needs from its HTTP/2 stream. */
export interface GrpcPort {
  /** True once the stream can take no more output (reset, closed, ended). */
  readonly closed: boolean;
  readonly headersSent: boolean;
  /** `:status 200`, `content-type: application/grpc`. */
  sendHeaders(): void;
  write(frame: Uint8Array): void;
  /** Unary success: headers (if not sent), the message and OK trailers together. */
  finishWith(frame: Uint8Array): void;
  /**
   * Ends the call with a status: trailers after data, or trailers-only when no headers went out.
   * `message` is already percent-encoded; `undefined` for OK.
   */
  finish(code: number, message: string | undefined): void;
  /** Resolves when buffered output has drained (or the stream closed). */
  drained(): Promise<void> | null;
  /** Resets the stream with PROTOCOL_ERROR (a malformed `grpc-timeout`, as grpc-go does). */
  refuse(): void;
  /** The stream's output backpressure, handed to streaming methods as ctx.flow. */
  readonly flow?: StreamFlow;
}

/** Request metadata the call reads. */
export interface GrpcRequestMeta {
  readonly path: string;
  readonly token: string | undefined;
  /** Metadata `authorization` (etcd reads it when `token` is absent). */
  readonly authorization?: string | undefined;
  readonly hasLeader: string | undefined;
  /** Metadata `client-api-version`. */
  readonly clientApiVersion?: string | undefined;
  readonly encoding: string | undefined;
  /** Metadata `grpc-timeout`: the call's deadline (see pipeline/deadline.ts). */
  readonly timeout?: string | undefined;
  /** The verified client certificate's CN, when the port requires client certificates. */
  readonly commonName?: (() => string | undefined) | undefined;
}

export interface GrpcCallOptions {
  /** Largest accepted request message (etcd: max-request-bytes + 512 KiB). */
  readonly maxRecvBytes: number;
}

function unknownRoute(path: string): Error {
  // grpc-go: "/pkg.Service/Method" → unknown service / unknown method for service.
  const p = path.startsWith("/") ? path.slice(1) : path;
  const i = p.lastIndexOf("/");
  if (i < 0) return grpcError(Code.Unimplemented, `malformed method name: ${JSON.stringify(path)}`);
  const service = p.slice(0, i);
  const method = p.slice(i + 1);
  if (!rpcServices.has(service)) return grpcError(Code.Unimplemented, `unknown service ${service}`);
  return grpcError(Code.Unimplemented, `unknown method ${method} for service ${service}`);
}


/** Ends `port` with the status of `err`. */
export function finishWithError(port: GrpcPort, err: unknown): void {
  if (port.closed) return;
  const st = toStatus(err);
  port.finish(st.code, encodeGrpcMessage(st.message));
}

export class GrpcCall implements StreamSink {
  private readonly reader: FrameReader;
  private readonly msgs: Uint8Array[] = [];
  done = false;
  private bidi: BidiHandler | null = null;
  private abort: AbortController | null = null;
  private readonly meta: CallMeta;

  private constructor(
    private readonly port: GrpcPort,
    private readonly method: RpcMethod,
    private readonly pipeline: Pipeline,
    meta: GrpcRequestMeta,
    maxRecv: number,
    timeoutMs: number | undefined,
  ) {
    this.reader = new FrameReader(maxRecv, meta.encoding);
    if (method.kind !== "unary" || method.needsSignal) this.abort = new AbortController();
    this.meta = {
      token: meta.token,
      authorization: meta.authorization,
      hasLeader: meta.hasLeader,
      clientApiVersion: meta.clientApiVersion,
      commonName: meta.commonName,
      signal: this.abort?.signal,
      // Before the answer, a closed stream is one the client reset or whose connection went.
      cancelled: () => port.closed,
      timeoutMs,
      // Streaming calls get their stream's output backpressure (the watch hub reads it).
      flow: method.kind !== "unary" ? port.flow : undefined,
    };
  }

  /** Starts a call; null when the route is unknown or the timeout malformed (the port has been answered). */
  static start(port: GrpcPort, meta: GrpcRequestMeta, pipeline: Pipeline, opts: GrpcCallOptions): GrpcCall | null {
    let timeoutMs: number | undefined;
    if (meta.timeout !== undefined) {
      timeoutMs = parseGrpcTimeout(meta.timeout);
      if (timeoutMs === undefined) {
        port.refuse();
        return null;
      }
    }
    const method = rpcTable.get(meta.path);
    if (method === undefined) {
      finishWithError(port, unknownRoute(meta.path));
      return null;
    }
    const call = new GrpcCall(port, method, pipeline, meta, opts.maxRecvBytes, timeoutMs);
    if (method.kind === "bidi_streaming") call.bidi = pipeline.bidi(method, call.meta, call);
    return call;
  }

  // StreamSink, used by streaming methods. An encoding failure throws to the pipeline's
  // sink, which ends the call with it.
  send(msg: Message): void {
    const p = this.port;
    if (this.done || p.closed) return;
    const frame = this.encode(msg);
    if (frame === undefined) return;
    if (!p.headersSent) p.sendHeaders();
    p.write(frame);
  }

  /**
   * The response as a gRPC frame, or undefined after ending the call with an Internal error:
   * a message that fails to encode ends its own call and nothing else (streaming sends run
   * inside the watch hub, unary answers in a promise callback).
   */
  private encode(msg: Message): Uint8Array | undefined {
    try {
      const f = this.method.frame;
      const frame = f !== undefined ? f(msg) : encodeFrame(toBinary(this.method.output, msg));
      // etcd's codec counts the marshalled message (the frame less its 5-byte prefix).
      this.pipeline.calls.sentBytes.value += frame.length - 5;
      return frame;
    } catch (err) {
      this.end(grpcError(Code.Internal, `grpc: error while marshaling: ${(err as Error)?.message ?? String(err)}`));
      return undefined;
    }
  }

  end(err?: unknown): void {
    if (this.done) return;
    this.done = true;
    const p = this.port;
    if (!p.closed) {
      if (err === undefined) p.finish(Code.OK, undefined);
      else finishWithError(p, err);
    }
    this.release();
  }

  private succeed(msg: Message): void {
    if (this.done) return;
    const frame = this.encode(msg);
    if (frame === undefined) return;
    this.done = true;
    if (!this.port.closed) this.port.finishWith(frame);
    this.release();
  }

  private release(): void {
    const b = this.bidi;
    this.bidi = null;
    b?.close();
    this.abort?.abort();
  }

  /** Request bytes arrived. */
  data(chunk: Uint8Array): void {
    if (this.done) return;
    try {
      this.reader.push(chunk, this.msgs);
    } catch (err) {
      this.end(err);
      return;
    }
    const bidi = this.bidi;
    if (bidi !== null) {
      const msgs = this.msgs.splice(0);
      for (const bytes of msgs) {
        this.pipeline.calls.receivedBytes.value += bytes.length;
        let req: Message;
        try {
          req = decodeRequest(this.method.input, bytes);
        } catch (err) {
          this.end(isEtcdError(err) ? err : grpcError(Code.Internal, `grpc: failed to unmarshal the received message: ${(err as Error).message}`));
          return;
        }
        bidi.message(req);
        if (this.done) return;
      }
    } else if (this.msgs.length > 1) {
      this.end(grpcError(Code.Internal, "grpc: client streaming protocol violation: get <nil>, want <EOF>"));
    }
  }

  /** The client half-closed. */
  finishRequest(): void {
    if (this.done) return;
    if (this.reader.partial) {
      this.end(grpcError(Code.Internal, "unexpected EOF"));
      return;
    }
    if (this.bidi !== null) {
      this.bidi.end();
      return;
    }
    // Run once the rest of this read has been handled: a stream the client resets in the same
    // read as its request (rapid reset, CVE-2023-44487) then costs no decode and no work at all.
    queueMicrotask(() => this.dispatch());
  }

  /** Decodes the request and runs a unary or server-streaming call. */
  private dispatch(): void {
    if (this.done || this.port.closed) return;
    const bytes = this.msgs[0];
    if (bytes === undefined) {
      this.end(grpcError(Code.Internal, "grpc: error unmarshalling request: EOF"));
      return;
    }
    this.pipeline.calls.receivedBytes.value += bytes.length;
    let req: Message;
    try {
      req = decodeRequest(this.method.input, bytes);
    } catch (err) {
      this.end(isEtcdError(err) ? err : grpcError(Code.Internal, `grpc: error unmarshalling request: ${(err as Error).message}`));
      return;
    }
    const m = this.method;
    if (m.kind === "unary") {
      this.pipeline.unary(m, req, this.meta).then(
        (res) => this.succeed(res),
        (err: unknown) => this.end(err),
      );
    } else if (m.kind === "server_streaming") {
      void this.pump(this.pipeline.serverStream(m, req, this.meta));
    }
  }

  /** The stream is gone (finished, reset, connection lost). */
  closed(): void {
    this.done = true;
    this.release();
  }

  private async pump(it: AsyncIterable<Message>): Promise<void> {
    const iter = it[Symbol.asyncIterator]();
    try {
      for (;;) {
        const r = await iter.next();
        if (r.done) break;
        if (this.done) {
          await iter.return?.();
          return;
        }
        try {
          this.send(r.value);
        } catch (err) {
          await iter.return?.();
          throw err;
        }
        const wait = this.port.drained();
        if (wait !== null) await wait;
      }
      this.end();
    } catch (err) {
      this.end(err);
    }
  }
}
