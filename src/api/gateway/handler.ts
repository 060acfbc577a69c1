// The v3 JSON gateway: POST /v3/<route> with a JSON request, answered from the same RPC
// table as gRPC. Streaming routes answer with one `{"result":…}` line per message.
import type { Message } from "@bufbuild/protobuf";
import { Code, EtcdError } from "../../rpctypes/index.ts";
import { toStatus } from "../grpc/status.ts";
import { type CallMeta, type Pipeline, parseGatewayTimeout } from "../pipeline/index.ts";
import { header, readBody, type HttpExchange } from "../http/exchange.ts";
import type { BidiHandler, BidiMethod, RpcMethod, ServerStreamMethod, UnaryMethod } from "../rpc/method.ts";
import { rpcTable } from "../rpc/table.ts";
import { httpStatusFromCode, statusText } from "../../rpctypes/index.ts";
import { binarySize, decodeJson, parseStreamRequest, toJsonValue } from "./json-codec.ts";
import { JsonSplitter } from "./json-splitter.ts";
import { canonicalGatewayPath, gatewayRoutes } from "./routes.ts";

export interface GatewayOptions {
  /** Largest request message (max-request-bytes + 512 KiB), as gRPC enforces it. */
  readonly maxRecvBytes: number;
}

const JSON_HEADERS = { "content-type": "application/json" };
const UNARY_HEADERS = { "content-type": "application/json", "grpc-metadata-content-type": "application/grpc" };

/** The error body grpc-gateway writes for a failed unary call. */
export function writeGatewayError(ex: HttpExchange, err: unknown): void {
  if (ex.closed) return;
  const st = toStatus(err);
  ex.writeHead(httpStatusFromCode(st.code), JSON_HEADERS);
  ex.end(JSON.stringify({ error: st.message, message: st.message, code: st.code }));
}

/** A stream error line (after a 200 has been sent). */
function streamErrorLine(err: unknown): string {
  const st = toStatus(err);
  const http = httpStatusFromCode(st.code);
  return (
    JSON.stringify({
      error: { grpc_code: st.code, http_code: http, message: st.message, http_status: statusText(http) },
    }) + "\n"
  );
}

function tooLarge(n: number, max: number): EtcdError {
  return new EtcdError(Code.ResourceExhausted, `grpc: received message larger than max (${n} vs. ${max})`);
}

/**
 * The call's metadata as grpc-gateway forwards it: `Authorization` becomes metadata
 * `authorization`, `Grpc-Metadata-*` headers become metadata, `Grpc-Timeout` the call's
 * deadline (a malformed one throws InvalidArgument before the body is read, as grpc-gateway's
 * AnnotateContext does). A client certificate never names the user here (etcd ignores the CN
 * of gateway requests).
 */
function metaFor(ex: HttpExchange, withSignal: boolean, streaming = false): CallMeta {
  const timeoutMs = parseGatewayTimeout(header(ex, "grpc-timeout"));
  if (timeoutMs instanceof EtcdError) throw timeoutMs;
  let signal: AbortSignal | undefined;
  if (withSignal) {
    const ac = new AbortController();
    signal = ac.signal;
    ex.onClose(() => ac.abort());
  }
  return {
    token: header(ex, "grpc-metadata-token"),
    authorization: header(ex, "authorization"),
    hasLeader: header(ex, "grpc-metadata-hasleader"),
    clientApiVersion: header(ex, "grpc-metadata-client-api-version"),
    signal,
    timeoutMs,
    clientDeadline: true,
    // Streaming calls: the response's backpressure (see StreamFlow).
    flow: streaming ? { get writable() { return ex.writable; }, onWritable: (fn) => ex.onDrain(fn) } : undefined,
  };
}

/**
 * Waiting for a slow reader of a streamed answer: the function returned is null while `ex`
 * takes more output, else a promise that resolves once it drained (or closed). One drain
 * listener per exchange, however often it waits.
 */
function drainWaiter(ex: HttpExchange): () => Promise<void> | null {
  let wake: (() => void) | null = null;
  let listening = false;
  const fire = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  return () => {
    if (ex.closed || ex.writable) return null;
    if (!listening) {
      listening = true;
      ex.onDrain(fire);
      ex.onClose(fire);
    }
    return new Promise((resolve) => (wake = resolve));
  };
}

export class Gateway {
  constructor(
    private readonly pipeline: Pipeline,
    private readonly opts: GatewayOptions,
  ) {}

  /** True when `path` is a gateway route (after /v3beta → /v3). */
  route(path: string): RpcMethod | undefined {
    const grpcPath = gatewayRoutes.get(canonicalGatewayPath(path));
    return grpcPath === undefined ? undefined : rpcTable.get(grpcPath);
  }

  handle(ex: HttpExchange, method: RpcMethod): void {
    if (method.kind === "unary") void this.unary(ex, method);
    else if (method.kind === "server_streaming") void this.serverStream(ex, method);
    else this.bidi(ex, method);
  }

