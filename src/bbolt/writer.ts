// Writes a whole bbolt file as a stream of bytes, front to back, holding about one page per
// tree level plus one output chunk: the file can be sent over a socket as it is made.
//
// bbolt's meta pages come first in the file but name the root page and the page count, which
// are known only once every bucket is laid out. So the writer runs twice over the entries: a
// planning pass that sees sizes only and lays out every bucket, then the writing pass that
// produces the same layout with the bytes (asserted page for page).
//
// File layout: pages 0 and 1 are the metas, then each bucket's tree in the order given (small
// buckets inline, as bbolt keeps them), then the top-level bucket's tree, whose root is named
// in the metas. No freelist page: there are no free pages, and meta.freelist says so the way
// etcd's bbolt does (NoFreelistSync), which makes bbolt rebuild the empty list at open.
import { compare, latin1 } from "./bytes.ts";
import { BoltError } from "./errors.ts";
import { BUCKET_LEAF_FLAG, DEFAULT_PAGE_SIZE, encodeMeta, type Meta, NO_FREELIST, PAGE_HEADER_SIZE, PageFlag, writePageHeader } from "./format.ts";
import { bucketValue, bucketValueSize, type PageCounter, TreeBuilder, type TreeRoot } from "./tree-builder.ts";

/** One key/value pair of a bucket. */
export interface KeyValuePair {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * A top-level bucket. Both methods are called once per image, in the same consistent view,
 * and must describe the same entries in strictly ascending key order.
 */
export interface BucketSource {
  readonly name: Uint8Array;
  /** Planning pass: batches of [ksize, vsize, ksize, vsize, ...]. */
  sizes(): AsyncIterable<ArrayLike<number>> | Iterable<ArrayLike<number>>;
  /** Writing pass: batches of the entries themselves (a batch should stay around a MiB). */
  entries(): AsyncIterable<readonly KeyValuePair[]> | Iterable<readonly KeyValuePair[]>;
}

export interface BoltWriterOptions {
  pageSize?: number;
  /** Output chunk size in bytes (default 32 KiB, the chunk etcd sends a snapshot in). */
  chunkSize?: number;
  /** txid of the newer meta; the other meta gets txid - 1 (default 2). */
  txid?: number;
}

/** Where each bucket landed in the planning pass; the writing pass must agree. */
interface Plan {
  readonly roots: TreeRoot[];
  readonly rootTree: TreeRoot & { kind: "pages" };
  readonly pages: number;
}

/** A laid-out image: its size is known before the first byte is written. */
export interface BoltImage {
  readonly pages: number;
  /** Bytes of the whole image (pages × page size). */
  readonly size: number;
  /** The image in chunks of chunkSize bytes (the last may be shorter); call once. */
  chunks(): AsyncGenerator<Uint8Array>;
}

/** Runs the planning pass over the buckets (sorted by name, unique) and returns the image. */
export async function planBolt(buckets: readonly BucketSource[], opts: BoltWriterOptions = {}): Promise<BoltImage> {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  const names = buckets.map((b) => b.name);
  for (let i = 1; i < names.length; i++) {
    if (compare(names[i - 1]!, names[i]!) >= 0) throw new BoltError("bbolt writer: bucket names must be unique and sorted");
  }
  const plan = await planImage(buckets, pageSize);
  return { pages: plan.pages, size: plan.pages * pageSize, chunks: () => writeImage(buckets, plan, pageSize, opts) };
}

/** planBolt, then every chunk. */
export async function* writeBolt(buckets: readonly BucketSource[], opts: BoltWriterOptions = {}): AsyncGenerator<Uint8Array> {
  yield* (await planBolt(buckets, opts)).chunks();
}

async function* writeImage(buckets: readonly BucketSource[], plan: Plan, pageSize: number, opts: BoltWriterOptions): AsyncGenerator<Uint8Array> {
  const chunkSize = opts.chunkSize ?? 32 * 1024;
  const txid = opts.txid ?? 2;
  const names = buckets.map((b) => b.name);
  const out = new Chunker(chunkSize);
  const meta: Meta = { pageSize, flags: 0, root: plan.rootTree.root, sequence: 0n, freelist: NO_FREELIST, pgid: plan.pages, txid };
  out.push(metaPage(0, { ...meta, txid: txid - 1 }, pageSize));
  out.push(metaPage(1, meta, pageSize));
  yield* out.take();

  const counter: PageCounter = { next: 2 };
  const sink = (bytes: number, fill: (buf: Uint8Array, off: number) => void) => out.page(bytes, fill);
  const roots: TreeRoot[] = [];
  for (let i = 0; i < buckets.length; i++) {
    const t = new TreeBuilder(pageSize, counter, sink, pageSize / 4);
    for await (const batch of buckets[i]!.entries()) {
      for (const e of batch) t.add(e.key, e.value);
      yield* out.take();
    }
    const r = t.finish();
    const planned = plan.roots[i]!;
    if (r.kind !== planned.kind || (r.kind === "pages" && planned.kind === "pages" && (r.root !== planned.root || r.pages !== planned.pages))) {
      throw new BoltError(`bbolt writer: bucket ${latin1(names[i]!)} changed between the planning and the writing pass`);
    }
    roots.push(r);
    yield* out.take();
  }
  const top = new TreeBuilder(pageSize, counter, sink, 0);
  for (let i = 0; i < buckets.length; i++) top.add(names[i]!, bucketValue(roots[i]!), BUCKET_LEAF_FLAG);
  const r = top.finish();
  if (r.kind !== "pages" || r.root !== plan.rootTree.root || counter.next !== plan.pages) {
    throw new BoltError("bbolt writer: layout changed between the planning and the writing pass");
  }
  yield* out.end();
}

async function planImage(buckets: readonly BucketSource[], pageSize: number): Promise<Plan> {
  const counter: PageCounter = { next: 2 };
  const roots: TreeRoot[] = [];
  for (const b of buckets) {
    const t = new TreeBuilder(pageSize, counter, undefined, pageSize / 4);
    for await (const batch of b.sizes()) {
      if (batch.length % 2 !== 0) throw new BoltError("bbolt writer: sizes come in pairs");
      for (let i = 0; i < batch.length; i += 2) t.addSize(batch[i]!, batch[i + 1]!);
    }
    roots.push(t.finish());
  }
  const top = new TreeBuilder(pageSize, counter, undefined, 0);
  for (let i = 0; i < buckets.length; i++) top.addSize(buckets[i]!.name.length, bucketValueSize(roots[i]!), BUCKET_LEAF_FLAG);
  const rootTree = top.finish();
  if (rootTree.kind !== "pages") throw new BoltError("bbolt writer: the top-level bucket must have pages");
  return { roots, rootTree, pages: counter.next };
}

function metaPage(id: number, m: Meta, pageSize: number): Uint8Array {
  const p = new Uint8Array(pageSize);
  writePageHeader(p, 0, { id, flags: PageFlag.meta, count: 0, overflow: 0 });
  p.set(encodeMeta(m), PAGE_HEADER_SIZE);
  return p;
}

/** Gathers pages into fixed-size chunks. */
class Chunker {
  private buf: Uint8Array;
  private used = 0;
  private ready: Uint8Array[] = [];

  constructor(private readonly size: number) {
    this.buf = new Uint8Array(size);
  }

  /** A page written in place when it fits the current chunk (the usual case). */
  page(bytes: number, fill: (buf: Uint8Array, off: number) => void): void {
    if (this.used + bytes <= this.size) {
      fill(this.buf, this.used);
      this.used += bytes;
      if (this.used === this.size) this.rotate();
      return;
    }
    const tmp = new Uint8Array(bytes);
    fill(tmp, 0);
    this.push(tmp);
  }

  push(p: Uint8Array): void {
    let off = 0;
    while (off < p.length) {
      const n = Math.min(this.size - this.used, p.length - off);
      this.buf.set(p.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === this.size) this.rotate();
    }
  }

  private rotate(): void {
    this.ready.push(this.buf);
    this.buf = new Uint8Array(this.size);
    this.used = 0;
  }

  *take(): Generator<Uint8Array> {
    const r = this.ready;
    this.ready = [];
    yield* r;
  }

  *end(): Generator<Uint8Array> {
    yield* this.take();
    if (this.used > 0) yield this.buf.subarray(0, this.used);
    this.used = 0;
  }
}


