// HPACK header block decoder (RFC 7541): static + dynamic table, size updates, Huffman strings.
// One decoder per connection; header blocks must be decoded in the order received, even for
// streams that are refused or already closed, or the dynamic table goes out of sync.
//
// The header list size is checked while decoding, not after: once a block's fields add up to
// more than the limit, later fields are no longer materialised (an indexed reference to a
// 4 KB table entry costs one octet on the wire, so a block of such references would otherwise
// expand a thousandfold). A literal is sized from its length prefixes before its strings are
// read: one that cannot fit the list, nor the table when it is to enter it, is skipped as
// octets, never decoded, and a skipped value may run on into the next piece of the block
// without any of it being kept. The block is still read to its end, entries it inserts
// included, so the table stays in sync; the caller sees `truncated` (HTTP 431, as Go's server
// answers).

import { huffmanDecode, huffmanDecodedMaxLength, HuffmanError } from "./huffman.ts";
import { STATIC_TABLE, STATIC_TABLE_LENGTH } from "./hpack-static-table.ts";

/** A COMPRESSION_ERROR: the connection cannot continue after it (RFC 9113 §4.3). */
export class HpackError extends Error {}

/** Thrown inside feed() when a representation runs past the piece it was given. */
const NEED_MORE = Symbol("need more");

/** Per octet: 1 when it may appear in an HTTP/2 field name (lower-case token characters). */
const NAME_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const ok = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz";
  for (let i = 0; i < ok.length; i++) t[ok.charCodeAt(i)] = 1;
  return t;
})();

/**
 * Whether a field value is acceptable: no control characters other than HTAB (Go's
 * httpguts.ValidHeaderFieldValue; RFC 9113 §8.2.1 forbids NUL, CR and LF outright).
 */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
export function isValidFieldValue(s: string): boolean {
  return !BAD_VALUE.test(s);
}

/** Whether s is a valid lower-case field name, or a pseudo-header name (":" + lower-case token). */
export function isValidFieldName(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  let i = s.charCodeAt(0) === 58 /* : */ ? 1 : 0;
  if (i === n) return false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || NAME_CHAR[c] === 0) return false;
  }
  return true;
}