  private async readRequest(ex: HttpExchange, method: RpcMethod): Promise<Message> {
    const max = this.opts.maxRecvBytes;
    // JSON with base64 is larger than the protobuf it becomes; allow for that before parsing.
    const body = await readBody(ex, max * 2 + 1024);
    if (body === null) throw tooLarge(max * 2 + 1024, max);
    const req = decodeJson(method.input, body.toString("utf8"));
    if (body.length > max / 2) {
      const n = binarySize(method.input, req);
      if (n > max) throw tooLarge(n, max);
    }
    return req;
  }

  private async unary(ex: HttpExchange, method: UnaryMethod): Promise<void> {
    try {
      const meta = metaFor(ex, method.needsSignal);
      const req = await this.readRequest(ex, method);
      const res = await this.pipeline.unary(method, req, meta);
      if (ex.closed) return;
      const body = JSON.stringify(toJsonValue(method.output, res));
      ex.writeHead(200, UNARY_HEADERS);
      ex.end(body);
    } catch (err) {
      writeGatewayError(ex, err);
    }
  }

  private async serverStream(ex: HttpExchange, method: ServerStreamMethod): Promise<void> {
    let req: Message;
    let meta: CallMeta;
    try {
      meta = metaFor(ex, true, true);
      req = await this.readRequest(ex, method);
    } catch (err) {
      writeGatewayError(ex, err);
      return;
    }
    let started = false;
    const start = () => {
      if (!started) ex.writeHead(200, JSON_HEADERS);
      started = true;
    };
    // A Snapshot to a slow reader waits for it (as the gRPC pump does) instead of queueing.
    const drained = drainWaiter(ex);
    try {
      for await (const msg of this.pipeline.serverStream(method, req, meta)) {
        if (ex.closed) return;
        const line = JSON.stringify({ result: toJsonValue(method.output, msg) }) + "\n";
        start();
        ex.write(line);
        for (let w = drained(); w !== null; w = drained()) await w;
      }
      start();
      ex.end();
    } catch (err) {
      if (ex.closed) return;
      start();
      ex.end(streamErrorLine(err));
    }
  }

  private bidi(ex: HttpExchange, method: BidiMethod): void {
    let meta: CallMeta;
    try {
      meta = metaFor(ex, true, true);
    } catch (err) {
      ex.body.resume();
      writeGatewayError(ex, err);
      return;
    }
    let started = false;
    let finished = false;
    let received = 0;
    const start = () => {
      if (!started) ex.writeHead(200, JSON_HEADERS);
      started = true;
    };
    const sink = {
      // An encoding failure throws to the pipeline's sink, which ends the stream with it.
      send(msg: Message) {
        if (finished || ex.closed) return;
        const line = JSON.stringify({ result: toJsonValue(method.output, msg) }) + "\n";
        start();
        ex.write(line);
      },
      end(err?: unknown) {
        if (finished) return;
        finished = true;
        handler.close();
        if (ex.closed) return;
        start();
        if (err === undefined) ex.end();
        else ex.end(streamErrorLine(err));
      },
    };
    const handler: BidiHandler = this.pipeline.bidi(method, meta, sink);
    ex.onClose(() => {
      finished = true;
      handler.close();
    });
    const max = this.opts.maxRecvBytes;
    const splitter = new JsonSplitter(max * 2 + 1024, max);
    let sendClosed = false;
    const deliver = (text: string | Error): void => {
      if (sendClosed || finished) return;
      let req: Message;
      try {
        if (text instanceof Error) throw text;
        req = parseStreamRequest(method.input, text, max);
      } catch (err) {
        sendClosed = true;
        if (err instanceof EtcdError && err.code === Code.ResourceExhausted) {
          // Over the receive limit: etcd answers with the stream's error line (HTTP 429 if first).
          if (!started) {
            started = true;
            ex.writeHead(httpStatusFromCode(err.code), JSON_HEADERS);
          }
          sink.end(err);
          return;
        }
        // The first request failing to decode fails the call; later ones just end the input.
        if (received === 0 && !started) {
          finished = true;
          handler.close();
          // grpc-gateway ends the call with the decoder's plain error: gRPC's Unknown, HTTP 500.
          writeGatewayError(ex, err instanceof EtcdError && err.code === Code.InvalidArgument ? new EtcdError(Code.Unknown, err.message) : err);
        } else handler.end();
        return;
      }
      received++;
      handler.message(req);
    };
    ex.body.on("data", (chunk: Buffer) => {
      if (sendClosed || finished) return;
      let texts: string[];
      try {
        texts = splitter.push(chunk);
      } catch (err) {
        deliver(err as Error);
        return;
      }
      for (const text of texts) deliver(text);
    });
    ex.body.on("end", () => {
      const rest = splitter.rest();
      if (rest !== "") deliver(rest);
      if (!sendClosed && !finished) {
        sendClosed = true;
        handler.end();
      }
    });
  }
}
