// Reads a bbolt file page by page through a random-access source: buckets are walked in key
// order with a stack of at most one page per tree level, so memory stays flat whatever the
// file size. Every offset read from the file is bounds-checked first: a damaged or foreign
// file gives a BoltError naming the page, never an out-of-range read or a wrong entry.
import { compare, latin1 } from "./bytes.ts";
import { BoltError } from "./errors.ts";
import {
  BRANCH_ELEMENT_SIZE,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  COUNT_OVERFLOW,
  DEFAULT_PAGE_SIZE,
  decodeMeta,
  LEAF_ELEMENT_SIZE,
  type Meta,
  NO_FREELIST,
  PAGE_HEADER_SIZE,
  PageFlag,
  readPageHeader,
  readU32,
  readU64,
} from "./format.ts";

/** Positional reads of the file (e.g. fs.readSync on a descriptor). */
export interface RandomAccess {
  readonly size: number;
  /** Exactly len bytes at pos; the caller never asks beyond size. */
  read(pos: number, len: number): Uint8Array;
}

/** One page (with its overflow pages), or an inline bucket's page inside a leaf value. */
export interface Page {
  readonly id: number;
  readonly flags: number;
  readonly count: number;
  readonly overflow: number;
  /** The page bytes starting at its header. */
  readonly buf: Uint8Array;
}

/** A bucket: a tree rooted at a page, or an inline page (root 0). */
export type BucketRef = { readonly root: number; readonly inline?: undefined } | { readonly root: 0; readonly inline: Page };

export interface BoltEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** The value is a nested bucket (read it with bucketOf). */
  readonly isBucket: boolean;
}

/** Bounds the descent: a real tree of 4 KiB pages is a handful of levels deep. */
const MAX_DEPTH = 64;
const PAGE_TYPES = PageFlag.branch | PageFlag.leaf;

export class BoltReader {
  private constructor(
    private readonly file: RandomAccess,
    readonly meta: Meta,
  ) {}

  /**
   * Validates the meta pages as bbolt does (the valid one with the higher txid wins; when both
   * are invalid, meta 0's error is reported) and checks that the file holds every page.
   */
  static open(file: RandomAccess): BoltReader {
    if (file.size < PAGE_HEADER_SIZE + 64) throw new BoltError("invalid database");
    const m0 = decodeMeta(file.read(PAGE_HEADER_SIZE, 64));
    const pageSize = typeof m0 === "string" ? DEFAULT_PAGE_SIZE : m0.pageSize;
    const m1 = pageSize + PAGE_HEADER_SIZE + 64 <= file.size ? decodeMeta(file.read(pageSize + PAGE_HEADER_SIZE, 64)) : "invalid database";
    const valid = [m0, m1].filter((m): m is Meta => typeof m !== "string").sort((a, b) => b.txid - a.txid);
    const meta = valid[0];
    if (meta === undefined) throw new BoltError(typeof m0 === "string" ? m0 : "invalid database");
    if (!(meta.pageSize >= 512 && meta.pageSize <= 1 << 20 && (meta.pageSize & (meta.pageSize - 1)) === 0)) {
      throw new BoltError(`invalid page size ${meta.pageSize}`);
    }
    if (!Number.isSafeInteger(meta.pgid) || meta.pgid < 2 || meta.root < 2 || meta.root >= meta.pgid) {
      throw new BoltError(`invalid meta: root page ${meta.root}, high water mark ${meta.pgid}`);
    }
    if (meta.pgid * meta.pageSize > file.size) {
      throw new BoltError(`file is truncated: ${meta.pgid} pages of ${meta.pageSize} bytes need ${meta.pgid * meta.pageSize} bytes, found ${file.size}`);
    }
    return new BoltReader(file, meta);
  }

  get pageSize(): number {
    return this.meta.pageSize;
  }

  /** Bytes the database occupies (etcd's tx.Size(): high water mark × page size). */
  get size(): number {
    return this.meta.pgid * this.meta.pageSize;
  }

  /** The top-level bucket (its entries are etcd's buckets). */
  root(): BucketRef {
    return { root: this.meta.root };
  }

