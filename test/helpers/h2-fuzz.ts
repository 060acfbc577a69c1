// Seeded HTTP/2 input for fuzzing the client port: sequences of frames built from plausible
// ones (requests to real routes, settings, pings, window updates, resets, continuations) and
// then mutated (flags, stream ids, lengths, payload octets, truncation), cut into random chunks.
import { create, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema, RangeRequestSchema, WatchRequestSchema } from "../../src/gen/rpc_pb.ts";
import { block, frame, grpcHeaders, grpcMessage, T, u32 } from "./h2-raw.ts";

export type Rng = () => number;

const pick = <X>(r: Rng, xs: readonly X[]): X => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rng, n: number) => Math.floor(r() * n);

const ROUTES = ["/etcdserverpb.KV/Put", "/etcdserverpb.KV/Range", "/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive", "/etcdserverpb.KV/Nope", "/v3/kv/range", "/health"];

function body(r: Rng, route: string): Buffer {
  const te = new TextEncoder();
  if (route.startsWith("/v3/")) return Buffer.from(pick(r, ['{"key":"YQ=="}', '{"key":1.5}', "{", '{"key":"YQ==","limit":99999999999999999999}']));
  switch (int(r, 4)) {
    case 0:
      return grpcMessage(toBinary(PutRequestSchema, create(PutRequestSchema, { key: te.encode(`fuzz${int(r, 5)}`), value: new Uint8Array(int(r, 64)) })));
    case 1:
      return grpcMessage(toBinary(RangeRequestSchema, create(RangeRequestSchema, { key: te.encode("fuzz"), rangeEnd: te.encode("fuzz~") })));
    case 2:
      return grpcMessage(toBinary(WatchRequestSchema, create(WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: te.encode("fuzz") } } })));
    default:
      return Buffer.from(Array.from({ length: int(r, 40) }, () => int(r, 256)));
  }
}

/** One plausible frame for stream ids up to `maxId`. */
function plausible(r: Rng, maxId: number): Buffer {
  const id = 1 + 2 * int(r, maxId);
  const route = pick(r, ROUTES);
  switch (int(r, 14) % 11 === 10 && r() < 0.5 ? 0 : int(r, 14) % 11) {
    case 0: {
      const fields = route.startsWith("/etcd") ? grpcHeaders(route) : ([[":method", pick(r, ["GET", "POST"])], [":scheme", "http"], [":path", route], [":authority", "x"]] as Array<[string, string]>);
      if (r() < 0.2) fields.push(["x-junk", "v".repeat(int(r, 3000))]);
      const flags = pick(r, [4, 4, 5, 5, 5, 0, 0x24, 0x25]);
      // With PRIORITY the block follows 5 octets of priority fields.
      return frame(T.HEADERS, flags, id, flags & 0x20 ? Buffer.concat([Buffer.from([0, 0, 0, int(r, 4), 16]), block(fields)]) : block(fields));
    }
    case 1:
    case 2:
      return frame(T.DATA, pick(r, [0, 1, 8, 9]), id, body(r, route));
    case 3:
      return frame(T.CONTINUATION, pick(r, [0, 4]), id, block([["x-c", String(int(r, 1000))]]));
    case 4:
      return frame(T.SETTINGS, pick(r, [0, 0, 1]), 0, Buffer.concat(Array.from({ length: int(r, 4) }, () => Buffer.from([0, 1 + int(r, 7), int(r, 256), int(r, 256), int(r, 256), int(r, 256)]))));
    case 5:
      return frame(T.PING, pick(r, [0, 1]), 0, Buffer.alloc(8, int(r, 256)));
    case 6:
      return frame(T.WINDOW_UPDATE, 0, pick(r, [0, id]), u32(int(r, 2 ** 31)));
    case 7:
      return frame(T.RST_STREAM, 0, id, u32(int(r, 14)));
    case 8:
      return frame(T.PRIORITY, 0, id, Buffer.from([0, 0, 0, int(r, 9), int(r, 256)]));
    case 9:
      return frame(T.GOAWAY, 0, 0, Buffer.concat([u32(int(r, 100)), u32(int(r, 14))]));
    default:
      return frame(int(r, 256), int(r, 256), int(r, 2 * maxId), Buffer.alloc(int(r, 20), int(r, 256)));
  }
}

/** A frame, sometimes mutated: one flipped octet, a wrong length, a cut. */
function mutated(r: Rng, f: Buffer): Buffer {
  const x = Buffer.from(f);
  const roll = r();
  if (roll < 0.04 && x.length > 0) x[int(r, x.length)] = int(r, 256);
  else if (roll < 0.06) x.writeUIntBE(Math.max(0, x.length - 9 + int(r, 64) - 32), 0, 3);
  else if (roll < 0.07) return x.subarray(0, int(r, x.length + 1));
  return x;
}

/**
 * One fuzz case: the client preface and SETTINGS (usually), then 1-30 frames, as the chunks to
 * write. Seeded: the same rng state gives the same bytes.
 */
export function fuzzCase(r: Rng): Buffer[] {
  const parts: Buffer[] = [];
  if (r() < 0.95) parts.push(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  if (r() < 0.9) parts.push(frame(T.SETTINGS, 0, 0));
  const n = 1 + int(r, 30);
  const maxId = 1 + int(r, 6);
  for (let i = 0; i < n; i++) parts.push(mutated(r, plausible(r, maxId)));
  const all = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let o = 0; o < all.length; ) {
    const len = 1 + int(r, Math.min(all.length - o, r() < 0.5 ? 16 : 4096));
    chunks.push(all.subarray(o, o + len));
    o += len;
  }
  return chunks;
}
