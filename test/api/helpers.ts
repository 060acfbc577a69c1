// Test helpers: a client port on a fake server, and a raw gRPC client on node:http2 that
// lets tests control framing byte by byte.
import * as http2 from "node:http2";
import { fromBinary, toBinary, type DescMessage, type Message, type MessageShape } from "@bufbuild/protobuf";
import { startClientServer, type ClientServer } from "../../src/api/index.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { FakeServer } from "./fake-server.ts";

export interface Harness {
  fake: FakeServer;
  srv: ClientServer;
  port: number;
  base: string;
  close(): Promise<void>;
}

export async function startHarness(fake = new FakeServer(), http2: "engine" | "node" = "engine"): Promise<Harness> {
  const srv = await startClientServer({ server: fake, listenUrls: [new URL("http://127.0.0.1:0")], logger: silentLogger, http2 });
  const port = Number(srv.addresses[0]!.port);
  return { fake, srv, port, base: `http://127.0.0.1:${port}`, close: () => srv.close() };
}

export function frame(msg: Uint8Array, flag = 0): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out[0] = flag;
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

export function frameOf<D extends DescMessage>(schema: D, msg: MessageShape<D>): Buffer {
  return frame(toBinary(schema, msg));
}

export interface GrpcResult {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  data: Buffer;
  /** The grpc-status, from trailers or (trailers-only) headers. */
  status: number;
  message: string;
}

export function splitFrames(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 5 <= data.length) {
    const len = data.readUInt32BE(off + 1);
    out.push(data.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return out;
}

export function decodeAll<D extends DescMessage>(schema: D, data: Buffer): MessageShape<D>[] {
  return splitFrames(data).map((b) => fromBinary(schema, b));
}

export class RawGrpc {
  readonly session: http2.ClientHttp2Session;
  constructor(port: number) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on("error", () => {});
  }

  /** Opens a call; the caller writes chunks and ends. */
  open(path: string, extra: Record<string, string> = {}): http2.ClientHttp2Stream {
    return this.session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...extra,
    });
  }

  /** Sends `chunks` as separate writes, ends, and collects the whole answer. */
  call(path: string, chunks: Buffer[], extra: Record<string, string> = {}): Promise<GrpcResult> {
    const req = this.open(path, extra);
    const done = collect(req);
    for (const c of chunks) req.write(c);
    req.end();
    return done;
  }

  close(): void {
    this.session.close();
  }
}

export function collect(req: http2.ClientHttp2Stream): Promise<GrpcResult> {
  return new Promise((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => (headers = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("close", () => {
      const src = trailers["grpc-status"] !== undefined ? trailers : headers;
      resolve({
        headers,
        trailers,
        data: Buffer.concat(chunks),
        status: Number(src["grpc-status"] ?? -1),
        message: decodeURIComponent(String(src["grpc-message"] ?? "")),
      });
    });
  });
}

/** Reads frames from an open stream as they arrive. */
export class FrameQueue<D extends DescMessage> {
  private buf = Buffer.alloc(0);
  private readonly items: Message[] = [];
  private waiters: ((m: MessageShape<D>) => void)[] = [];
  constructor(
    private readonly schema: D,
    stream: http2.ClientHttp2Stream,
  ) {
    stream.on("data", (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 5) {
        const len = this.buf.readUInt32BE(1);
        if (this.buf.length < 5 + len) break;
        const msg = fromBinary(this.schema, this.buf.subarray(5, 5 + len));
        this.buf = this.buf.subarray(5 + len);
        const w = this.waiters.shift();
        if (w) w(msg);
        else this.items.push(msg);
      }
    });
  }
  next(): Promise<MessageShape<D>> {
    const m = this.items.shift();
    if (m) return Promise.resolve(m as MessageShape<D>);
    return new Promise((r) => this.waiters.push(r));
  }
}