  /** Reads page id with its overflow pages. */
  page(id: number): Page {
    if (!(Number.isSafeInteger(id) && id >= 2 && id < this.meta.pgid)) throw new BoltError(`page ${id}: out of bounds: ${this.meta.pgid}`);
    const ps = this.meta.pageSize;
    let buf = this.file.read(id * ps, ps);
    const h = readPageHeader(buf);
    if (h.id !== id) throw new BoltError(`page ${id}: header names page ${Number.isNaN(h.id) ? "?" : h.id}`);
    if (h.overflow > 0) {
      if (id + h.overflow >= this.meta.pgid) throw new BoltError(`page ${id}: overflow ${h.overflow} runs past the high water mark ${this.meta.pgid}`);
      buf = this.file.read(id * ps, (1 + h.overflow) * ps);
    }
    return { ...h, buf };
  }

  /** The nested bucket an entry's value describes (isBucket entries only). */
  bucketOf(value: Uint8Array, where: string): BucketRef {
    if (value.length < BUCKET_HEADER_SIZE) throw new BoltError(`${where}: bucket value of ${value.length} bytes`);
    const root = readU64(value, 0);
    if (root !== 0) return { root };
    const buf = value.subarray(BUCKET_HEADER_SIZE);
    if (buf.length < PAGE_HEADER_SIZE) throw new BoltError(`${where}: inline bucket of ${buf.length} bytes`);
    const h = readPageHeader(buf);
    if ((h.flags & PageFlag.leaf) === 0) throw new BoltError(`${where}: inline bucket page is not a leaf`);
    return { root: 0, inline: { ...h, buf } };
  }

  /** The entry named `name` in bucket b (a linear walk: etcd's top level has a dozen). */
  find(b: BucketRef, name: Uint8Array): BoltEntry | undefined {
    for (const e of this.entries(b)) {
      const c = compare(e.key, name);
      if (c === 0) return e;
      if (c > 0) return undefined;
    }
    return undefined;
  }

  /** The nested bucket `name` of b, if there is one. */
  bucket(b: BucketRef, name: Uint8Array): BucketRef | undefined {
    const e = this.find(b, name);
    return e?.isBucket ? this.bucketOf(e.value, `bucket ${latin1(name)}`) : undefined;
  }

  /**
   * Every entry of bucket b in key order. Checks each page's type, element bounds and key
   * order on the way (across pages too), so a damaged tree fails instead of yielding junk.
   */
  *entries(b: BucketRef): Generator<BoltEntry> {
    const order: { prev?: Uint8Array } = {};
    if (b.inline !== undefined) yield* leafEntries(b.inline, order);
    else for (const { page } of this.walk(b.root)) if ((page.flags & PageFlag.branch) === 0) yield* leafEntries(page, order);
  }

