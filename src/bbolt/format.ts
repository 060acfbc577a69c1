// The bbolt file format (go.etcd.io/bbolt, format version 2), as etcd's backend writes it:
// fixed-size pages, each starting with a 16-byte header; pages 0 and 1 hold the two meta
// copies; every bucket is a B+tree of branch and leaf pages (a small bucket may instead live
// inline, inside its parent's leaf value). All integers are little-endian.
//
//   page header    id u64 | flags u16 | count u16 | overflow u32     (overflow = extra pages)
//   meta (at 16)   magic u32 | version u32 | pageSize u32 | flags u32 | root {pgid u64,
//                  sequence u64} | freelist u64 | pgid u64 (high water mark) | txid u64 |
//                  checksum u64 (FNV-1a 64 over the 56 bytes before it)
//   branch elem    pos u32 | ksize u32 | pgid u64       (key at elem + pos)
//   leaf elem      flags u32 | pos u32 | ksize u32 | vsize u32  (key at elem + pos, value after)
//   bucket value   root u64 | sequence u64 [+ an inline leaf page when root = 0]
//   freelist page  count pgids u64 (count 0xffff: the real count is the first u64)

export const PAGE_HEADER_SIZE = 16;
export const BRANCH_ELEMENT_SIZE = 16;
export const LEAF_ELEMENT_SIZE = 16;
export const BUCKET_HEADER_SIZE = 16;
export const META_SIZE = 64;
/** Offset of the checksum inside the meta: the checksum covers the bytes before it. */
const META_CHECKSUM_OFFSET = 56;

export const MAGIC = 0xed0cdaed;
export const FORMAT_VERSION = 2;
export const DEFAULT_PAGE_SIZE = 4096;

export const PageFlag = {
  branch: 0x01,
  leaf: 0x02,
  meta: 0x04,
  freelist: 0x10,
} as const;

/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;

/** meta.freelist when the freelist is not written (etcd's NoFreelistSync): rebuilt at open. */
export const NO_FREELIST = -1;
const NO_FREELIST_U64 = 0xffffffffffffffffn;

/** A count field of 0xffff means the real count is stored in the first u64 of the page body. */
export const COUNT_OVERFLOW = 0xffff;

export interface PageHeader {
  readonly id: number;
  readonly flags: number;
  readonly count: number;
  readonly overflow: number;
}

export interface Meta {
  readonly pageSize: number;
  readonly flags: number;
  /** Root page of the top-level bucket (the one that lists etcd's buckets). */
  readonly root: number;
  readonly sequence: bigint;
  /** Page of the freelist, or NO_FREELIST. */
  readonly freelist: number;
  /** High water mark: pages [0, pgid) make up the file. */
  readonly pgid: number;
  readonly txid: number;
}

/** Reads a u64 that must fit a JS number (page ids, counts). */
export function readU64(b: Uint8Array, off: number): number {
  const lo = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24);
  const hi = b[off + 4]! | (b[off + 5]! << 8) | (b[off + 6]! << 16) | (b[off + 7]! << 24);
  const n = (hi >>> 0) * 0x1_0000_0000 + (lo >>> 0);
  return hi >>> 0 > 0x1fffff ? Number.NaN : n; // above 2^53: not a usable page id
}

export function writeU64(b: Uint8Array, off: number, n: number): void {
  const lo = n % 0x1_0000_0000;
  const hi = Math.floor(n / 0x1_0000_0000);
  writeU32(b, off, lo);
  writeU32(b, off + 4, hi);
}

export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function writeU32(b: Uint8Array, off: number, n: number): void {
  b[off] = n & 0xff;
  b[off + 1] = (n >>> 8) & 0xff;
  b[off + 2] = (n >>> 16) & 0xff;
  b[off + 3] = (n >>> 24) & 0xff;
}

export function readU16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

export function writeU16(b: Uint8Array, off: number, n: number): void {
  b[off] = n & 0xff;
  b[off + 1] = (n >>> 8) & 0xff;
}

export function readPageHeader(b: Uint8Array, off = 0): PageHeader {
  return { id: readU64(b, off), flags: readU16(b, off + 8), count: readU16(b, off + 10), overflow: readU32(b, off + 12) };
}

export function writePageHeader(b: Uint8Array, off: number, h: PageHeader): void {
  writeU64(b, off, h.id);
  writeU16(b, off + 8, h.flags);
  writeU16(b, off + 10, h.count);
  writeU32(b, off + 12, h.overflow);
}

/** FNV-1a, 64 bits, over b[start, end): the meta checksum (56 bytes; BigInt is fine here). */
export function fnv64a(b: Uint8Array, start: number, end: number): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = start; i < end; i++) h = ((h ^ BigInt(b[i]!)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

/** The meta page body (META_SIZE bytes) with its checksum. */
export function encodeMeta(m: Meta): Uint8Array {
  const b = new Uint8Array(META_SIZE);
  writeU32(b, 0, MAGIC);
  writeU32(b, 4, FORMAT_VERSION);
  writeU32(b, 8, m.pageSize);
  writeU32(b, 12, m.flags);
  writeU64(b, 16, m.root);
  new DataView(b.buffer).setBigUint64(24, m.sequence, true);
  if (m.freelist === NO_FREELIST) new DataView(b.buffer).setBigUint64(32, NO_FREELIST_U64, true);
  else writeU64(b, 32, m.freelist);
  writeU64(b, 40, m.pgid);
  writeU64(b, 48, m.txid);
  new DataView(b.buffer).setBigUint64(META_CHECKSUM_OFFSET, fnv64a(b, 0, META_CHECKSUM_OFFSET), true);
  return b;
}

/** Decodes a meta body; returns bbolt's error text when it is not a valid meta. */
export function decodeMeta(b: Uint8Array, off = 0): Meta | string {
  if (off + META_SIZE > b.length) return "invalid database";
  if (readU32(b, off) !== MAGIC) return "invalid database";
  if (readU32(b, off + 4) !== FORMAT_VERSION) return "version mismatch";
  const dv = new DataView(b.buffer, b.byteOffset + off, META_SIZE);
  if (dv.getBigUint64(META_CHECKSUM_OFFSET, true) !== fnv64a(b, off, off + META_CHECKSUM_OFFSET)) return "checksum error";
  const freelistRaw = dv.getBigUint64(32, true);
  return {
    pageSize: readU32(b, off + 8),
    flags: readU32(b, off + 12),
    root: readU64(b, off + 16),
    sequence: dv.getBigUint64(24, true),
    freelist: freelistRaw === NO_FREELIST_U64 ? NO_FREELIST : readU64(b, off + 32),
    pgid: readU64(b, off + 40),
    txid: readU64(b, off + 48),
  };
}
