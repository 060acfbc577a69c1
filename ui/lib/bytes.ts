// Keys and values are bytes: the gateway carries them as base64. These helpers convert
// between bytes, UTF-8 text, base64 and hex, and compute etcd's prefix range end.

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** The UTF-8 text of `b`, or undefined when `b` is not valid UTF-8 (binary). */
export function text(b: Uint8Array): string | undefined {
  try {
    return dec.decode(b);
  } catch {
    return undefined;
  }
}

/** Text for display: invalid UTF-8 sequences become U+FFFD. */
export function lossy(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

export function toB64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromB64(s: string | undefined): Uint8Array {
  if (s === undefined || s === "") return new Uint8Array(0);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export const b64 = (s: string): string => toB64(utf8(s));
export const unb64 = (s: string | undefined): string => lossy(fromB64(s));

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Parses hex digits (whitespace ignored); throws on anything else. */
export function fromHex(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "");
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new Error("hex value must be an even number of hex digits");
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** etcd's prefix range end: the last byte below 0xff incremented, the rest cut; all 0xff → "\0". */
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

/** The smallest key after `key`: key + "\0" (where the next page starts). */
export function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > b.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** Member and lease IDs arrive as decimal uint64/int64 strings; people read them in hex. */
export function hexId(dec: string | undefined): string {
  if (dec === undefined || dec === "") return "0";
  return BigInt.asUintN(64, BigInt(dec)).toString(16);
}

/** A lease ID as etcdctl prints it (`%016x`: "lease 0c12a2512a2e9c07 granted"), member IDs stay `%x`. */
export function hexLeaseId(dec: string | undefined): string {
  return hexId(dec).padStart(16, "0");
}

/** A hex ID typed by a person → the decimal string the gateway takes. */
export function decId(hex: string): string {
  const h = hex.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{1,16}$/.test(h)) throw new Error(`"${hex}" is not a hexadecimal ID`);
  return BigInt(`0x${h}`).toString(10);
}

/** Bytes in SI units, as etcdctl's `endpoint status` prints them (humanize.Bytes). */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const v = n / Math.pow(1000, e);
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[e]}`;
}
