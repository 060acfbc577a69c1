// gRPC over node:http2 streams, hand-rolled: route by `:path`, decode length-prefixed
// protobuf frames, call the RPC table, answer with `:status 200` + trailers. Listeners are
// shared functions that find their call through a symbol on the stream, so a unary request
// allocates one small object and no listener closures.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import { Code } from "../../server/errors.ts";
import type { Logger } from "../../server/logger.ts";
import type { EtcdServer, RequestContext } from "../../server/types.ts";
import type { BidiHandler, RpcMethod, StreamSink } from "../rpc/method.ts";
import { rpcServices, rpcTable } from "../rpc/table.ts";
import { encodeFrame, FrameReader } from "./framing.ts";
import { encodeGrpcMessage, grpcError, toStatus } from "./status.ts";

export interface GrpcHandlerOptions {
  /** Largest accepted request message (etcd: max-request-bytes + 512 KiB). */
  readonly maxRecvBytes: number;
  readonly logger: Logger;
}

const kCall = Symbol("grpcCall");
type Stream = ServerHttp2Stream & { [kCall]?: GrpcCall };

const RESPONSE_HEADERS: OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc" };
const OK_TRAILERS: OutgoingHttpHeaders = { "grpc-status": "0" };
const WAIT_TRAILERS = { waitForTrailers: true } as const;
const END_STREAM = { endStream: true } as const;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Answers with no data: status and message in the only HEADERS frame (trailers-only). */
export function respondError(stream: ServerHttp2Stream, err: unknown): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const st = toStatus(err);
  stream.respond(
    {
      ":status": 200,
      "content-type": "application/grpc",
      "grpc-status": String(st.code),
      "grpc-message": encodeGrpcMessage(st.message),
    },
    END_STREAM,
  );
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

class GrpcCall implements StreamSink {
  readonly reader: FrameReader;
  readonly msgs: Uint8Array[] = [];
  done = false;
  trailers: OutgoingHttpHeaders = OK_TRAILERS;
  bidi: BidiHandler | null = null;
  abort: AbortController | null = null;

  constructor(
    readonly stream: Stream,
    readonly method: RpcMethod,
    readonly server: EtcdServer,
    readonly ctx: RequestContext,
    maxRecv: number,
    encoding: string | undefined,
  ) {
    this.reader = new FrameReader(maxRecv, encoding);
  }

  send(msg: Message): void {
    if (this.done) return;
    const s = this.stream;
    if (s.destroyed || s.closed) return;
    if (!s.headersSent) s.respond(RESPONSE_HEADERS, WAIT_TRAILERS);
    s.write(encodeFrame(toBinary(this.method.output, msg)));
  }

  end(err?: unknown): void {
    if (this.done) return;
    this.done = true;
    const s = this.stream;
    if (!(s.destroyed || s.closed)) {
      if (err === undefined) {
        if (!s.headersSent) s.respond(RESPONSE_HEADERS, WAIT_TRAILERS);
        s.end();
      } else if (!s.headersSent) {
        respondError(s, err);
      } else {
        const st = toStatus(err);
        this.trailers = { "grpc-status": String(st.code), "grpc-message": encodeGrpcMessage(st.message) };
        s.end();
      }
    }
    this.release();
  }

  /** Unary success: headers, the one message and trailers written together. */
  finish(msg: Message): void {
    if (this.done) return;
    this.done = true;
    const s = this.stream;
    if (s.destroyed || s.closed) return this.release();
    const frame = encodeFrame(toBinary(this.method.output, msg));
    s.respond(RESPONSE_HEADERS, WAIT_TRAILERS);
    s.end(frame);
    this.release();
  }

  release(): void {
    const b = this.bidi;
    this.bidi = null;
    b?.close();
    this.abort?.abort();
  }
}

function onWantTrailers(this: Stream): void {
  const call = this[kCall];
  this.sendTrailers(call ? call.trailers : OK_TRAILERS);
}

