// GrpcCall on the h2 engine's streams (src/api/h2): plain callback fields, no emitters.
import type { H2Stream } from "../h2/index.ts";
import type { StreamFlow } from "../../server/types.ts";
import type { Pipeline } from "../pipeline/index.ts";
import { GrpcCall, type GrpcCallOptions, type GrpcPort } from "./call.ts";

type Header = readonly [string, string];
const RESPONSE_HEADERS: readonly Header[] = [
  [":status", "200"],
  ["content-type", "application/grpc"],
];
const OK_TRAILERS: readonly Header[] = [["grpc-status", "0"]];

class EnginePort implements GrpcPort, StreamFlow {
  headersSent = false;
  /** StreamFlow users called back when the stream's output drains. */
  private watchers: (() => void)[] = [];

  constructor(private readonly s: H2Stream) {
    s.ondrain = () => {
      for (const fn of this.watchers) fn();
    };
  }
  get closed(): boolean {
    return this.s.closed;
  }
  get flow(): StreamFlow {
    return this;
  }
  get writable(): boolean {
    return this.s.writable;
  }
  onWritable(fn: () => void): void {
    this.watchers.push(fn);
  }
  sendHeaders(): void {
    this.headersSent = true;
    this.s.respond(RESPONSE_HEADERS);
  }
  write(frame: Uint8Array): void {
    this.s.write(frame);
  }
  finishWith(frame: Uint8Array): void {
    if (!this.headersSent) this.sendHeaders();
    this.s.write(frame);
    this.s.end(OK_TRAILERS);
  }
  finish(code: number, message: string | undefined): void {
    const status: Header[] = [["grpc-status", String(code)]];
    if (message !== undefined) status.push(["grpc-message", message]);
    if (!this.headersSent) {
      this.headersSent = true;
      this.s.respond([...RESPONSE_HEADERS, ...status], true);
      return;
    }
    this.s.end(code === 0 && message === undefined ? OK_TRAILERS : status);
  }
  /** Null while the stream takes more output; else resolves once it drained (or closed). */
  drained(): Promise<void> | null {
    return this.s.drained();
  }
  refuse(): void {
    this.s.reset(PROTOCOL_ERROR);
  }
}

/** RST_STREAM error code (RFC 9113 §7). */
const PROTOCOL_ERROR = 0x1;

/** The stream handler for gRPC requests on the h2 engine. */
export function createEngineGrpcHandler(pipeline: Pipeline, opts: GrpcCallOptions, commonName?: () => string | undefined): (s: H2Stream) => void {
  return (s: H2Stream) => {
    const h = s.headers;
    const port = new EnginePort(s);
    const call = GrpcCall.start(
      port,
      {
        path: h.get(":path") ?? "",
        token: h.get("token"),
        authorization: h.get("authorization"),
        commonName,
        hasLeader: h.get("hasleader"),
        clientApiVersion: h.get("client-api-version"),
        encoding: h.get("grpc-encoding"),
        timeout: h.get("grpc-timeout"),
      },
      pipeline,
      opts,
    );
    if (call === null) return;
    s.ondata = (chunk) => call.data(chunk);
    s.onend = () => call.finishRequest();
    s.onclose = () => call.closed();
  };
}
