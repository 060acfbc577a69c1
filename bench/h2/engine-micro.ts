// In-process cost of the engine alone: a fake socket feeds batches of unary gRPC-style requests
// (HEADERS with incremental indexing like grpc-go, then DATA + END_STREAM) and the handler answers
// with HEADERS, one DATA frame and trailers. Prints microseconds per request.
//   bun bench/h2/engine-micro.ts [requests]
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { serveH2, CLIENT_PREFACE } from "../../src/api/h2/index.ts";

class NullSocket extends EventEmitter {
  bytes = 0;
  write(b: Uint8Array): boolean { this.bytes += b.length; return true; }
  end(): void {}
  destroy(): void {}
  setNoDelay(): void {}
}

function frame(type: number, flags: number, id: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(9 + payload.length);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type; h[4] = flags; h.writeUInt32BE(id, 5);
  h.set(payload, 9);
  return h;
}
function literalIndexed(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.of(0x40, name.length), Buffer.from(name), Buffer.of(value.length), Buffer.from(value)]);
}

const total = Number(process.argv[2] ?? 200000);
const batch = 10; // requests per socket read, as with 10 clients per connection
const sock = new NullSocket();
const response = new Uint8Array(5 + 30);
const headers = [[":status", "200"], ["content-type", "application/grpc"]] as const;
const trailers = [["grpc-status", "0"]] as const;
serveH2(sock as unknown as Socket, {
  onStream(s) {
    s.ondata = () => {};
    s.onend = () => { s.respond(headers); s.write(response); s.end(trailers); };
  },
});
// Open the peer's connection window wide, as grpc-go does, so responses never wait for it.
const update = Buffer.alloc(4);
update.writeUInt32BE(0x7fffffff - 65535);
sock.emit("data", Buffer.concat([Buffer.from(CLIENT_PREFACE), frame(4, 0, 0, new Uint8Array(0)), frame(8, 0, 0, update)]));
const fieldsFirst = Buffer.concat([Buffer.of(0x83, 0x86), literalIndexed(":path", "/etcdserverpb.KV/Put"), literalIndexed(":authority", "127.0.0.1:2379"), literalIndexed("content-type", "application/grpc"), literalIndexed("user-agent", "grpc-go/1.26.0"), literalIndexed("te", "trailers")]);
const fieldsNext = Buffer.of(0x83, 0x86, 0xc2, 0xc1, 0xc0, 0xbf, 0xbe);
const body = new Uint8Array(5 + 270);
let id = 1;
function chunk(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < batch; i++) {
    parts.push(frame(1, 4, id, id === 1 ? fieldsFirst : fieldsNext), frame(0, 1, id, body));
    id += 2;
  }
  return Buffer.concat(parts);
}
const chunks = Array.from({ length: total / batch }, chunk);
const t0 = performance.now();
for (const c of chunks) sock.emit("data", c);
await new Promise((r) => setImmediate(r));
const us = ((performance.now() - t0) * 1000) / total;
console.log(JSON.stringify({ requests: total, us_per_request: Number(us.toFixed(3)), out_bytes: sock.bytes }));
