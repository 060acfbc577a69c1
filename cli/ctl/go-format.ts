// The Go formatting etcdctl's output is made of: encoding/json (with protobuf structs as gogo
// generates them), strconv.Quote (%q), time.Duration.String, go-humanize's Bytes, %x / %16x.
import type { DescField, DescMessage, DescOneof, Message } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";

/** A JSON value in Go's encoding: objects keep key order; bigint prints as a number. */
export type GoValue = null | boolean | number | bigint | string | Uint8Array | GoValue[] | GoObject;
export interface GoObject {
  [key: string]: GoValue | undefined;
}

const HEX = "0123456789abcdef";

/** Go's json string escaping (HTML-safe: <, >, & escaped; U+2028/9 escaped). */
export function jsonString(s: string): string {
  let o = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) o += '\\"';
    else if (c === 0x5c) o += "\\\\";
    else if (c === 0x0a) o += "\\n";
    else if (c === 0x0d) o += "\\r";
    else if (c === 0x09) o += "\\t";
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      o += `\\u${c.toString(16).padStart(4, "0")}`;
    } else o += s[i];
  }
  return `${o}"`;
}

export function goJson(v: GoValue | undefined): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "string") return jsonString(v);
  if (v instanceof Uint8Array) return `"${Buffer.from(v).toString("base64")}"`;
  if (Array.isArray(v)) return `[${v.map(goJson).join(",")}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v)) if (x !== undefined) parts.push(`${jsonString(k)}:${goJson(x)}`);
  return `{${parts.join(",")}}`;
}

function camel(name: string): string {
  return name
    .split("_")
    .map((p) => (p === "" ? "" : p[0]!.toUpperCase() + p.slice(1)))
    .join("");
}

function isZero(f: DescField, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (f.fieldKind === "list") return (v as unknown[]).length === 0;
  if (f.fieldKind === "map") return Object.keys(v as object).length === 0;
  if (f.fieldKind === "message") return false;
  if (f.fieldKind === "enum") return v === 0;
  if (v instanceof Uint8Array) return v.length === 0;
  return v === 0 || v === 0n || v === false || v === "";
}

function fieldValue(f: DescField, v: unknown): GoValue {
  if (f.fieldKind === "message") return pbToGo(f.message, v as Message);
  if (f.fieldKind === "list") {
    const arr = v as unknown[];
    if (f.listKind === "message") return arr.map((x) => pbToGo(f.message, x as Message));
    return arr.map((x) => x as GoValue);
  }
  if (f.fieldKind === "scalar" && f.scalar === ScalarType.BYTES) return v as Uint8Array;
  return v as GoValue;
}

/**
 * A protobuf message as gogo's generated Go struct marshals with encoding/json: declaration
 * order, proto names as keys, zero values omitted, a oneof as {"<OneofName>":{"<FieldName>":…}}.
 */
export function pbToGo(schema: DescMessage, msg: Message): GoObject {
  const o: GoObject = {};
  const m = msg as unknown as Record<string, unknown>;
  for (const member of schema.members) {
    if (member.kind === "oneof") {
      const one = member as DescOneof;
      const sel = m[one.localName] as { case?: string; value?: unknown };
      if (sel?.case === undefined) continue;
      const f = one.fields.find((x) => x.localName === sel.case)!;
      o[camel(one.name)] = { [camel(f.name)]: f.fieldKind === "message" ? pbToGo(f.message, sel.value as Message) : (sel.value as GoValue) };
      continue;
    }
    const f = member as DescField;
    const v = m[f.localName];
    if (isZero(f, v)) continue;
    o[f.name] = fieldValue(f, v);
  }
  return o;
}

/** strconv.Quote: Go's %q of a string (bytes given as text are treated as UTF-8). */
export function goQuote(input: string | Uint8Array): string {
  const b = typeof input === "string" ? Buffer.from(input, "utf8") : Buffer.from(input);
  let o = '"';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      if (c === 0x22) o += '\\"';
      else if (c === 0x5c) o += "\\\\";
      else if (c === 0x07) o += "\\a";
      else if (c === 0x08) o += "\\b";
      else if (c === 0x0c) o += "\\f";
      else if (c === 0x0a) o += "\\n";
      else if (c === 0x0d) o += "\\r";
      else if (c === 0x09) o += "\\t";
      else if (c === 0x0b) o += "\\v";
      else if (c < 0x20 || c === 0x7f) o += `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
      else o += String.fromCharCode(c);
      continue;
    }
    // Decode one UTF-8 sequence; invalid octets print as \x..
    const n = c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    let cp = -1;
    if (n > 0 && i + n <= b.length) {
      cp = c & (0xff >> (n + 1));
      for (let k = 1; k < n; k++) {
        const cc = b[i + k]!;
        if ((cc & 0xc0) !== 0x80) {
          cp = -1;
          break;
        }
        cp = (cp << 6) | (cc & 0x3f);
      }
      if (cp >= 0 && ((n === 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff)))) cp = -1;
    }
    if (cp < 0) {
      o += `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
      i++;
      continue;
    }
    i += n;
    if (isPrint(cp)) o += String.fromCodePoint(cp);
    else if (cp < 0x10000) o += `\\u${cp.toString(16).padStart(4, "0")}`;
    else o += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return `${o}"`;
}

