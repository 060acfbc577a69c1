// Log entries carry an encoded InternalRaftRequest. The proposer finds its waiting caller by
// the request ID (field 1), which protobuf-es writes first; reading it directly avoids
// decoding every committed entry twice on the hot path.
import { create, toBinary } from "@bufbuild/protobuf";
import { type InternalRaftRequest, InternalRaftRequestSchema } from "../gen/internal_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";

export type RequestInit = MessageInitShape<typeof InternalRaftRequestSchema>;

/**
 * The message and its encoding. The proposer keeps the message so that its own entry is
 * applied without decoding the bytes again (the message is what the bytes decode to).
 */
export function buildRequest(init: RequestInit): { req: InternalRaftRequest; data: Uint8Array } {
  const req = create(InternalRaftRequestSchema, init) as InternalRaftRequest;
  return { req, data: toBinary(InternalRaftRequestSchema, req) };
}

/** The request ID of an encoded InternalRaftRequest, or 0n if it has none (leader no-op). */
export function peekRequestId(data: Uint8Array): bigint {
  if (data.length === 0 || data[0] !== 0x08) return 0n;
  // Seven bits per byte gathered in a Number (exact below 2^53), one BigInt at the end when
  // it fits, otherwise two: per-byte BigInt arithmetic allocated ~30 BigInts per entry.
  let lo = 0; // bits 0..48 (7 bytes)
  let hi = 0; // bits 49..63
  for (let i = 1; i < data.length && i < 11; i++) {
    const b = data[i]!;
    const shift = 7 * (i - 1);
    if (i <= 7) lo += (b & 0x7f) * 2 ** shift;
    else hi += (b & 0x7f) * 2 ** (shift - 49);
    if ((b & 0x80) === 0) return hi === 0 ? BigInt(lo) : (BigInt(hi) << 49n) | BigInt(lo);
  }
  return 0n;
}
