// Helpers for the bbolt tests: in-memory images and random bucket contents.
import { BoltReader, type BucketSource, type KeyValuePair, writeBolt } from "../../src/bbolt/index.ts";
import { mulberry32 } from "../helpers/rng.ts";

/** The whole image of a writeBolt run in one buffer. */
export async function imageOf(buckets: BucketSource[], opts: { pageSize?: number; chunkSize?: number } = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of writeBolt(buckets, opts)) parts.push(c);
  return new Uint8Array(Buffer.concat(parts)); // a plain array: slice() copies
}

export function readerOf(image: Uint8Array): BoltReader {
  return BoltReader.open({ size: image.length, read: (pos, len) => image.slice(pos, pos + len) });
}

/** A bucket from pairs sorted here, handed out in batches of `batch`. */
export function bucket(name: string, pairs: KeyValuePair[], batch = 7): BucketSource {
  const sorted = [...pairs].sort((a, b) => Buffer.compare(a.key, b.key));
  const batches: KeyValuePair[][] = [];
  for (let i = 0; i < sorted.length; i += batch) batches.push(sorted.slice(i, i + batch));
  return {
    name: new TextEncoder().encode(name),
    sizes: () => batches.map((b) => b.flatMap((p) => [p.key.length, p.value.length])),
    entries: () => batches,
  };
}

/** Distinct random keys of 1..maxKey bytes with values of 0..maxValue bytes. */
export function randomPairs(seed: number, n: number, maxKey: number, maxValue: number): KeyValuePair[] {
  const rnd = mulberry32(seed);
  const seen = new Set<string>();
  const out: KeyValuePair[] = [];
  while (out.length < n) {
    const key = Buffer.alloc(1 + Math.floor(rnd() * maxKey));
    for (let i = 0; i < key.length; i++) key[i] = Math.floor(rnd() * 256);
    const hex = key.toString("hex");
    if (seen.has(hex)) continue;
    seen.add(hex);
    const value = Buffer.alloc(Math.floor(rnd() * (maxValue + 1)));
    for (let i = 0; i < value.length; i++) value[i] = Math.floor(rnd() * 256);
    out.push({ key, value });
  }
  return out;
}

/** Every bucket's entries as hex pairs, read back through the reader. */
export function dump(r: BoltReader): Record<string, [string, string][]> {
  const out: Record<string, [string, string][]> = {};
  for (const b of r.entries(r.root())) {
    const name = Buffer.from(b.key).toString("latin1");
    out[name] = [...r.entries(r.bucketOf(b.value, name))].map((e) => [Buffer.from(e.key).toString("hex"), Buffer.from(e.value).toString("hex")]);
  }
  return out;
}