function isPrint(cp: number): boolean {
  if (cp < 0xa0) return false;
  if (cp === 0xad) return false;
  if (cp >= 0x2000 && cp <= 0x200f) return cp < 0x200b;
  if (cp >= 0x2028 && cp <= 0x202e) return false;
  if (cp >= 0xfff9 && cp <= 0xfffb) return false;
  if (cp === 0xfeff) return false;
  if (cp >= 0xe000 && cp <= 0xf8ff) return false;
  return true;
}

/** time.Duration.String for a duration in nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return "0s";
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let s: string;
  if (u < 1000) s = `${u}ns`;
  else if (u < 1_000_000) s = `${fmtFrac(u, 1000)}µs`;
  else if (u < 1_000_000_000) s = `${fmtFrac(u, 1_000_000)}ms`;
  else {
    let out = "";
    const h = Math.floor(u / 3_600_000_000_000);
    u -= h * 3_600_000_000_000;
    const m = Math.floor(u / 60_000_000_000);
    u -= m * 60_000_000_000;
    if (h > 0) out += `${h}h`;
    if (h > 0 || m > 0) out += `${m}m`;
    out += `${fmtFrac(u, 1_000_000_000)}s`;
    s = out;
  }
  return neg ? `-${s}` : s;
}

function fmtFrac(v: number, unit: number): string {
  const whole = Math.floor(v / unit);
  let frac = String(v % unit).padStart(String(unit).length - 1, "0").replace(/0+$/, "");
  return frac === "" ? String(whole) : `${whole}.${frac}`;
}

/** Go's %.Nf: round half to even on exact binary ties (toFixed rounds them up). */
function goFixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  const scaled = x * 10 ** digits;
  if (Number.isInteger(scaled - 0.5) && Math.abs(scaled - Math.trunc(scaled)) === 0.5) {
    const down = Math.floor(scaled);
    const even = down % 2 === 0 ? down : down + 1;
    return (even / 10 ** digits).toFixed(digits);
  }
  return s;
}

/** go-humanize Bytes (SI units): "20 kB", "1.2 MB", "9 B". */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${goFixed(val, val < 10 ? 1 : 0)} ${sizes[e]}`;
}

/** %x of an unsigned 64-bit ID. */
export function hex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/** %16x: hex padded with spaces to 16 columns. */
export function hex16(id: bigint): string {
  return hex(id).padStart(16, " ");
}

/** %016x of a lease ID (int64; negative values print as Go does, with a minus sign). */
export function leaseHex(id: bigint): string {
  return id < 0n ? `-${(-id).toString(16).padStart(16, "0")}` : id.toString(16).padStart(16, "0");
}
