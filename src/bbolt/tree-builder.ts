// Builds one bucket's B+tree bottom-up from entries given in key order (bulk loading): leaf
// pages are filled and written out as soon as they are full, and each finished page hands its
// first key and page id to the level above, which does the same. Only the page being filled at
// each level is held, so memory is one page per level whatever the bucket's size.
//
// Pages get their ids in the order they are finished, from a counter shared by the whole file,
// so they can be written out sequentially. The same builder runs twice over the same entries:
// once with sizes only (planning: how many pages, which is the root) and once with the bytes
// (writing), and both runs make identical decisions because they depend on sizes alone.
//
// Entry bytes are copied in when added (the caller may reuse its buffers at once), and each
// finished page is written straight into the sink's output buffer: a snapshot of any size
// allocates next to nothing per page.
import { compare } from "./bytes.ts";
import { BoltError } from "./errors.ts";
import {
  BRANCH_ELEMENT_SIZE,
  BUCKET_HEADER_SIZE,
  LEAF_ELEMENT_SIZE,
  PAGE_HEADER_SIZE,
  PageFlag,
  writePageHeader,
  writeU32,
  writeU64,
} from "./format.ts";

/** Hands out page ids in file order. */
export interface PageCounter {
  next: number;
}

/** Takes each finished page: `fill` writes its `bytes` bytes (whole pages) at buf[off...]. */
export type PageSink = (bytes: number, fill: (buf: Uint8Array, off: number) => void) => void;

/** What a finished tree is. */
export type TreeRoot =
  /** A page tree rooted at `root` (`pages` pages written, overflow included). */
  | { readonly kind: "pages"; readonly root: number; readonly pages: number }
  /** Small enough to live inline in the parent's leaf value: its page body (write pass only). */
  | { readonly kind: "inline"; readonly size: number; readonly page: Uint8Array | undefined };

/**
 * The page being filled at one level. Per element, `meta` holds [flags, ksize, vsize] for a
 * leaf and [ksize, pgid] for a branch; `data` holds the keys (and values) back to back.
 */
class Level {
  n = 0;
  size = PAGE_HEADER_SIZE;
  /** Pages this level has finished. */
  finished = 0;
  firstKsize = 0;
  hasBucket = false;
  meta: number[] = [];
  data: Uint8Array;
  dataLen = 0;

  constructor(
    readonly leaf: boolean,
    write: boolean,
    pageSize: number,
  ) {
    this.data = new Uint8Array(write ? pageSize : 0);
  }

  append(b: Uint8Array): void {
    const need = this.dataLen + b.length;
    if (need > this.data.length) {
      const grown = new Uint8Array(Math.max(need, 2 * this.data.length));
      grown.set(this.data.subarray(0, this.dataLen));
      this.data = grown;
    }
    this.data.set(b, this.dataLen);
    this.dataLen = need;
  }

  reset(pageSize: number): void {
    this.n = 0;
    this.size = PAGE_HEADER_SIZE;
    this.meta.length = 0;
    this.dataLen = 0;
    this.hasBucket = false;
    // A lone huge entry grew the scratch: give that memory back.
    if (this.data.length > 4 * pageSize) this.data = new Uint8Array(pageSize);
  }
}

export class TreeBuilder {
  private readonly levels: Level[] = [];
  private readonly write: boolean;
  private pagesWritten = 0;
  private prevKey: Uint8Array | undefined;
  private done = false;

  /**
   * @param sink undefined in the planning pass (sizes only, nothing written)
   * @param inlineLimit largest inline bucket (bbolt: pageSize / 4); 0 = never inline
   */
  constructor(
    private readonly pageSize: number,
    private readonly counter: PageCounter,
    private readonly sink: PageSink | undefined,
    private readonly inlineLimit: number,
  ) {
    this.write = sink !== undefined;
  }

  /** Planning pass: an entry of these sizes. */
  addSize(ksize: number, vsize: number, flags = 0): void {
    this.pushLeaf(ksize, vsize, flags, undefined, undefined);
  }

  /** Writing pass: an entry (copied); keys must be strictly ascending. */
  add(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const p = this.prevKey;
    if (p !== undefined && compare(p, key) >= 0) throw new BoltError("bbolt writer: keys not in ascending order");
    this.pushLeaf(key.length, value.length, flags, key, value);
    // The last key, kept in the leaf's scratch (the caller's buffer may be reused).
    const lv = this.levels[0]!;
    this.prevKey = lv.data.subarray(lv.dataLen - value.length - key.length, lv.dataLen - value.length);
  }

  /** Writes out the pages still being filled and says where the tree's root is. */
  finish(): TreeRoot {
    if (this.done) throw new BoltError("bbolt writer: tree finished twice");
    this.done = true;
    const leaf = this.level(0);
    if (this.levels.length === 1 && leaf.finished === 0 && leaf.size <= this.inlineLimit && !leaf.hasBucket) {
      let page: Uint8Array | undefined;
      if (this.write) {
        page = new Uint8Array(leaf.size);
        this.encode(leaf, 0, page, 0);
      }
      return { kind: "inline", size: leaf.size, page };
    }
    for (let l = 0; ; l++) {
      const lv = this.levels[l]!;
      if (l === this.levels.length - 1 && lv.finished === 0) {
        // The only page of the highest level: the root (an empty bucket is one empty leaf).
        const root = this.counter.next;
        this.flush(l);
        return { kind: "pages", root, pages: this.pagesWritten };
      }
      if (lv.n > 0) this.flush(l);
    }
  }

