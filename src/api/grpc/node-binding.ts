// GrpcCall on node:http2 server streams. Listeners are shared functions that find their
// call through a symbol on the stream: a unary request allocates no listener closures.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Pipeline } from "../pipeline/index.ts";
import type { StreamFlow } from "../../server/types.ts";
import { GrpcCall, type GrpcCallOptions, type GrpcPort } from "./call.ts";

const kCall = Symbol("grpcCall");
const kTrailers = Symbol("grpcTrailers");
type Stream = ServerHttp2Stream & { [kCall]?: GrpcCall; [kTrailers]?: OutgoingHttpHeaders };

const RESPONSE_HEADERS: OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc" };
const OK_TRAILERS: OutgoingHttpHeaders = { "grpc-status": "0" };
const WAIT_TRAILERS = { waitForTrailers: true } as const;
const END_STREAM = { endStream: true } as const;

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

class NodePort implements GrpcPort {
  readonly flow: StreamFlow;
  constructor(private readonly s: Stream) {
    this.flow = {
      get writable() {
        return !s.destroyed && !s.writableNeedDrain;
      },
      onWritable: (fn) => void s.on("drain", fn),
    };
  }
  get closed(): boolean {
    const s = this.s;
    return s.destroyed || s.closed || s.writableEnded;
  }
  get headersSent(): boolean {
    return this.s.headersSent;
  }
  sendHeaders(): void {
    this.s.respond(RESPONSE_HEADERS, WAIT_TRAILERS);
  }
  write(frame: Uint8Array): void {
    this.s.write(frame);
  }
  finishWith(frame: Uint8Array): void {
    const s = this.s;
    if (!s.headersSent) s.respond(RESPONSE_HEADERS, WAIT_TRAILERS);
    s.end(frame);
  }
  finish(code: number, message: string | undefined): void {
    const s = this.s;
    if (!s.headersSent) {
      const h: OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc", "grpc-status": String(code) };
      if (message !== undefined) h["grpc-message"] = message;
      s.respond(h, END_STREAM);
      stopClient(s);
      return;
    }
    if (code !== 0) {
      const t: OutgoingHttpHeaders = { "grpc-status": String(code) };
      if (message !== undefined) t["grpc-message"] = message;
      s[kTrailers] = t;
    }
    s.end();
  }
  refuse(): void {
    this.s.close(1); // NGHTTP2_PROTOCOL_ERROR
  }
  drained(): Promise<void> | null {
    const s = this.s;
    if (!s.writableNeedDrain) return null;
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
}

/**
 * Once the response is complete, a client still sending is told to stop with
 * RST_STREAM(NO_ERROR), as gRPC servers do; the frame follows the trailers.
 */
function stopClient(s: Stream): void {
  if (!s.readableEnded && !s.destroyed) s.close(0);
}

function onWantTrailers(this: Stream): void {
  this.sendTrailers(this[kTrailers] ?? OK_TRAILERS);
  stopClient(this);
}
function onData(this: Stream, chunk: Buffer): void {
  this[kCall]!.data(chunk);
}
function onEnd(this: Stream): void {
  this[kCall]!.finishRequest();
}
function onClose(this: Stream): void {
  this[kCall]!.closed();
}
function onStreamError(this: Stream): void {
  // Resets and aborted connections surface here; 'close' does the cleanup.
}

/** The `stream` listener for gRPC requests on a node:http2 server. */
export function createNodeGrpcHandler(
  pipeline: Pipeline,
  opts: GrpcCallOptions,
  commonName?: (stream: ServerHttp2Stream) => string | undefined,
): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void {
  return (stream: Stream, headers: IncomingHttpHeaders) => {
    stream.on("error", onStreamError);
    stream.on("wantTrailers", onWantTrailers);
    const call = GrpcCall.start(
      new NodePort(stream),
      {
        path: headers[":path"] ?? "",
        token: first(headers.token),
        authorization: first(headers.authorization),
        commonName: commonName === undefined ? undefined : () => commonName(stream),
        hasLeader: first(headers.hasleader),
        clientApiVersion: first(headers["client-api-version"]),
        encoding: first(headers["grpc-encoding"]),
        timeout: first(headers["grpc-timeout"]),
      },
      pipeline,
      opts,
    );
    if (call === null) {
      stream.resume();
      return;
    }
    stream[kCall] = call;
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("close", onClose);
  };
}
