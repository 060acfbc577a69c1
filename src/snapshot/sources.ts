// Bucket sources for the bbolt writer built from entries held in memory: the small buckets
// (meta, cluster, members, auth), whose size does not grow with the keyspace.
import { type BucketSource, compare, type KeyValuePair } from "../bbolt/index.ts";

/** A bucket of a few entries, given in any order (sorted here). */
export function listSource(name: Uint8Array, pairs: readonly KeyValuePair[]): BucketSource {
  const sorted = [...pairs].sort((a, b) => compare(a.key, b.key));
  return {
    name,
    sizes: () => [sorted.flatMap((p) => [p.key.length, p.value.length])],
    entries: () => [sorted],
  };
}

