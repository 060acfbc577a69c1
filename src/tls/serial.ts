// Certificate serial numbers come spelled differently from each source (Node's upper-case hex
// with a sign octet, @peculiar/x509's hex, Go's minimal bytes): one spelling for comparisons.

/** Lower-case hex without separators or leading zeros ("0" for zero). */
export function normalizeSerialHex(hex: string): string {
  const s = hex.replace(/[^0-9a-fA-F]/g, "").toLowerCase().replace(/^0+/, "");
  return s === "" ? "0" : s;
}