  private level(l: number): Level {
    let lv = this.levels[l];
    if (lv === undefined) {
      lv = new Level(l === 0, this.write, this.pageSize);
      this.levels[l] = lv;
    }
    return lv;
  }

  private pushLeaf(ksize: number, vsize: number, flags: number, key: Uint8Array | undefined, value: Uint8Array | undefined): void {
    const lv = this.level(0);
    const elem = LEAF_ELEMENT_SIZE + ksize + vsize;
    // A full page is finished before the entry that does not fit; a lone big entry overflows.
    if (lv.n > 0 && lv.size + elem > this.pageSize) this.flush(0);
    if (lv.n === 0) lv.firstKsize = ksize;
    lv.n++;
    lv.size += elem;
    if (flags !== 0) lv.hasBucket = true;
    if (this.write) {
      lv.meta.push(flags, ksize, vsize);
      lv.append(key!);
      lv.append(value!);
    }
  }

  private pushBranch(l: number, ksize: number, pgid: number, key: Uint8Array | undefined): void {
    const lv = this.level(l);
    const elem = BRANCH_ELEMENT_SIZE + ksize;
    if (lv.n > 0 && lv.size + elem > this.pageSize) this.flush(l);
    if (lv.n === 0) lv.firstKsize = ksize;
    lv.n++;
    lv.size += elem;
    if (this.write) {
      lv.meta.push(ksize, pgid);
      lv.append(key!);
    }
  }

  /** Finishes level l's page: gives it the next id, writes it, tells the level above. */
  private flush(l: number): void {
    const lv = this.levels[l]!;
    if (lv.n > 0xffff) throw new BoltError(`bbolt writer: ${lv.n} elements in one page`);
    const id = this.counter.next;
    const pages = Math.max(1, Math.ceil(lv.size / this.pageSize));
    this.counter.next += pages;
    this.pagesWritten += pages;
    this.sink?.(pages * this.pageSize, (buf, off) => this.encode(lv, id, buf, off, pages));
    const firstKsize = lv.firstKsize;
    // bbolt's branch element key is the first key of the child page (copied: scratch is reused).
    const firstKey = this.write ? lv.data.slice(0, firstKsize) : undefined;
    lv.reset(this.pageSize);
    lv.finished++;
    if (this.done && l === this.levels.length - 1 && lv.finished === 1) return; // that was the root
    this.pushBranch(l + 1, firstKsize, id, firstKey);
  }

  /** Writes the level's page at buf[off...]: header, element table, data (pages 0 = inline). */
  private encode(lv: Level, id: number, buf: Uint8Array, off: number, pages = 0): void {
    const n = lv.n;
    buf.fill(0, off, off + (pages === 0 ? lv.size : pages * this.pageSize));
    writePageHeader(buf, off, { id, flags: lv.leaf ? PageFlag.leaf : PageFlag.branch, count: n, overflow: Math.max(0, pages - 1) });
    const esize = lv.leaf ? LEAF_ELEMENT_SIZE : BRANCH_ELEMENT_SIZE;
    const dataStart = PAGE_HEADER_SIZE + n * esize;
    let pos = dataStart;
    const m = lv.meta;
    for (let i = 0; i < n; i++) {
      const e = off + PAGE_HEADER_SIZE + i * esize;
      const rel = pos - (e - off);
      if (lv.leaf) {
        const ksize = m[3 * i + 1]!;
        const vsize = m[3 * i + 2]!;
        writeU32(buf, e, m[3 * i]!);
        writeU32(buf, e + 4, rel);
        writeU32(buf, e + 8, ksize);
        writeU32(buf, e + 12, vsize);
        pos += ksize + vsize;
      } else {
        const ksize = m[2 * i]!;
        writeU32(buf, e, rel);
        writeU32(buf, e + 4, ksize);
        writeU64(buf, e + 8, m[2 * i + 1]!);
        pos += ksize;
      }
    }
    buf.set(lv.data.subarray(0, lv.dataLen), off + dataStart);
  }
}

/** A bucket's value in its parent's leaf: the bucket header, then the inline page if any. */
export function bucketValue(root: TreeRoot): Uint8Array {
  if (root.kind === "pages") {
    const v = new Uint8Array(BUCKET_HEADER_SIZE);
    writeU64(v, 0, root.root);
    return v;
  }
  if (root.page === undefined) throw new BoltError("bbolt writer: inline bucket without its page");
  const v = new Uint8Array(BUCKET_HEADER_SIZE + root.page.length);
  v.set(root.page, BUCKET_HEADER_SIZE);
  return v;
}

/** Size of bucketValue(root), known in the planning pass too. */
export function bucketValueSize(root: TreeRoot): number {
  return BUCKET_HEADER_SIZE + (root.kind === "inline" ? root.size : 0);
}
