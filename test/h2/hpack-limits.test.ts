// The decoder's header list limit: a literal that cannot fit the list (nor the table, when it
// is to enter it) is sized from its length prefixes and skipped without being decoded, also
// when its value runs on into later pieces of the block; and whatever is skipped, the fields
// kept and the dynamic table agree with a full decode.
import { describe, expect, test } from "bun:test";
import { HpackDecoder, HpackError, huffmanEncode, huffmanEncodedLength } from "../../src/api/h2/index.ts";

type Fields = Array<[string, string]>;
const fields = (d: HpackDecoder): Fields => Array.from({ length: d.count }, (_, i) => [d.names[i]!, d.values[i]!]);
const table = (d: HpackDecoder): Fields => Array.from({ length: d.dynamicTableLength }, (_, k) => [...d.dynamicEntry(k)] as [string, string]);

/** An HPACK integer with an n-bit prefix under the first octet's flag bits (RFC 7541 §5.1). */
function int(flags: number, bits: number, v: number): number[] {
  const max = (1 << bits) - 1;
  if (v < max) return [flags | v];
  const out = [flags | max];
  v -= max;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A string literal, raw or Huffman-coded. */
function str(s: string, huffman: boolean): Buffer {
  if (!huffman) return Buffer.concat([Buffer.from(int(0, 7, s.length)), Buffer.from(s, "latin1")]);
  const out = Buffer.alloc(huffmanEncodedLength(s));
  huffmanEncode(s, out, 0);
  return Buffer.concat([Buffer.from(int(0x80, 7, out.length)), out]);
}

/** Octets that are not valid Huffman code (all ones: EOS, or padding longer than 7 bits). */
function badHuffman(n: number): Buffer {
  return Buffer.concat([Buffer.from(int(0x80, 7, n)), Buffer.alloc(n, 0xff)]);
}

const GET = Buffer.from([0x82, 0x86, 0x84]); // :method GET, :scheme http, :path /

describe("over-limit literals are sized, not decoded", () => {
  // GET's three fields (123 octets of list) and a 4000-character field: 4161 of a 4500-octet list.
  const FILL = Buffer.concat([GET, Buffer.from([0x00]), str("x-fill", false), str("f".repeat(4000), false)]);

  test("a value that cannot fit the list is skipped: its octets are never decoded (invalid Huffman code does not fail)", () => {
    // 1500 octets decode to at least 400 characters: more than the 339 octets left.
    const b = Buffer.concat([FILL, Buffer.from([0x00]), str("x-a", false), badHuffman(1500), Buffer.from([0x87])]);
    const full = new HpackDecoder();
    expect(() => full.decode(b)).toThrow(HpackError); // decoding it would fail
    const d = new HpackDecoder();
    d.decode(b, 0, b.length, 4500);
    expect(d.truncated).toBe(true);
    expect(fields(d).map(([k]) => k)).toEqual([":method", ":scheme", ":path", "x-fill"]);
    expect(d.listSize).toBeGreaterThan(4500);
  });

  test("a name that cannot fit the list is skipped too", () => {
    const b = Buffer.concat([FILL, Buffer.from([0x10]), badHuffman(2000), str("v", false)]);
    const d = new HpackDecoder();
    d.decode(b, 0, b.length, 4500);
    expect(d.truncated).toBe(true);
    expect(d.count).toBe(4);
  });

  test("a string longer than the whole list limit is a COMPRESSION_ERROR, skipped or not (Go's maximum string length)", () => {
    const b = Buffer.concat([GET, Buffer.from([0x00]), str("x-a", false), str("a".repeat(5000), false)]);
    expect(() => new HpackDecoder().decode(b, 0, b.length, 4500)).toThrow(HpackError);
  });

  test("an entry larger than the table empties it without being decoded (RFC 7541 §4.4); later entries go in", () => {
    const d = new HpackDecoder();
    d.decode(Buffer.concat([Buffer.from([0x40]), str("x-keep", false), str("1", false)]));
    expect(d.dynamicTableLength).toBe(1);
    // Past the list limit (a 16000-character value), an entry of 20000 octets, which decode to
    // at least 5333 characters: no 4096-octet table holds that.
    const over = Buffer.concat([Buffer.from([0x00]), str("x-over", false), str("o".repeat(16_000), false)]);
    const b = Buffer.concat([FILL, over, Buffer.from([0x40]), str("x-big", false), badHuffman(20_000), Buffer.from([0x40]), str("x-after", false), str("2", false)]);
    d.decode(b, 0, b.length, 20_000);
    expect(d.truncated).toBe(true);
    expect(table(d)).toEqual([["x-after", "2"]]);
  });

  test("a skipped value runs on into the next piece: the piece is consumed whole, nothing is kept", () => {
    const d = new HpackDecoder();
    d.begin(8000);
    const value = "a".repeat(5000);
    const b = Buffer.concat([FILL, Buffer.from([0x00]), str("x-long", false), str(value, false), Buffer.from([0x40]), str("x-i", false), str("v", false)]);
    // Cut inside the long value: all of the first piece is used, none of it is handed back.
    const cut = FILL.length + 2000;
    expect(d.feed(b, 0, cut, false)).toBe(cut);
    // The rest arrives over three pieces; the entry after the value still enters the table.
    expect(d.feed(b, cut, cut + 1000, false)).toBe(cut + 1000);
    expect(d.feed(b, cut + 1000, cut + 2000, false)).toBe(cut + 2000);
    expect(d.feed(b, cut + 2000, b.length, true)).toBe(b.length);
    expect(d.truncated).toBe(true);
    expect(table(d)).toEqual([["x-i", "v"]]);
    // A block that ends inside a skipped value is malformed.
    const e = new HpackDecoder();
    e.begin(8000);
    e.feed(b, 0, cut, false);
    expect(() => e.feed(b, cut, cut + 1000, true)).toThrow(HpackError);
  });

  test("just under the limit everything is decoded", () => {
    const value = "b".repeat(100);
    const b = Buffer.concat([Buffer.from([0x00]), str("x-v", false), str(value, true)]);
    const d = new HpackDecoder();
    d.decode(b, 0, b.length, 3 + 100 + 32);
    expect(d.truncated).toBe(false);
    expect(fields(d)).toEqual([["x-v", value]]);
    d.decode(b, 0, b.length, 3 + 100 + 31);
    expect(d.truncated).toBe(true);
    expect(d.count).toBe(0);
  });
});

/** A small deterministic generator (xorshift32), seeded from FUZZ_SEED. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

const seed = Number(process.env.FUZZ_SEED ?? 20261207);

test(`fuzz (FUZZ_SEED=${seed}): with a limit, fed in random pieces, the fields kept and the table agree with a full decode`, () => {
  const r = rng(seed);
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789-_ /:=;,.";
  const text = (n: number) => Array.from({ length: n }, () => chars[r(chars.length)]).join("");
  // Sizes up to well past the table (4096) and the limits below, so every path is taken.
  const length = () => [0, 1, 10, 100, 1000, 3000, 5000, 20_000][r(8)]! + r(50);
  for (let conn = 0; conn < 40; conn++) {
    const full = new HpackDecoder();
    const limited = new HpackDecoder();
    const limit = [64, 300, 1000, 4096, 10_000, 50_000][r(6)]!;
    for (let blk = 0; blk < 20; blk++) {
      const parts: Buffer[] = [];
      // Dynamic entries that references may name: those before the block, until the block
      // changes the table (a size update or an insertion may evict them).
      let dyn = full.dynamicTableLength;
      if (r(10) === 0) {
        parts.push(Buffer.from(int(0x20, 5, r(4097))));
        dyn = 0;
      }
      // The longest string's octets: past the limit the block is a COMPRESSION_ERROR.
      let longest = 0;
      const lit = (x: Buffer, prefix: number) => {
        longest = Math.max(longest, x.length - prefix);
        parts.push(x);
      };
      const n = 1 + r(12);
      for (let i = 0; i < n; i++) {
        const kind = r(4);
        if (kind === 0) {
          parts.push(Buffer.from(int(0x80, 7, 1 + r(61 + dyn))));
          continue;
        }
        const flags = kind === 1 ? 0x40 : kind === 2 ? 0x00 : 0x10;
        const bits = kind === 1 ? 6 : 4;
        const named = r(2) === 0;
        parts.push(Buffer.from(int(flags, bits, named ? 0 : 1 + r(61 + dyn))));
        const prefixed = (x: Buffer) => lit(x, x.length < 127 + 1 ? 1 : x.length < 127 + 128 + 2 ? 2 : 3);
        if (named) prefixed(str(`x-${text(r(3) === 0 ? length() : 5)}`, r(2) === 0));
        prefixed(str(text(length()), r(2) === 0));
        if (kind === 1) dyn = 0;
      }
      const b = Buffer.concat(parts);
      full.decode(b);
      const want = fields(full);
      // The limited decoder gets the block in random pieces, as CONTINUATION frames bring it.
      limited.begin(limit);
      let rest = Buffer.alloc(0);
      const ctx = `conn ${conn} block ${blk} limit ${limit}`;
      const feedAll = () => {
        for (let o = 0; o < b.length; ) {
          const step = 1 + r(Math.max(1, b.length >> r(4)));
          const end = Math.min(b.length, o + step);
          const piece = Buffer.concat([rest, b.subarray(o, end)]);
          const at = limited.feed(piece, 0, piece.length, end === b.length);
          rest = piece.subarray(at);
          o = end;
        }
      };
      if (longest > limit) {
        // The connection ends here: a new one starts with a fresh table.
        expect(feedAll, ctx).toThrow(HpackError);
        break;
      }
      feedAll();
      expect(limited.truncated, ctx).toBe(full.listSize > limit);
      const got = fields(limited);
      if (!limited.truncated) {
        expect(got, ctx).toEqual(want);
        expect(limited.listSize, ctx).toBe(full.listSize);
      } else {
        expect(got, ctx).toEqual(want.slice(0, got.length));
        expect(got.reduce((a, [k, v]) => a + k.length + v.length + 32, 0), ctx).toBeLessThanOrEqual(limit);
      }
      expect(table(limited), ctx).toEqual(table(full));
    }
  }
});
