import { test, expect, describe } from "bun:test";
import { HpackDecoder, HpackError, encodeHeaderBlock, maxEncodedLength, huffmanDecode, huffmanEncode, huffmanEncodedLength, HuffmanError } from "../../src/api/h2/index.ts";
import { huffmanCodes, HUFFMAN_LENGTHS } from "../../src/api/h2/huffman.ts";

const hex = (s: string) => Buffer.from(s, "hex");
type Fields = Array<[string, string]>;

function fields(d: HpackDecoder): Fields {
  const out: Fields = [];
  for (let i = 0; i < d.count; i++) out.push([d.names[i], d.values[i]]);
  return out;
}
function table(d: HpackDecoder): Fields {
  return Array.from({ length: d.dynamicTableLength }, (_, k) => [...d.dynamicEntry(k)] as [string, string]);
}

const REQ1: Fields = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]];
const REQ2: Fields = [...REQ1, ["cache-control", "no-cache"]];
const REQ3: Fields = [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [":authority", "www.example.com"], ["custom-key", "custom-value"]];
const RESP1: Fields = [[":status", "302"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"]];
const RESP2: Fields = [[":status", "307"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"]];
const RESP3: Fields = [[":status", "200"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:22 GMT"], ["location", "https://www.example.com"], ["content-encoding", "gzip"], ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"]];

describe("RFC 7541 Appendix C.2: single fields", () => {
  test("C.2.1 literal with indexing", () => {
    const d = new HpackDecoder();
    d.decode(hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"));
    expect(fields(d)).toEqual([["custom-key", "custom-header"]]);
    expect(d.dynamicTableSize).toBe(55);
  });
  test("C.2.2 literal without indexing", () => {
    const d = new HpackDecoder();
    d.decode(hex("040c2f73616d706c652f70617468"));
    expect(fields(d)).toEqual([[":path", "/sample/path"]]);
    expect(d.dynamicTableLength).toBe(0);
  });
  test("C.2.3 literal never indexed", () => {
    const d = new HpackDecoder();
    d.decode(hex("100870617373776f726406736563726574"));
    expect(fields(d)).toEqual([["password", "secret"]]);
    expect(d.dynamicTableLength).toBe(0);
  });
  test("C.2.4 indexed field", () => {
    const d = new HpackDecoder();
    d.decode(hex("82"));
    expect(fields(d)).toEqual([[":method", "GET"]]);
  });
});

describe("RFC 7541 Appendix C.3/C.4: requests share one dynamic table", () => {
  const cases = {
    "C.3 without Huffman": ["828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865", "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"],
    "C.4 with Huffman": ["828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf", "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"],
  };
  for (const [name, blocks] of Object.entries(cases)) {
    test(name, () => {
      const d = new HpackDecoder();
      d.decode(hex(blocks[0]));
      expect(fields(d)).toEqual(REQ1);
      expect(table(d)).toEqual([[":authority", "www.example.com"]]);
      expect(d.dynamicTableSize).toBe(57);
      d.decode(hex(blocks[1]));
      expect(fields(d)).toEqual(REQ2);
      expect(table(d)).toEqual([["cache-control", "no-cache"], [":authority", "www.example.com"]]);
      expect(d.dynamicTableSize).toBe(110);
      d.decode(hex(blocks[2]));
      expect(fields(d)).toEqual(REQ3);
      expect(table(d)).toEqual([["custom-key", "custom-value"], ["cache-control", "no-cache"], [":authority", "www.example.com"]]);
      expect(d.dynamicTableSize).toBe(164);
    });
  }
});

describe("RFC 7541 Appendix C.5/C.6: responses with evictions (table size 256)", () => {
  const cases = {
    "C.5 without Huffman": [
      "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
      "4803333037c1c0bf",
      "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
    ],
    "C.6 with Huffman": [
      "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
      "4883640effc1c0bf",
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ],
  };
  for (const [name, blocks] of Object.entries(cases)) {
    test(name, () => {
      const d = new HpackDecoder(256);
      d.decode(hex(blocks[0]));
      expect(fields(d)).toEqual(RESP1);
      expect(table(d)).toEqual([["location", "https://www.example.com"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["cache-control", "private"], [":status", "302"]]);
      expect(d.dynamicTableSize).toBe(222);
      d.decode(hex(blocks[1]));
      expect(fields(d)).toEqual(RESP2);
      // ":status: 302" was evicted to make room for ":status: 307".
      expect(table(d)).toEqual([[":status", "307"], ["location", "https://www.example.com"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["cache-control", "private"]]);
      expect(d.dynamicTableSize).toBe(222);
      d.decode(hex(blocks[2]));
      expect(fields(d)).toEqual(RESP3);
      expect(table(d)).toEqual([["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"], ["content-encoding", "gzip"], ["date", "Mon, 21 Oct 2013 20:13:22 GMT"]]);
      expect(d.dynamicTableSize).toBe(215);
    });
  }
});

describe("Huffman code", () => {
  test("derived codes match RFC 7541 Appendix B samples", () => {
    const samples: Array<[number, number, number]> = [
      [0, 0x1ff8, 13], [0x20, 0x14, 6], ["0".charCodeAt(0), 0x0, 5], ["a".charCodeAt(0), 0x3, 5],
      ["z".charCodeAt(0), 0x7b, 7], ["~".charCodeAt(0), 0x1ffd, 13], [10, 0x3ffffffc, 30], [127, 0xffffffc, 28],
      [128, 0xfffe6, 20], [200, 0x3ffffe2, 26], [255, 0x3ffffee, 26], [256, 0x3fffffff, 30],
    ];
    for (const [sym, code, len] of samples) {
      expect([sym, huffmanCodes()[sym], HUFFMAN_LENGTHS[sym]]).toEqual([sym, code, len]);
    }
  });

  test("encodes the RFC 7541 Appendix C strings", () => {
    const vectors: Array<[string, string]> = [
      ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"], ["no-cache", "a8eb10649cbf"],
      ["custom-key", "25a849e95ba97d7f"], ["custom-value", "25a849e95bb8e8b4bf"], ["302", "6402"], ["307", "640eff"],
      ["private", "aec3771a4b"], ["Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"],
      ["https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"], ["gzip", "9bd9ab"],
    ];
    for (const [text, enc] of vectors) {
      const out = new Uint8Array(64);
      const n = huffmanEncode(text, out, 0);
      expect(Buffer.from(out.subarray(0, n)).toString("hex")).toBe(enc);
      expect(huffmanEncodedLength(text)).toBe(n);
      const dec = new Uint8Array(128);
      expect(Buffer.from(dec.subarray(0, huffmanDecode(hex(enc), 0, enc.length / 2, dec))).toString("latin1")).toBe(text);
    }
  });

  test("every octet round-trips, alone and in sequence", () => {
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    const buf = new Uint8Array(1024);
    const dec = new Uint8Array(2048);
    for (let i = 0; i < 256; i++) {
      const n = huffmanEncode(all[i], buf, 0);
      expect(huffmanDecode(buf, 0, n, dec)).toBe(1);
      expect(dec[0]).toBe(i);
    }
    const n = huffmanEncode(all, buf, 0);
    const m = huffmanDecode(buf, 0, n, dec);
    expect(Buffer.from(dec.subarray(0, m)).toString("latin1")).toBe(all);
  });

  test("rejects padding longer than 7 bits, padding with zeros, and EOS", () => {
    const dec = new Uint8Array(16);
    // "0" is 00000 (5 bits): a full 0xff octet after it is 8+ bits of padding.
    expect(() => huffmanDecode(Uint8Array.of(0x07, 0xff), 0, 2, dec)).toThrow(HuffmanError);
    // "0" then three zero bits: padding must be ones.
    expect(() => huffmanDecode(Uint8Array.of(0x00), 0, 1, dec)).toThrow(HuffmanError);
    // The 30-bit EOS code itself.
    expect(() => huffmanDecode(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0, 4, dec)).toThrow(HuffmanError);
    expect(huffmanDecode(Uint8Array.of(0x07), 0, 1, dec)).toBe(1); // "0" + 111 padding is valid
  });
});

describe("decoder limits and errors", () => {
  test("malformed blocks are HpackErrors", () => {
    const bad = [
      "80", // index 0
      "be", // dynamic index 62 with an empty table
      "7f", // truncated integer
      "ffffffffffffff0f", // integer too large
      "0005616263", // string longer than the block
      "820081", // literal with a new name whose 1-octet Huffman string is missing
      "8220", // size update after a field
      "3fe21f", // size update to 4097, above the advertised 4096
      "4081ff", // Huffman name of 8 padding bits
    ];
    for (const h of bad) {
      const d = new HpackDecoder();
      expect(() => d.decode(hex(h)), h).toThrow(HpackError);
    }
  });

  test("size update shrinks and evicts; an oversized entry empties the table", () => {
    const d = new HpackDecoder();
    d.decode(hex("828684410f7777772e6578616d706c652e636f6d"));
    expect(d.dynamicTableLength).toBe(1);
    d.decode(hex("20")); // size update to 0
    expect(d.dynamicTableLength).toBe(0);
    d.decode(hex("3fe11f")); // back to 4096 (31 + 4065)
    const big = "x".repeat(5000);
    const block = new Uint8Array(maxEncodedLength([["a", big]]) + 8);
    block[0] = 0x40; // literal with indexing, new name
    let o = 1;
    block[o++] = 1; block[o++] = 0x61;
    block[o++] = 0x7f; let v = big.length - 127;
    while (v >= 128) { block[o++] = (v & 0x7f) | 0x80; v >>= 7; }
    block[o++] = v;
    for (let i = 0; i < big.length; i++) block[o++] = 0x78;
    d.decode(block, 0, o);
    expect(fields(d)).toEqual([["a", big]]);
    expect(d.dynamicTableLength).toBe(0);
    expect(d.dynamicTableSize).toBe(0);
  });

  test("flags field names that are not lower-case tokens", () => {
    const d = new HpackDecoder();
    d.decode(hex("0003466f6f0162")); // "Foo: b"
    expect(d.badName).toBe(true);
    d.decode(hex("0003666f6f0162")); // "foo: b"
    expect(d.badName).toBe(false);
  });

  test("the table survives many insertions (ring growth and wrap-around)", () => {
    const d = new HpackDecoder();
    for (let i = 0; i < 1000; i++) {
      const name = `k${i}`;
      const value = `v${i}`;
      d.decode(Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]));
      expect(d.dynamicEntry(0)).toEqual([name, value]);
    }
    d.decode(hex("be")); // index 62 = newest
    expect(fields(d)).toEqual([["k999", "v999"]]);
    const n = d.dynamicTableLength;
    expect(d.dynamicEntry(n - 1)).toEqual([`k${1000 - n}`, `v${1000 - n}`]);
  });
});

test("encoder output decodes back to the same fields", () => {
  const list: Fields = [
    [":status", "200"], [":status", "418"], ["content-type", "application/grpc"], ["grpc-status", "0"],
    ["grpc-message", "x".repeat(300)], ["x-empty", ""], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
  ];
  const out = new Uint8Array(maxEncodedLength(list));
  const n = encodeHeaderBlock(list, out, 0);
  expect(out[0]).toBe(0x88); // ":status: 200" is static index 8
  const d = new HpackDecoder();
  d.decode(out, 0, n);
  expect(fields(d)).toEqual(list);
  expect(d.dynamicTableLength).toBe(0); // never indexed: no shared state to keep in sync
});

test("a block fed in pieces decodes as the whole block does, cut at every octet", () => {
  const fields: Array<[string, string]> = [[":method", "POST"], [":path", "/etcdserverpb.KV/Put"], ["x-long", "v".repeat(300)], ["cookie", "a=1"], ["x-short", "s"]];
  const block = Buffer.alloc(maxEncodedLength(fields));
  const n = encodeHeaderBlock(fields, block, 0);
  // A literal with incremental indexing up front, so table updates are exercised too.
  const insert = Buffer.concat([Buffer.from([0x40, 3]), Buffer.from("x-i"), Buffer.from([5]), Buffer.from("hello"), Buffer.from([0xbe])]);
  const whole = Buffer.concat([insert, block.subarray(0, n)]);
  const ref = new HpackDecoder();
  ref.decode(whole);
  const expected = Array.from({ length: ref.count }, (_, i) => [ref.names[i], ref.values[i]]);
  for (let cut = 1; cut < whole.length; cut++) {
    const d = new HpackDecoder();
    d.begin();
    let rest: Buffer = Buffer.alloc(0);
    for (let o = 0; o < whole.length; o += cut) {
      const piece = Buffer.concat([rest, whole.subarray(o, o + cut)]);
      const last = o + cut >= whole.length;
      const at = d.feed(piece, 0, piece.length, last);
      rest = piece.subarray(at);
    }
    expect(Array.from({ length: d.count }, (_, i) => [d.names[i], d.values[i]])).toEqual(expected);
    expect(d.dynamicTableLength).toBe(ref.dynamicTableLength);
  }
  // The last piece may not end inside a representation.
  const d = new HpackDecoder();
  d.begin();
  expect(() => d.feed(whole, 0, whole.length - 1, true)).toThrow(HpackError);
});