/** The fewest characters n Huffman-coded octets can decode to (codes are at most 30 bits, padding at most 7). */
function leastDecoded(n: number): number {
  return n === 0 ? 0 : Math.max(0, Math.ceil((8 * n - 7) / 30));
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export class HpackDecoder {
  /** Fields of the last decoded block, in order: names[i], values[i] for i < count. */
  readonly names: string[] = [];
  readonly values: string[] = [];
  count = 0;
  /**
   * Header list size of the last block: sum of name + value + 32 (RFC 9113 §6.5.2). Exact while
   * the block is under the limit; once `truncated`, a lower bound (skipped strings count at
   * their least decoded length).
   */
  listSize = 0;
  /** True when a field name in the last block is not a valid lower-case name. */
  badName = false;
  /** True when a field value in the last block holds a forbidden control character. */
  badValue = false;
  /** True when the last block's fields exceed the limit given to decode(); fields past it were dropped. */
  truncated = false;


  /** Dynamic table limit in force; changed by size updates, never above maxAllowed. */
  private limit: number;
  /** Sum of entry sizes. Invariant: size <= limit. */
  private size = 0;
  // Dynamic table as a ring, oldest entry at `head`; entry k (0 = newest) is at head+len-1-k.
  private ringNames: string[] = new Array(64);
  private ringValues: string[] = new Array(64);
  /** Per entry: bit 1 = invalid name, bit 2 = invalid value. */
  private ringBad: number[] = new Array(64);
  private head = 0;
  private len = 0;
  private pos = 0;
  private scratch = Buffer.allocUnsafe(256);
  /** Set by stringHead: the string read last is Huffman-coded. */
  private huffman = false;
  /** Header list size allowed for the block being decoded. */
  private maxList = Infinity;
  /** A field was decoded in this block (size updates must come before any). */
  private fieldSeen = false;
  /** Decoding a piece that is not the block's last: running short is not an error. */
  private partial = false;
  /** Octets of a skipped value still to come in later pieces of the block. */
  private skipping = 0;

  /** maxAllowed: the SETTINGS_HEADER_TABLE_SIZE this side advertised (default 4096). */
  constructor(private readonly maxAllowed = 4096) {
    this.limit = maxAllowed;
  }

  /** Number of entries in the dynamic table and their total size (for tests and metrics). */
  get dynamicTableLength(): number { return this.len; }
  get dynamicTableSize(): number { return this.size; }

  /** Dynamic table entry k (0 = most recently added). */
  dynamicEntry(k: number): readonly [string, string] {
    if (k < 0 || k >= this.len) throw new RangeError("hpack: no such dynamic entry");
    const at = (this.head + this.len - 1 - k) & (this.ringNames.length - 1);
    return [this.ringNames[at], this.ringValues[at]];
  }

  /**
   * Decodes block[start, end) as one whole header block. Throws HpackError on any malformed
   * input, and on a single string longer than `maxListSize` (Go's decoder limits string length
   * the same way). Fields beyond `maxListSize` (RFC 9113 §6.5.2 sizes) are not kept: see
   * `truncated`.
   */
  decode(block: Uint8Array, start = 0, end = block.length, maxListSize = Infinity): void {
    this.begin(maxListSize);
    this.feed(block, start, end, true);
  }

  /** Starts a header block that arrives in pieces (HEADERS, then CONTINUATION frames). */
  begin(maxListSize = Infinity): void {
    this.count = 0;
    this.listSize = 0;
    this.badName = false;
    this.badValue = false;
    this.truncated = false;
    this.maxList = maxListSize;
    this.fieldSeen = false;
    this.skipping = 0;
  }

  /**
   * Decodes the field representations complete in block[start, end) and returns where the
   * first incomplete one starts (end when none is). With `final` the block ends here and an
   * incomplete representation is an HpackError. A representation is applied whole or not at
   * all, so the rest can be fed again with the next piece in front of it.
   */
  feed(block: Uint8Array, start: number, end: number, final: boolean): number {
    const buf = asBuffer(block);
    this.pos = start;
    this.partial = !final;
    if (this.skipping > 0) {
      // The rest of a skipped value, begun in an earlier piece.
      const n = Math.min(this.skipping, end - start);
      this.skipping -= n;
      this.pos = start + n;
      if (this.skipping > 0) {
        if (final) throw new HpackError("hpack: string longer than the block");
        return end;
      }
    }
    let rep = this.pos;
    try {
      while (this.pos < end) {
        rep = this.pos;
        const b = buf[this.pos];
        if (this.truncated && (b & 0x80) !== 0 && (b & 0x7f) !== 0x7f) {
          // A run of one-octet references past the limit (the bulk of an HPACK bomb): only
          // checked, in a tight loop.
          const max = STATIC_TABLE_LENGTH + this.len;
          let p = this.pos;
          for (; p < end; p++) {
            const x = buf[p];
            if ((x & 0x80) === 0 || (x & 0x7f) === 0x7f) break;
            if ((x & 0x7f) === 0) throw new HpackError("hpack: index 0");
            if ((x & 0x7f) > max) throw new HpackError("hpack: index out of range");
          }
          this.pos = p;
          this.fieldSeen = true;
          continue;
        }
        if (b & 0x80) {
          const index = this.integer(buf, 0x7f, end);
          if (index === 0) throw new HpackError("hpack: index 0");
          // Past the limit a reference is only checked, never expanded (HPACK bombs).
          if (this.truncated) this.checkIndex(index);
          else this.emitIndexed(index);
          this.fieldSeen = true;
        } else if (b & 0x40) {
          const index = this.integer(buf, 0x3f, end);
          this.literal(buf, index, end, true);
          this.fieldSeen = true;
        } else if (b & 0x20) {
          // Size updates are allowed only at the start of a block (RFC 7541 §4.2).
          if (this.fieldSeen) throw new HpackError("hpack: table size update after a field");
          const size = this.integer(buf, 0x1f, end);
          if (size > this.maxAllowed) throw new HpackError("hpack: table size update above the limit");
          this.limit = size;
          this.evict(0);
        } else {
          const index = this.integer(buf, 0x0f, end);
          this.literal(buf, index, end, false);
          this.fieldSeen = true;
        }
      }
    } catch (e) {
      if (e === NEED_MORE) return rep;
      if (e instanceof HuffmanError) throw new HpackError(e.message);
      throw e;
    }
    return end;
  }

  /** An incomplete representation: more of the block is needed, or (final) it is malformed. */
  private short(what: string): never {
    if (this.partial) throw NEED_MORE;
    throw new HpackError(what);
  }

  private integer(buf: Buffer, mask: number, end: number): number {
    let v = buf[this.pos++] & mask;
    if (v < mask) return v;
    let shift = 1;
    for (;;) {
      if (this.pos >= end) this.short("hpack: truncated integer");
      const b = buf[this.pos++];
      v += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return v;
      shift *= 128;
      if (shift > 2 ** 28) throw new HpackError("hpack: integer too large");
    }
  }

  /** Reads a string's length prefix; returns its length in octets, `huffman` set for a Huffman-coded one. */
  private stringHead(buf: Buffer, end: number): number {
    if (this.pos >= end) this.short("hpack: truncated string");
    this.huffman = (buf[this.pos] & 0x80) !== 0;
    const n = this.integer(buf, 0x7f, end);
    if (n > this.maxList) throw new HpackError("hpack: string longer than the header list limit");
    return n;
  }

  /** The string body of n octets at pos (after stringHead). */
  private stringBody(buf: Buffer, end: number, n: number, huffman: boolean): string {
    const s = this.pos;
    if (n > end - s) this.short("hpack: string longer than the block");
    this.pos = s + n;
    if (!huffman) return buf.toString("latin1", s, s + n);
    const need = huffmanDecodedMaxLength(n);
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
    const len = huffmanDecode(buf, s, s + n, this.scratch);
    return this.scratch.toString("latin1", 0, len);
  }

  private checkIndex(index: number): void {
    if (index > STATIC_TABLE_LENGTH && index - STATIC_TABLE_LENGTH - 1 >= this.len) throw new HpackError("hpack: index out of range");
  }

  private skipString(buf: Buffer, end: number): void {
    if (this.pos >= end) this.short("hpack: truncated string");
    const n = this.integer(buf, 0x7f, end);
    if (n > this.maxList) throw new HpackError("hpack: string longer than the header list limit");
    if (n > end - this.pos) this.short("hpack: string longer than the block");
    this.pos += n;
  }

  private emitIndexed(index: number): void {
    if (index <= STATIC_TABLE_LENGTH) {
      const e = STATIC_TABLE[index - 1];
      this.emit(e[0], e[1], 0);
      return;
    }
    const k = index - STATIC_TABLE_LENGTH - 1;
    if (k >= this.len) throw new HpackError("hpack: index out of range");
    const at = (this.head + this.len - 1 - k) & (this.ringNames.length - 1);
    this.emit(this.ringNames[at], this.ringValues[at], this.ringBad[at]);
  }

  private literal(buf: Buffer, nameIndex: number, end: number, index: boolean): void {
    if (this.truncated && !index) {
      // Past the limit and not entering the table: its strings are skipped, not decoded.
      if (nameIndex === 0) this.skipString(buf, end);
      else this.checkIndex(nameIndex);
      this.skipValue(buf, end, this.stringHead(buf, end));
      return;
    }
    // What the list may still take; -1 once past the limit.
    const room = this.truncated ? -1 : this.maxList - this.listSize;
    let name: string | null = null;
    let nameLen: number;
    let bad: number;
    if (nameIndex === 0) {
      const n = this.stringHead(buf, end);
      const huffman = this.huffman;
      nameLen = huffman ? leastDecoded(n) : n;
      if ((index && nameLen + 32 <= this.limit) || nameLen + 32 <= room) {
        name = this.stringBody(buf, end, n, huffman);
        nameLen = name.length;
        bad = isValidFieldName(name) ? 0 : 1;
      } else {
        // Fits neither the list nor the table: never decoded.
        if (n > end - this.pos) this.short("hpack: string longer than the block");
        this.pos += n;
        bad = 0;
      }
    } else if (nameIndex <= STATIC_TABLE_LENGTH) {
      name = STATIC_TABLE[nameIndex - 1][0];
      nameLen = name.length;
      bad = 0;
    } else {
      const k = nameIndex - STATIC_TABLE_LENGTH - 1;
      if (k >= this.len) throw new HpackError("hpack: name index out of range");
      const at = (this.head + this.len - 1 - k) & (this.ringNames.length - 1);
      name = this.ringNames[at];
      nameLen = name.length;
      bad = this.ringBad[at] & 1;
    }
    const n = this.stringHead(buf, end);
    const huffman = this.huffman;
    // The field's size if the value decodes to as few characters as its octets allow.
    const least = nameLen + (huffman ? leastDecoded(n) : n) + 32;
    if (name === null || ((!index || least > this.limit) && least > room)) {
      // Sized without decoding: over what the list may take, and not an entry the table can
      // hold. Applied now (no NEED_MORE past this point), the value's octets skipped after.
      if (index) this.evict(this.limit + 1); // an entry larger than the table empties it (RFC 7541 §4.4)
      this.listSize += least;
      this.truncated = true;
      this.fieldSeen = true;
      this.skipValue(buf, end, n);
      return;
    }
    const value = this.stringBody(buf, end, n, huffman);
    if (!isValidFieldValue(value)) bad |= 2;
    if (index) this.add(name, value, bad);
    this.emit(name, value, bad);
  }

  /**
   * Skips a value of n octets at pos whose representation is already applied; what the piece
   * lacks is skipped at the start of the next one (nothing of it is kept).
   */
  private skipValue(buf: Buffer, end: number, n: number): void {
    const have = end - this.pos;
    if (n <= have) {
      this.pos += n;
      return;
    }
    if (!this.partial) throw new HpackError("hpack: string longer than the block");
    this.skipping = n - have;
    this.pos = end;
  }

  private emit(name: string, value: string, bad: number): void {
    // Sizes count even when nothing is kept, so the caller can report the real size.
    this.listSize += name.length + value.length + 32;
    if (this.truncated) return;
    if (this.listSize > this.maxList) {
      this.truncated = true;
      return;
    }
    this.names[this.count] = name;
    this.values[this.count] = value;
    this.count++;
    if (bad & 1) this.badName = true;
    if (bad & 2) this.badValue = true;
  }

  private add(name: string, value: string, bad: number): void {
    const entrySize = name.length + value.length + 32;
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    if (entrySize > this.limit) {
      this.evict(this.limit + 1);
      return;
    }
    this.evict(entrySize);
    if (this.len === this.ringNames.length) this.grow();
    const at = (this.head + this.len) & (this.ringNames.length - 1);
    this.ringNames[at] = name;
    this.ringValues[at] = value;
    this.ringBad[at] = bad;
    this.len++;
    this.size += entrySize;
  }

  /** Evicts oldest entries until `incoming` more octets fit under the limit. */
  private evict(incoming: number): void {
    const mask = this.ringNames.length - 1;
    while (this.len > 0 && this.size + incoming > this.limit) {
      const at = this.head;
      this.size -= this.ringNames[at].length + this.ringValues[at].length + 32;
      this.ringNames[at] = "";
      this.ringValues[at] = "";
      this.head = (this.head + 1) & mask;
      this.len--;
    }
    if (this.len === 0) this.head = 0;
  }

  private grow(): void {
    const cap = this.ringNames.length;
    const names: string[] = new Array(cap * 2);
    const values: string[] = new Array(cap * 2);
    const bad: number[] = new Array(cap * 2);
    for (let i = 0; i < this.len; i++) {
      const at = (this.head + i) & (cap - 1);
      names[i] = this.ringNames[at];
      values[i] = this.ringValues[at];
      bad[i] = this.ringBad[at];
    }
    this.ringNames = names;
    this.ringValues = values;
    this.ringBad = bad;
    this.head = 0;
  }
}