  /** Pre-order walk of a tree's pages with their depth; branch keys are checked against their child. */
  private *walk(root: number): Generator<{ page: Page; depth: number }> {
    const stack: { page: Page; next: number; depth: number }[] = [];
    // A page reached twice would make a damaged (or hostile) file loop for ever.
    const visited = new Uint8Array(this.meta.pgid);
    const visit = (id: number) => {
      if (visited[id] === 1) throw new BoltError(`page ${id}: multiple references`);
      visited[id] = 1;
    };
    const rootPage = this.page(root);
    visit(root);
    yield { page: rootPage, depth: 0 };
    if ((rootPage.flags & PageFlag.branch) !== 0) stack.push({ page: rootPage, next: 0, depth: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const n = elementCount(top.page, BRANCH_ELEMENT_SIZE, `page ${top.page.id}`);
      if (top.next >= n) {
        stack.pop();
        continue;
      }
      const off = PAGE_HEADER_SIZE + top.next * BRANCH_ELEMENT_SIZE;
      top.next++;
      const child = readU64(top.page.buf, off + 8);
      if (top.depth + 1 >= MAX_DEPTH) throw new BoltError(`page ${top.page.id}: tree deeper than ${MAX_DEPTH} levels`);
      const page = this.page(child);
      visit(child);
      yield { page, depth: top.depth + 1 };
      if ((page.flags & PageFlag.branch) !== 0) stack.push({ page, next: 0, depth: top.depth + 1 });
    }
  }

  /**
   * bbolt's consistency check (tx.Check): every page below the high water mark is reachable
   * exactly once or free, reachable pages are branch or leaf pages; plus the checks every
   * walk makes (bounds, key order). Returns the problems found, at most `limit`.
   */
  check(limit = 100): string[] {
    const errors: string[] = [];
    const add = (msg: string) => {
      if (errors.length < limit) errors.push(msg);
    };
    const total = this.meta.pgid;
    const seen = new Uint8Array(total); // 1 = reachable, 2 = free
    seen[0] = 1;
    seen[1] = 1;
    if (this.meta.freelist !== NO_FREELIST) {
      try {
        const fl = this.page(this.meta.freelist);
        if ((fl.flags & PageFlag.freelist) === 0) add(`page ${fl.id}: invalid type: ${pageType(fl.flags)} (freelist expected)`);
        for (let i = 0; i <= fl.overflow; i++) seen[fl.id + i] = 1;
        for (const id of freelistIds(fl)) {
          if (!(id >= 2 && id < total)) add(`freelist: page ${id} out of bounds: ${total}`);
          else if (seen[id] === 2) add(`page ${id}: already freed`);
          else seen[id] = 2;
        }
      } catch (e) {
        add(errorText(e));
      }
    }
    const visit = (b: BucketRef, depth: number): void => {
      if (depth > MAX_DEPTH) throw new BoltError(`buckets nested deeper than ${MAX_DEPTH}`);
      // A bucket whose root was already walked would be walked again and again.
      if (b.inline === undefined && b.root < total && seen[b.root] === 1) return add(`page ${b.root}: multiple references`);
      const order: { prev?: Uint8Array } = {};
      const pages = b.inline !== undefined ? [{ page: b.inline }] : this.walk(b.root);
      for (const { page } of pages) {
        if (b.inline === undefined) {
          for (let i = 0; i <= page.overflow; i++) {
            const id = page.id + i;
            if (seen[id] === 1) add(`page ${id}: multiple references`);
            else if (seen[id] === 2 && i === 0) add(`page ${id}: reachable freed`);
            seen[id] = 1;
          }
        }
        if ((page.flags & PAGE_TYPES) === 0) add(`page ${page.id}: invalid type: ${pageType(page.flags)}`);
        else if ((page.flags & PageFlag.branch) !== 0) checkBranchOrder(page, add);
        else checkLeaf(page, order, (key, value) => visit(this.bucketOf(value, `bucket ${latin1(key)}`), depth + 1));
      }
    };
    try {
      visit(this.root(), 0);
    } catch (e) {
      add(errorText(e));
      return errors;
    }
    // Without a stored freelist bbolt rebuilds it from the unreachable pages: none is lost.
    if (this.meta.freelist !== NO_FREELIST) {
      for (let i = 0; i < total; i++) if (seen[i] === 0) add(`page ${i}: unreachable unfreed`);
    }
    return errors;
  }
}

/** The elements of one leaf page; `order.prev` carries the last key across pages. */
function* leafEntries(p: Page, order: { prev?: Uint8Array }): Generator<BoltEntry> {
  const where = `page ${p.id}`;
  if ((p.flags & PageFlag.leaf) === 0) throw new BoltError(`${where}: invalid type: ${pageType(p.flags)}`);
  const n = elementCount(p, LEAF_ELEMENT_SIZE, where);
  const buf = p.buf;
  for (let i = 0; i < n; i++) {
    const off = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
    const flags = readU32(buf, off);
    const start = off + readU32(buf, off + 4);
    const ksize = readU32(buf, off + 8);
    const vsize = readU32(buf, off + 12);
    if (start + ksize + vsize > buf.length) throw new BoltError(`${where}: element ${i} runs past the page`);
    const key = buf.subarray(start, start + ksize);
    if (order.prev !== undefined && compare(order.prev, key) >= 0) throw new BoltError(`${where}: key order violated at element ${i}`);
    order.prev = key;
    yield { key, value: buf.subarray(start + ksize, start + ksize + vsize), isBucket: (flags & BUCKET_LEAF_FLAG) !== 0 };
  }
}

/** leafEntries' checks without an object per entry; calls onBucket for nested buckets. */
function checkLeaf(p: Page, order: { prev?: Uint8Array }, onBucket: (key: Uint8Array, value: Uint8Array) => void): void {
  const where = `page ${p.id}`;
  const n = elementCount(p, LEAF_ELEMENT_SIZE, where);
  const buf = p.buf;
  let prevStart = -1;
  let prevLen = 0;
  for (let i = 0; i < n; i++) {
    const off = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
    const flags = readU32(buf, off);
    const start = off + readU32(buf, off + 4);
    const ksize = readU32(buf, off + 8);
    const vsize = readU32(buf, off + 12);
    if (start + ksize + vsize > buf.length) throw new BoltError(`${where}: element ${i} runs past the page`);
    if (i === 0) {
      if (order.prev !== undefined && compare(order.prev, buf.subarray(start, start + ksize)) >= 0) throw new BoltError(`${where}: key order violated at element 0`);
    } else if (compareIn(buf, prevStart, prevLen, start, ksize) >= 0) {
      throw new BoltError(`${where}: key order violated at element ${i}`);
    }
    prevStart = start;
    prevLen = ksize;
    if ((flags & BUCKET_LEAF_FLAG) !== 0) onBucket(buf.subarray(start, start + ksize), buf.subarray(start + ksize, start + ksize + vsize));
  }
  if (n > 0) order.prev = buf.subarray(prevStart, prevStart + prevLen);
}

/** compare() of two ranges of one buffer. */
function compareIn(b: Uint8Array, a0: number, alen: number, b0: number, blen: number): number {
  const n = Math.min(alen, blen);
  for (let i = 0; i < n; i++) {
    const d = b[a0 + i]! - b[b0 + i]!;
    if (d !== 0) return d;
  }
  return alen - blen;
}

function elementCount(p: Page, elementSize: number, where: string): number {
  const n = p.count;
  if (PAGE_HEADER_SIZE + n * elementSize > p.buf.length) throw new BoltError(`${where}: ${n} elements do not fit the page`);
  return n;
}

function checkBranchOrder(p: Page, add: (msg: string) => void): void {
  let prev: Uint8Array | undefined;
  const n = p.count;
  if (PAGE_HEADER_SIZE + n * BRANCH_ELEMENT_SIZE > p.buf.length) return add(`page ${p.id}: ${n} elements do not fit the page`);
  for (let i = 0; i < n; i++) {
    const off = PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
    const pos = readU32(p.buf, off);
    const ksize = readU32(p.buf, off + 4);
    if (off + pos + ksize > p.buf.length) return add(`page ${p.id}: element ${i} runs past the page`);
    const key = p.buf.subarray(off + pos, off + pos + ksize);
    if (prev !== undefined && compare(prev, key) >= 0) return add(`page ${p.id}: key order violated at element ${i}`);
    prev = key;
  }
}

function* freelistIds(p: Page): Generator<number> {
  let n = p.count;
  let off = PAGE_HEADER_SIZE;
  if (n === COUNT_OVERFLOW) {
    n = readU64(p.buf, off);
    off += 8;
  }
  if (!(off + n * 8 <= p.buf.length)) throw new BoltError(`page ${p.id}: freelist of ${n} ids does not fit the page`);
  for (let i = 0; i < n; i++) yield readU64(p.buf, off + i * 8);
}

function pageType(flags: number): string {
  if (flags & PageFlag.branch) return "branch";
  if (flags & PageFlag.leaf) return "leaf";
  if (flags & PageFlag.meta) return "meta";
  if (flags & PageFlag.freelist) return "freelist";
  return `unknown<${flags.toString(16).padStart(2, "0")}>`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}


