// HPACK header block encoder for responses. Stateless on purpose: every field is either a full
// static-table match (":status: 200" is one octet) or a literal without indexing with a static
// name index where one exists, so the peer's SETTINGS_HEADER_TABLE_SIZE never matters and
// no dynamic-table state has to stay in sync. Strings are sent raw (no Huffman): cheaper to
// produce, and gRPC response headers are a few dozen octets.

import { STATIC_NAME_INDEX } from "./hpack-static-table.ts";

export type HeaderList = ReadonlyArray<readonly [string, string]>;

/** Static indexes of ":status" values with a full match (RFC 7541 Appendix A). */
const STATUS_INDEX: Readonly<Record<string, number>> = {
  "200": 8, "204": 9, "206": 10, "304": 11, "400": 12, "404": 13, "500": 14,
};

/** Upper bound on the encoded size of fields (integers take at most 5 octets here). */
export function maxEncodedLength(fields: HeaderList): number {
  let n = 0;
  for (let i = 0; i < fields.length; i++) n += fields[i][0].length + fields[i][1].length + 11;
  return n;
}

function writeInteger(out: Uint8Array, o: number, first: number, prefixMask: number, v: number): number {
  if (v < prefixMask) {
    out[o++] = first | v;
    return o;
  }
  out[o++] = first | prefixMask;
  v -= prefixMask;
  while (v >= 128) {
    out[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[o++] = v;
  return o;
}

function writeString(out: Uint8Array, o: number, s: string): number {
  o = writeInteger(out, o, 0, 0x7f, s.length);
  // Field octets are latin1: characters above 0xff are not representable and are truncated.
  for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i);
  return o;
}

/**
 * Encodes fields at out[offset] and returns the end offset.
 * Invariant: out has at least maxEncodedLength(fields) octets free from offset.
 */
export function encodeHeaderBlock(fields: HeaderList, out: Uint8Array, offset: number): number {
  let o = offset;
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i][0];
    const value = fields[i][1];
    if (name === ":status") {
      const full = STATUS_INDEX[value];
      if (full !== undefined) {
        out[o++] = 0x80 | full;
        continue;
      }
    }
    const nameIndex = STATIC_NAME_INDEX.get(name);
    if (nameIndex !== undefined) {
      o = writeInteger(out, o, 0x00, 0x0f, nameIndex);
    } else {
      out[o++] = 0x00;
      o = writeString(out, o, name);
    }
    o = writeString(out, o, value);
  }
  return o;
}
