// Builds one bucket's B+tree bottom-up from entries given in key order (bulk loading): leaf
// pages are filled and written out as soon as they are full, and each finished page hands its
// first key and page id to the level above, which does the same. Only the page being filled at
// each level is held, so memory is one page per level whatever the bucket's size.
//
// Pages get their ids in the order they are finished, from a counter shared by the whole file,
// so they can be written out sequentially. The same builder runs twice over the same entries:
// once with sizes only (planning: how many pages, which is the root) and once with the bytes
// (writing), and both runs make identical decisions because they depend on sizes alone.
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

/** Receives each finished page (header included, padded to whole pages). */
export type PageSink = (page: Uint8Array) => void;

/** What a finished tree is. */
export type TreeRoot =
  /** A page tree rooted at `root` (`pages` pages written, overflow included). */
  | { readonly kind: "pages"; readonly root: number; readonly pages: number }
  /** Small enough to live inline in the parent's leaf value: its page body (write pass only). */
  | { readonly kind: "inline"; readonly size: number; readonly page: Uint8Array | undefined };

/** One level's page being filled. keys are undefined in the planning pass. */
interface Level {
  ksizes: number[];
  vsizes: number[]; // leaf: value sizes; branch: unused
  flags: number[]; // leaf element flags
  pgids: number[]; // branch: child page ids
  keys: Uint8Array[] | undefined;
  values: Uint8Array[] | undefined; // leaf only
  size: number; // page bytes so far, header included
  /** Pages this level has finished. */
  finished: number;
}

export class TreeBuilder {
  private readonly levels: Level[] = [];
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
  ) {}

  /** Planning pass: an entry of these sizes. */
  addSize(ksize: number, vsize: number, flags = 0): void {
    this.push(0, ksize, vsize, flags, 0, undefined, undefined);
  }

  /** Writing pass: an entry; keys must be strictly ascending. */
  add(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const p = this.prevKey;
    if (p !== undefined && compare(p, key) >= 0) throw new BoltError("bbolt writer: keys not in ascending order");
    this.prevKey = key;
    this.push(0, key.length, value.length, flags, 0, key, value);
  }

  /** Writes out the pages still being filled and says where the tree's root is. */
  finish(): TreeRoot {
    if (this.done) throw new BoltError("bbolt writer: tree finished twice");
    this.done = true;
    const leaf = this.level(0);
    if (this.levels.length === 1 && leaf.finished === 0 && leaf.size <= this.inlineLimit && leaf.flags.every((f) => f === 0)) {
      return { kind: "inline", size: leaf.size, page: this.sink ? this.encode(0, leaf, 0) : undefined };
    }
    for (let l = 0; ; l++) {
      const lv = this.levels[l]!;
      const top = l === this.levels.length - 1;
      if (top && lv.finished === 0) {
        // The only page of the highest level: the root (an empty bucket is one empty leaf).
        const root = this.counter.next;
        this.flush(l);
        return { kind: "pages", root, pages: this.pagesWritten };
      }
      if (lv.ksizes.length > 0) this.flush(l);
    }
  }

  private level(l: number): Level {
    let lv = this.levels[l];
    if (lv === undefined) {
      const write = this.sink !== undefined;
      lv = { ksizes: [], vsizes: [], flags: [], pgids: [], keys: write ? [] : undefined, values: write && l === 0 ? [] : undefined, size: PAGE_HEADER_SIZE, finished: 0 };
      this.levels[l] = lv;
    }
    return lv;
  }

  private push(l: number, ksize: number, vsize: number, flags: number, pgid: number, key: Uint8Array | undefined, value: Uint8Array | undefined): void {
    const lv = this.level(l);
    const elem = (l === 0 ? LEAF_ELEMENT_SIZE + vsize : BRANCH_ELEMENT_SIZE) + ksize;
    // A full page is finished before the entry that does not fit; a lone big entry overflows.
    if (lv.ksizes.length > 0 && lv.size + elem > this.pageSize) this.flush(l);
    lv.ksizes.push(ksize);
    lv.vsizes.push(vsize);
    lv.flags.push(flags);
    lv.pgids.push(pgid);
    lv.keys?.push(key!);
    lv.values?.push(value!);
    lv.size += elem;
  }

  /** Finishes level l's page: gives it the next id, writes it, tells the level above. */
  private flush(l: number): void {
    const lv = this.levels[l]!;
    const id = this.counter.next;
    const pages = Math.max(1, Math.ceil(lv.size / this.pageSize));
    this.counter.next += pages;
    this.pagesWritten += pages;
    if (this.sink) this.sink(this.encode(id, lv, pages));
    const firstKsize = lv.ksizes[0]!;
    const firstKey = lv.keys?.[0];
    lv.ksizes = [];
    lv.vsizes = [];
    lv.flags = [];
    lv.pgids = [];
    if (lv.keys) lv.keys = [];
    if (lv.values) lv.values = [];
    lv.size = PAGE_HEADER_SIZE;
    lv.finished++;
    if (this.done && l === this.levels.length - 1 && lv.finished === 1) return; // that was the root
    // bbolt's branch element key is the first key of the child page.
    this.push(l + 1, firstKsize, 0, 0, id, firstKey, undefined);
  }

  /** The page bytes of a level's content; pages = 0 for an inline page (exact size, id 0). */
  private encode(id: number, lv: Level, pages: number): Uint8Array {
    const leaf = lv.values !== undefined;
    const buf = new Uint8Array(pages === 0 ? lv.size : pages * this.pageSize);
    const n = lv.ksizes.length;
    if (n > 0xffff) throw new BoltError(`bbolt writer: ${n} elements in one page`);
    writePageHeader(buf, 0, { id, flags: leaf ? PageFlag.leaf : PageFlag.branch, count: n, overflow: Math.max(0, pages - 1) });
    const esize = leaf ? LEAF_ELEMENT_SIZE : BRANCH_ELEMENT_SIZE;
    let data = PAGE_HEADER_SIZE + n * esize;
    for (let i = 0; i < n; i++) {
      const off = PAGE_HEADER_SIZE + i * esize;
      const key = lv.keys![i]!;
      if (leaf) {
        const value = lv.values![i]!;
        writeU32(buf, off, lv.flags[i]!);
        writeU32(buf, off + 4, data - off);
        writeU32(buf, off + 8, key.length);
        writeU32(buf, off + 12, value.length);
        buf.set(key, data);
        buf.set(value, data + key.length);
        data += key.length + value.length;
      } else {
        writeU32(buf, off, data - off);
        writeU32(buf, off + 4, key.length);
        writeU64(buf, off + 8, lv.pgids[i]!);
        buf.set(key, data);
        data += key.length;
      }
    }
    return buf;
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

