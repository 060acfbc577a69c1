// HPACK Huffman code (RFC 7541 §5.2, Appendix B).
//
// The Appendix B code is canonical: codes of one length are consecutive in symbol order and
// shorter codes precede longer ones. So the table is stored as the bit length of each of the 257
// symbols (256 octets + EOS) and the codes are derived; the tests pin several codes and the
// Appendix C vectors against the RFC text.

// prettier-ignore
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,         // ' ' .. '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,              // '0' .. '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,                // '@' .. 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,             // 'P' .. '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,                // '`' .. 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,            // 'p' .. 0x7f
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30,                                                             // EOS
];

const EOS = 256;

let codes: Uint32Array | undefined;

/**
 * Canonical code of each symbol, as an unsigned integer of CODE_LENGTHS[sym] bits. Derived on
 * first use, not at import: the sort costs a cold process about a millisecond, and only encoding
 * and the decoder's first build need it.
 */
export function huffmanCodes(): Uint32Array {
  return (codes ??= deriveCodes());
}

function deriveCodes(): Uint32Array {
  if (CODE_LENGTHS.length !== 257) throw new Error("huffman: table must have 257 lengths");
  const order = Array.from({ length: 257 }, (_, i) => i).sort(
    (a, b) => CODE_LENGTHS[a] - CODE_LENGTHS[b] || a - b,
  );
  const codes = new Uint32Array(257);
  let code = 0;
  let prevLen = CODE_LENGTHS[order[0]];
  for (let i = 0; i < order.length; i++) {
    const sym = order[i];
    const len = CODE_LENGTHS[sym];
    if (i > 0) code = (code + 1) * 2 ** (len - prevLen);
    prevLen = len;
    codes[sym] = code;
  }
  // Invariant: a complete prefix code ends with the all-ones code of the longest length (EOS).
  if (codes[EOS] !== 0x3fffffff) throw new Error("huffman: derived table is not the RFC 7541 code");
  return codes;
}

export const HUFFMAN_LENGTHS: Uint8Array = Uint8Array.from(CODE_LENGTHS);

// Decoding walks a nibble at a time through a state machine built from the code tree: a state is
// an internal tree node (256 of them, root = 0); each (state, nibble) entry holds the next state,
// whether a symbol was completed (at most one: no code is shorter than 5 bits) and the symbol.
// The machine is built on the first Huffman-coded string, not at import: building it costs a cold
// process 1-5 ms, and a peer that sends its header strings raw (as this server does) never needs it.
const EMIT = 0x100;
const FAIL = 0x200;
let decoding: { DECODE_TABLE: Int32Array; ACCEPTING: Uint8Array } | undefined;
function buildDecoder(): { DECODE_TABLE: Int32Array; ACCEPTING: Uint8Array } {
  const left = new Int32Array(256).fill(-1 << 20);
  const right = new Int32Array(256).fill(-1 << 20);
  let nodes = 1;
  const codeOf = huffmanCodes();
  for (let sym = 0; sym <= EOS; sym++) {
    const len = HUFFMAN_LENGTHS[sym];
    const code = codeOf[sym];
    let node = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = Math.floor(code / 2 ** b) & 1;
      const children = bit ? right : left;
      if (b === 0) {
        children[node] = -(sym + 1); // leaf
      } else {
        if (children[node] === -1 << 20) children[node] = nodes++;
        node = children[node];
      }
    }
  }
  if (nodes !== 256) throw new Error("huffman: code tree must have 256 internal nodes");
  const table = new Int32Array(256 * 16);
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let out = 0;
      for (let b = 3; b >= 0; b--) {
        const child = (nibble >> b) & 1 ? right[node] : left[node];
        if (child < 0) {
          const sym = -child - 1;
          if (sym === EOS) { out = FAIL; break; }
          out = EMIT | (sym << 16);
          node = 0;
        } else {
          node = child;
        }
      }
      table[state * 16 + nibble] = out & FAIL ? FAIL : out | node;
    }
  }
  // Valid end states: padding is a prefix of EOS (all ones) and shorter than 8 bits (§5.2).
  const accepting = new Uint8Array(256);
  let node = 0;
  accepting[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    node = right[node];
    accepting[node] = 1;
  }
  return { DECODE_TABLE: table, ACCEPTING: accepting };
}

export class HuffmanError extends Error {}

/**
 * Decodes src[start, end) into out starting at 0 and returns the decoded length.
 * Invariant: out.length >= huffmanDecodedMaxLength(end - start).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  const { DECODE_TABLE, ACCEPTING } = (decoding ??= buildDecoder());
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    let e = DECODE_TABLE[(state << 4) | (byte >> 4)];
    if (e & FAIL) throw new HuffmanError("huffman: EOS symbol in string");
    if (e & EMIT) out[n++] = e >>> 16;
    state = e & 0xff;
    e = DECODE_TABLE[(state << 4) | (byte & 15)];
    if (e & FAIL) throw new HuffmanError("huffman: EOS symbol in string");
    if (e & EMIT) out[n++] = e >>> 16;
    state = e & 0xff;
  }
  if (!ACCEPTING[state]) throw new HuffmanError("huffman: invalid padding");
  return n;
}

/** Upper bound on the decoded length of an encoded string (shortest code is 5 bits). */
export function huffmanDecodedMaxLength(encodedLength: number): number {
  return Math.ceil((encodedLength * 8) / 5);
}

/** Encoded length in octets of the latin1 string s. */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_LENGTHS[s.charCodeAt(i) & 0xff];
  return (bits + 7) >> 3;
}

/** Writes the Huffman encoding of the latin1 string s at out[offset] and returns the new offset. */
export function huffmanEncode(s: string, out: Uint8Array, offset: number): number {
  let acc = 0; // pending bits, right-aligned; never more than 7 + 30 bits, so kept below 2^53
  let nbits = 0;
  let o = offset;
  const codeOf = huffmanCodes();
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const len = HUFFMAN_LENGTHS[sym];
    acc = acc * 2 ** len + codeOf[sym];
    nbits += len;
    while (nbits >= 8) {
      nbits -= 8;
      out[o++] = Math.floor(acc / 2 ** nbits) & 0xff;
      acc %= 2 ** nbits;
    }
  }
  if (nbits > 0) out[o++] = ((acc << (8 - nbits)) | (0xff >> nbits)) & 0xff;
  return o;
}
