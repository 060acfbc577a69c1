// Log entries carry an encoded InternalRaftRequest. The proposer finds its waiting caller by
// the request ID (field 1), which protobuf-es writes first; reading it directly avoids
// decoding every committed entry twice on the hot path.
import { create, toBinary } from "@bufbuild/protobuf";
import { type InternalRaftRequest, InternalRaftRequestSchema } from "../gen/internal_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";

export type RequestInit = MessageInitShape<typeof InternalRaftRequestSchema>;

export function encodeRequest(init: RequestInit): Uint8Array {
  return toBinary(InternalRaftRequestSchema, create(InternalRaftRequestSchema, init) as InternalRaftRequest);
}

/** The request ID of an encoded InternalRaftRequest, or 0n if it has none (leader no-op). */
export function peekRequestId(data: Uint8Array): bigint {
  if (data.length === 0 || data[0] !== 0x08) return 0n;
  let id = 0n;
  let shift = 0n;
  for (let i = 1; i < data.length && i < 11; i++) {
    const b = data[i]!;
    id |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return id;
    shift += 7n;
  }
  return 0n;
}
