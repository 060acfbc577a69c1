// `etcdctl snapshot status`: what a snapshot file holds, computed as etcd 3.4 does
// (clientv3/snapshot v3Manager.Status): bbolt's consistency check first, then a CRC-32C
// (Castagnoli) over every top-level bucket's name and each of its keys and values in order,
// the main revision of the last entry of the `key` bucket, the number of entries of all
// buckets, and the database size (high water mark × page size). The trailer is not checked.
import { crc32c } from "../storage/index.ts";
import { asSnapshotError, SnapshotError, SnapshotErrors } from "./errors.ts";
import { Buckets } from "./etcd-layout.ts";
import { compare } from "../bbolt/index.ts";
import { SnapshotFile } from "./snapshot-file.ts";

/** etcdctl prints it as `%x, %d, %d, %s` (the size humanized) or as JSON with these names. */
export interface SnapshotStatus {
  readonly hash: number;
  readonly revision: number;
  readonly totalKey: number;
  readonly totalSize: number;
}

/** collectGarbage: as RestoreOptions.collectGarbage (a status reads every page of the file). */
export async function snapshotStatus(path: string, collectGarbage?: () => void): Promise<SnapshotStatus> {
  const f = SnapshotFile.open(path, "stat", collectGarbage);
  try {
    const r = f.bolt(true);
    const errors = r.check();
    if (errors.length > 0) throw SnapshotErrors.integrity(errors);
    let hash = 0;
    let revision = 0;
    let totalKey = 0;
    for (const b of r.entries(r.root())) {
      if (!b.isBucket) throw new SnapshotError(`cannot get hash of bucket ${new TextDecoder().decode(b.key)}`);
      hash = crc32c(b.key, hash);
      const isKey = compare(b.key, Buckets.key) === 0;
      for (const e of r.entries(r.bucketOf(b.value, e0(b.key)))) {
        hash = crc32c(e.value, crc32c(e.key, hash));
        if (isKey) {
          if (e.key.length < 8) throw new SnapshotError(`key bucket: entry of ${e.key.length} bytes is not a revision`);
          revision = Number(new DataView(e.key.buffer, e.key.byteOffset, 8).getBigInt64(0));
        }
        totalKey++;
      }
    }
    return { hash, revision, totalKey, totalSize: r.size };
  } catch (e) {
    throw asSnapshotError(e);
  } finally {
    f.close();
  }
}

function e0(name: Uint8Array): string {
  return `bucket ${new TextDecoder().decode(name)}`;
}
