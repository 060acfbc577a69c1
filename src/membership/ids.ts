// Member and cluster IDs computed exactly as etcd computes them (etcdserver/api/membership),
// so `member list` shows the same IDs for the same flags.
import { createHash } from "node:crypto";

function first8(digest: Uint8Array): bigint {
  let id = 0n;
  for (let i = 0; i < 8; i++) id = (id << 8n) | BigInt(digest[i]!);
  return id;
}

/**
 * ID of a member: SHA-1 over its sorted peer URLs, the cluster token and, for members added at
 * run time, the unix time in seconds; the first 8 bytes big-endian.
 */
export function computeMemberId(peerUrls: readonly string[], clusterToken: string, unixSeconds?: number): bigint {
  const h = createHash("sha1");
  h.update([...peerUrls].sort().join(""));
  h.update(clusterToken);
  if (unixSeconds !== undefined) h.update(String(unixSeconds));
  return first8(h.digest());
}

/** Cluster ID: SHA-1 over the members' IDs (sorted numerically) as 8-byte big-endian words. */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => buf.writeBigUInt64BE(id, 8 * i));
  return first8(createHash("sha1").update(buf).digest());
}

/** etcd prints IDs with %x (no padding) in most places. */
export const hexId = (id: bigint): string => id.toString(16);
