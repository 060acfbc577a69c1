// Numbers in gateway request bodies, read exactly as Go's gateway reads them. JSON.parse turns
// every number into a double, so a lease ID sent as a JSON number above 2^53 came out as
// another ID ("requested lease not found"). Before parsing, each number token of the body is
// rewritten as a marked string holding its literal text; the schema walk (json-codec.ts) then
// turns each literal into the field's type with encoding/json's rules and error texts: 64-bit
// integers exactly, fractions and out-of-range values refused ("json: cannot unmarshal number
// 1.5 into Go value of type int64").
//
// The same pass enforces encoding/json's nesting limit (10000 levels of objects and arrays).
import { ScalarType, type DescEnum } from "@bufbuild/protobuf";
import { Code, EtcdError } from "../../server/errors.ts";

const invalid = (msg: string) => new EtcdError(Code.InvalidArgument, msg);

/** encoding/json's maxNestingDepth. */
export const MAX_JSON_DEPTH = 10_000;

const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

/** A number literal from the body, carried through JSON.parse as a string starting with `mark`. */
export interface Marked {
  readonly text: string;
  readonly mark: string;
}

const isNumChar = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;

/**
 * Rewrites every valid number token outside strings as `"<mark><literal>"`. The mark is a
 * control character no string in the body can contain (raw control characters are not valid
 * JSON, so only a `\u000N` escape could produce one, and a mark whose escape appears in the
 * body is not used). Throws encoding/json's error past MAX_JSON_DEPTH.
 */
export function markNumbers(text: string): Marked {
  let mark = "";
  let escape = "";
  for (let c = 1; c <= 8 && mark === ""; c++) {
    escape = `\\u000${c}`;
    if (!text.includes(escape)) mark = String.fromCharCode(c);
  }
  const out: string[] = [];
  let last = 0;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: find the closing quote not preceded by an odd run of backslashes.
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) return { text, mark }; // unterminated: JSON.parse reports it
        let bs = 0;
        for (let k = q - 1; k > i && text.charCodeAt(k) === 0x5c; k--) bs++;
        if (bs % 2 === 0) {
          i = q;
          break;
        }
        from = q + 1;
      }
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) throw invalid(`invalid character '${text[i]}' exceeded max depth`);
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      depth--;
      continue;
    }
    if (mark !== "" && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
      let j = i + 1;
      while (j < n && isNumChar(text.charCodeAt(j))) j++;
      const lit = text.slice(i, j);
      if (NUMBER.test(lit)) {
        // The escape, not the character: JSON strings may not hold raw control characters.
        out.push(text.slice(last, i), '"', escape, lit, '"');
        last = j;
      }
      i = j - 1;
    }
  }
  if (out.length === 0) return { text, mark };
  out.push(text.slice(last));
  return { text: out.join(""), mark };
}

/** The literal of a marked number, or undefined when `v` is not one. */
export function numberLiteral(v: unknown, mark: string): string | undefined {
  return mark !== "" && typeof v === "string" && v.charCodeAt(0) === mark.charCodeAt(0) ? v.slice(1) : undefined;
}

const RANGES: Partial<Record<ScalarType, [bigint, bigint, string]>> = {
  [ScalarType.INT64]: [-(1n << 63n), (1n << 63n) - 1n, "int64"],
  [ScalarType.SINT64]: [-(1n << 63n), (1n << 63n) - 1n, "int64"],
  [ScalarType.SFIXED64]: [-(1n << 63n), (1n << 63n) - 1n, "int64"],
  [ScalarType.UINT64]: [0n, (1n << 64n) - 1n, "uint64"],
  [ScalarType.FIXED64]: [0n, (1n << 64n) - 1n, "uint64"],
  [ScalarType.INT32]: [-(1n << 31n), (1n << 31n) - 1n, "int32"],
  [ScalarType.SINT32]: [-(1n << 31n), (1n << 31n) - 1n, "int32"],
  [ScalarType.SFIXED32]: [-(1n << 31n), (1n << 31n) - 1n, "int32"],
  [ScalarType.UINT32]: [0n, (1n << 32n) - 1n, "uint32"],
  [ScalarType.FIXED32]: [0n, (1n << 32n) - 1n, "uint32"],
};

const GO_TYPE: Partial<Record<ScalarType, string>> = {
  [ScalarType.BOOL]: "bool",
  [ScalarType.STRING]: "string",
  [ScalarType.BYTES]: "[]uint8",
  [ScalarType.DOUBLE]: "float64",
  [ScalarType.FLOAT]: "float32",
};

function integerIn(lit: string, lo: bigint, hi: bigint, goType: string): bigint {
  const fail = () => invalid(`json: cannot unmarshal number ${lit} into Go value of type ${goType}`);
  if (!INTEGER.test(lit)) throw fail();
  const v = BigInt(lit);
  if (v < lo || v > hi) throw fail();
  return v;
}

/**
 * The JSON value protobuf-es should see for a scalar field given `v` (a marked number literal
 * or any parsed JSON value), with Go's errors where encoding/json would refuse it.
 */
export function scalarValue(type: ScalarType, v: unknown, mark: string): unknown {
  const range = RANGES[type];
  let lit = numberLiteral(v, mark);
  if (range !== undefined) {
    const [lo, hi, goType] = range;
    const wide = goType === "int64" || goType === "uint64";
    if (lit === undefined && typeof v === "string" && wide) {
      // jsonpb unquotes a quoted 64-bit integer and reads what is inside as a JSON number.
      if (v === "") throw invalid("unexpected end of JSON input");
      if (!NUMBER.test(v)) throw invalid(`invalid character '${v[0]}' looking for beginning of value`);
      lit = v;
    }
    if (lit === undefined) return v;
    const n = integerIn(lit, lo, hi, goType);
    return wide ? n.toString() : Number(n);
  }
  if (lit === undefined) return v;
  const goType = GO_TYPE[type];
  if (goType === "float64" || goType === "float32") return Number(lit);
  throw invalid(`json: cannot unmarshal number into Go value of type ${goType ?? "string"}`);
}

/** Go's type name for a scalar field (what encoding/json names in its type errors). */
export function goScalarName(type: ScalarType): string {
  return RANGES[type]?.[2] ?? GO_TYPE[type] ?? "string";
}

/** The JSON value for an enum field given a marked number (Go reads it as the enum's int32). */
export function enumValue(e: DescEnum, v: unknown, mark: string): unknown {
  const lit = numberLiteral(v, mark);
  if (lit === undefined) return v;
  return Number(integerIn(lit, -(1n << 31n), (1n << 31n) - 1n, goEnumName(e)));
}

/** Go's name of a generated enum type: etcdserverpb.RangeRequest.SortOrder → etcdserverpb.RangeRequest_SortOrder. */
export function goEnumName(e: DescEnum): string {
  const dot = e.typeName.indexOf(".");
  return dot < 0 ? e.typeName : e.typeName.slice(0, dot + 1) + e.typeName.slice(dot + 1).replaceAll(".", "_");
}
