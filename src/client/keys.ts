// Key helpers shared by callers: etcd's prefix end and text/byte conversion.

const enc = new TextEncoder();

export function bytes(s: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return typeof s === "string" ? enc.encode(s) : new Uint8Array(s);
}

/** The range end that covers every key starting with `prefix` (all 0xff or empty → "\0"). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.slice(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}