function onData(this: Stream, chunk: Buffer): void {
  const call = this[kCall]!;
  if (call.done) return;
  try {
    call.reader.push(chunk, call.msgs);
  } catch (err) {
    call.end(err);
    return;
  }
  if (call.bidi !== null) {
    const msgs = call.msgs.splice(0);
    for (const bytes of msgs) {
      let req: Message;
      try {
        req = fromBinary(call.method.input, bytes);
      } catch (err) {
        call.end(grpcError(Code.Internal, `grpc: failed to unmarshal the received message: ${(err as Error).message}`));
        return;
      }
      call.bidi.message(req);
      if (call.done) return;
    }
  } else if (call.msgs.length > 1) {
    call.end(grpcError(Code.Internal, "grpc: client streaming protocol violation: get <nil>, want <EOF>"));
  }
}

function onEnd(this: Stream): void {
  const call = this[kCall]!;
  if (call.done) return;
  if (call.reader.partial) {
    call.end(grpcError(Code.Internal, "unexpected EOF"));
    return;
  }
  if (call.bidi !== null) {
    call.bidi.end();
    return;
  }
  const bytes = call.msgs[0];
  if (bytes === undefined) {
    call.end(grpcError(Code.Internal, "grpc: error unmarshalling request: EOF"));
    return;
  }
  let req: Message;
  try {
    req = fromBinary(call.method.input, bytes);
  } catch (err) {
    call.end(grpcError(Code.Internal, `grpc: error unmarshalling request: ${(err as Error).message}`));
    return;
  }
  const m = call.method;
  if (m.kind === "unary") {
    let p: Promise<Message>;
    try {
      p = m.call(call.server, req, call.ctx);
    } catch (err) {
      call.end(err);
      return;
    }
    p.then(
      (res) => call.finish(res),
      (err) => call.end(err),
    );
  } else if (m.kind === "server_streaming") {
    void pump(call, m.call(call.server, req, call.ctx));
  }
}

function onClose(this: Stream): void {
  const call = this[kCall];
  if (call === undefined) return;
  call.done = true;
  call.release();
}

function onStreamError(this: Stream): void {
  // Resets and aborted connections surface here; 'close' does the cleanup.
}

function waitDrain(s: ServerHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off("drain", done);
      s.off("close", done);
      resolve();
    };
    s.on("drain", done);
    s.on("close", done);
  });
}

async function pump(call: GrpcCall, it: AsyncIterable<Message>): Promise<void> {
  const iter = it[Symbol.asyncIterator]();
  try {
    for (;;) {
      const r = await iter.next();
      if (r.done) break;
      if (call.done) {
        await iter.return?.();
        return;
      }
      call.send(r.value);
      if (call.stream.writableNeedDrain) await waitDrain(call.stream);
    }
    call.end();
  } catch (err) {
    call.end(err);
  }
}

/** Builds the `stream` listener for gRPC requests (content-type application/grpc*). */
export function createGrpcHandler(
  server: EtcdServer,
  opts: GrpcHandlerOptions,
): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void {
  const maxRecv = opts.maxRecvBytes;
  return (stream: Stream, headers: IncomingHttpHeaders) => {
    stream.on("error", onStreamError);
    const path = headers[":path"] ?? "";
    const method = rpcTable.get(path);
    if (method === undefined) {
      respondError(stream, unknownRoute(path));
      stream.resume();
      return;
    }
    const ctx: RequestContext = {};
    const token = first(headers.token);
    if (token !== undefined) ctx.token = token;
    if (first(headers.hasleader) === "true") ctx.requireLeader = true;
    const call = new GrpcCall(stream, method, server, ctx, maxRecv, first(headers["grpc-encoding"]));
    if (method.kind !== "unary" || method.needsSignal) {
      call.abort = new AbortController();
      ctx.signal = call.abort.signal;
    }
    stream[kCall] = call;
    stream.on("wantTrailers", onWantTrailers);
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("close", onClose);
    if (method.kind === "bidi_streaming") {
      try {
        call.bidi = method.open(server, ctx, call);
      } catch (err) {
        call.end(err);
      }
    }
  };
}
