// Raw gRPC calls over node:http2 for end-to-end tests that need what etcdctl cannot send
// (nested Txns of any depth, many streams on one connection). Works against either target.
import * as http2 from "node:http2";
import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

export interface GrpcAnswer<O> {
  status: number;
  message: string;
  response: O | undefined;
}

/** Frames an already-encoded request. */
export function grpcFrame(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** One unary call with an encoded request on a new connection; the answer's status and message. */
export function grpcUnary<D extends DescMessage>(
  target: string,
  path: string,
  request: Uint8Array,
  output: D,
  timeoutMs = 10_000,
): Promise<GrpcAnswer<MessageShape<D>>> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(target);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`${path} not answered within ${timeoutMs} ms`));
    }, timeoutMs);
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => (headers = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", (e) => {
      clearTimeout(timer);
      session.destroy();
      reject(e);
    });
    req.on("close", () => {
      clearTimeout(timer);
      session.close();
      const src = trailers["grpc-status"] !== undefined ? trailers : headers;
      const data = Buffer.concat(chunks);
      const response = data.length >= 5 ? fromBinary(output, data.subarray(5, 5 + data.readUInt32BE(1)), { recursionLimit: 10_000 }) : undefined;
      resolve({ status: Number(src["grpc-status"] ?? -1), message: decodeURIComponent(String(src["grpc-message"] ?? "")), response });
    });
    req.end(grpcFrame(request));
  });
}
