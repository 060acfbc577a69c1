// Maintenance.Snapshot's message stream: the etcd image of a consistent view in 32 KiB
// SnapshotResponse messages (remaining_bytes counting down), then one with the SHA-256, as
// etcd's server sends them. The view is closed when the stream ends or is abandoned.
//
// Streaming leaves several short-lived copies of every chunk outside the JS heap (message
// encoding, gRPC and HTTP/2 framing), where the runtime's heap governor does not see them: a
// full collection every GC_BYTES sent keeps the member's memory flat (docs/benchmarks.md).
import type { SnapshotResponse } from "../gen/rpc_pb.ts";
import type { StateReader } from "../storage/index.ts";
import { exportEtcdImage } from "./export-image.ts";

/** Bytes sent between two collections. */
const GC_BYTES = 4 << 20;

export async function* snapshotResponses(openView: () => Promise<StateReader>, collectGarbage?: () => void): AsyncGenerator<SnapshotResponse> {
  const view = await openView();
  try {
    const image = await exportEtcdImage(view);
    let sinceGc = 0;
    for await (const c of image.chunks()) {
      yield { $typeName: "etcdserverpb.SnapshotResponse", header: undefined, remainingBytes: BigInt(c.remaining), blob: c.blob };
      sinceGc += c.blob.length;
      if (sinceGc >= GC_BYTES && collectGarbage) {
        sinceGc = 0;
        collectGarbage();
      }
    }
  } finally {
    view.close();
  }
}
