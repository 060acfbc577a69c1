// Benchmark server: answers etcd KV/Put and KV/Range with fixed responses over the h2 engine
// (default) or over node:http2 (`--node`), doing the same protobuf work either way.
//   bun bench/h2/kv-server.ts [--node] [port]
// Prints "listening <port>" once ready.

import * as net from "node:net";
import * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema, PutResponseSchema, RangeRequestSchema, RangeResponseSchema, ResponseHeaderSchema } from "../../src/gen/rpc_pb.ts";
import { serveH2, type H2Stream } from "../../src/api/h2/index.ts";

const useNode = process.argv.includes("--node");
const portArg = process.argv.slice(2).find((a) => /^\d+$/.test(a));
// int64 fields are bigint or number depending on the generator's jstype option.
const zero = create(ResponseHeaderSchema).revision;
const int64 = (n: number) => (typeof zero === "bigint" ? BigInt(n) : n) as typeof zero;
let rev = 1;
const bar = new TextEncoder().encode("bar");

function answer(path: string, body: Uint8Array): Uint8Array | null {
  const msg = body.subarray(5);
  let out: Uint8Array;
  if (path.endsWith("/Put")) {
    fromBinary(PutRequestSchema, msg);
    rev++;
    out = toBinary(PutResponseSchema, create(PutResponseSchema, { header: { clusterId: 1n, memberId: 2n, revision: int64(rev), raftTerm: int64(2) } }));
  } else if (path.endsWith("/Range")) {
    const req = fromBinary(RangeRequestSchema, msg);
    out = toBinary(RangeResponseSchema, create(RangeResponseSchema, {
      header: { clusterId: 1n, memberId: 2n, revision: int64(rev), raftTerm: int64(2) },
      kvs: [{ key: req.key, value: bar, createRevision: int64(2), modRevision: int64(2), version: int64(1) }],
      count: int64(1),
    }));
  } else {
    return null;
  }
  const framed = Buffer.allocUnsafe(5 + out.length);
  framed[0] = 0;
  framed.writeUInt32BE(out.length, 1);
  framed.set(out, 5);
  return framed;
}

const RESPONSE_HEADERS = [[":status", "200"], ["content-type", "application/grpc"]] as const;
const OK_TRAILERS = [["grpc-status", "0"]] as const;
const UNIMPLEMENTED = [[":status", "200"], ["content-type", "application/grpc"], ["grpc-status", "12"], ["grpc-message", "unimplemented"]] as const;

function onStream(s: H2Stream): void {
  const path = s.headers.get(":path") ?? "";
  let first: Uint8Array | null = null;
  let rest: Uint8Array[] | null = null;
  s.ondata = (c) => {
    if (first === null) first = c;
    else (rest ??= []).push(c);
  };
  s.onend = () => {
    const body = rest === null ? (first ?? new Uint8Array(0)) : Buffer.concat([first!, ...rest]);
    const out = answer(path, body);
    if (out === null) {
      s.respond(UNIMPLEMENTED, true);
      return;
    }
    s.respond(RESPONSE_HEADERS);
    s.write(out);
    s.end(OK_TRAILERS);
  };
}

function nodeServer(): http2.Http2Server {
  const h2 = http2.createServer({});
  h2.on("stream", (stream, headers) => {
    const path = headers[":path"] as string;
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const out = answer(path, Buffer.concat(chunks));
      if (out === null) {
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
        return;
      }
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(out);
    });
  });
  return h2;
}

const h2 = useNode ? nodeServer() : null;
const srv = net.createServer((sock) => {
  if (h2 !== null) h2.emit("connection", sock);
  else serveH2(sock, { onStream, onError: (e) => console.error("h2 error:", e) });
});
srv.listen(Number(portArg ?? 0), "127.0.0.1", () => {
  console.log(`listening ${(srv.address() as net.AddressInfo).port}`);
});
process.on("SIGINT", () => process.exit(0)); // lets --cpu-prof write its profile
