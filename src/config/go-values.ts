// Value parsers with Go's syntax and error texts. etcd reads its flags through Go's `flag`
// and `strconv`/`time` packages, so users' scripts carry Go spellings ("0x10", "1h30m",
// "T"); accepting exactly those keeps every existing etcd command line working.

/** Go's flag package reports every numeric/bool syntax error as this text. */
export const errParse = "parse error";
/** ... and every overflow as this one. */
export const errRange = "value out of range";

/** A value rejected by a parser; `message` is the Go error text. */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValueError";
  }
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** strconv.ParseBool. */
export function parseGoBool(s: string): boolean {
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw new ValueError(errParse);
}

const DIGITS: Record<number, RegExp> = {
  2: /^[01]+(_[01]+)*$/,
  8: /^[0-7]+(_[0-7]+)*$/,
  10: /^[0-9]+(_[0-9]+)*$/,
  16: /^[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/,
};

/**
 * strconv.ParseInt/ParseUint with base 0 (what Go's flag package uses): optional sign
 * (signed only), prefixes 0x/0o/0b and a bare leading 0 for octal, underscores between
 * digits. Returns a bigint so range checks are exact.
 */
function parseGoIntBase0(s: string, signed: boolean): bigint {
  let body = s;
  let neg = false;
  if (signed && (body.startsWith("+") || body.startsWith("-"))) {
    neg = body[0] === "-";
    body = body.slice(1);
  }
  if (body === "") throw new ValueError(errParse);
  let base = 10;
  let digits = body;
  const p = body.slice(0, 2).toLowerCase();
  if (p === "0x" || p === "0o" || p === "0b") {
    base = p === "0x" ? 16 : p === "0o" ? 8 : 2;
    digits = body.slice(2);
    // Go allows one underscore right after a base prefix ("0x_1f").
    if (digits.startsWith("_")) digits = digits.slice(1);
  } else if (body.length > 1 && body[0] === "0") {
    base = 8;
    digits = body.slice(1);
    if (digits.startsWith("_")) digits = digits.slice(1);
  }
  const re = DIGITS[base];
  if (re === undefined || !re.test(digits)) throw new ValueError(errParse);
  const clean = digits.replaceAll("_", "");
  const prefix = base === 16 ? "0x" : base === 8 ? "0o" : base === 2 ? "0b" : "";
  const v = BigInt(prefix + clean);
  return neg ? -v : v;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function toSafeNumber(v: bigint): number {
  // Values beyond 2^53 fit Go's uint64 but not a JS number; none of etcd's defaults or
  // sensible settings come close, so they are rejected as out of range.
  if (v > MAX_SAFE || v < -MAX_SAFE) throw new ValueError(errRange);
  return Number(v);
}

/** A Go `uint`/`uint64` flag value. */
export function parseGoUint(s: string): number {
  const v = parseGoIntBase0(s, false);
  if (v >= 1n << 64n) throw new ValueError(errRange);
  return toSafeNumber(v);
}

/** A Go `int`/`int64` flag value. */
export function parseGoInt(s: string): number {
  const v = parseGoIntBase0(s, true);
  if (v >= 1n << 63n || v < -(1n << 63n)) throw new ValueError(errRange);
  return toSafeNumber(v);
}

/** etcd's Uint32Value: strconv.ParseUint(s, 10, 32) whose error text is passed through. */
export function parseGoUint32(s: string): number {
  if (!/^[0-9]+$/.test(s)) {
    throw new ValueError(`strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
  }
  const v = BigInt(s);
  if (v > 0xffffffffn) throw new ValueError(`strconv.ParseUint: parsing ${goQuote(s)}: value out of range`);
  return Number(v);
}

/** strconv.Atoi (base 10, optional sign), or undefined when it would fail. */
export function goAtoi(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  if (v > MAX_SAFE || v < -MAX_SAFE) return undefined;
  return Number(v);
}

/** Go's %q for the printable ASCII strings found in flags. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3, // U+00B5 micro sign
  "μs": 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * time.ParseDuration: "300ms", "-1.5h", "2h45m". Returns nanoseconds. Errors carry Go's
 * texts ("time: invalid duration \"x\"", "time: missing unit in duration \"1\"", ...).
 */
export function parseGoDuration(orig: string): number {
  let s = orig;
  let neg = false;
  if (s !== "" && (s[0] === "-" || s[0] === "+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0;
  const invalid = () => new ValueError(`time: invalid duration ${goQuote(orig)}`);
  if (s === "") throw invalid();
  let total = 0;
  while (s !== "") {
    const m = /^([0-9]*)(\.([0-9]*))?/.exec(s);
    // The regex always matches (possibly empty); a term needs digits before or after '.'.
    const whole = m?.[1] ?? "";
    const frac = m?.[3] ?? "";
    if (whole === "" && frac === "") throw invalid();
    s = s.slice(m?.[0].length ?? 0);
    let i = 0;
    while (i < s.length && s[i] !== "." && !(s[i]! >= "0" && s[i]! <= "9")) i++;
    if (i === 0) throw new ValueError(`time: missing unit in duration ${goQuote(orig)}`);
    const unit = s.slice(0, i);
    s = s.slice(i);
    const scale = UNIT_NS[unit];
    if (scale === undefined) {
      throw new ValueError(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(orig)}`);
    }
    total += Number(`${whole || "0"}.${frac || "0"}`) * scale;
    // Go's Duration is an int64 of nanoseconds.
    if (total > 9223372036854775807) throw invalid();
  }
  return neg ? -total : total;
}

/** A duration flag value (Go's flag package hides ParseDuration's text behind errParse). */
export function parseGoDurationFlag(s: string): number {
  try {
    return parseGoDuration(s);
  } catch {
    throw new ValueError(errParse);
  }
}

/** time.Duration.String() for help text and messages: 0s, 100ms, 5s, 2h0m0s, 1m30s. */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return "0s";
  const sign = ns < 0 ? "-" : "";
  let v = Math.abs(ns);
  if (v < 1e9) {
    if (v < 1e3) return `${sign}${v}ns`;
    if (v < 1e6) return `${sign}${trimFloat(v / 1e3)}µs`;
    return `${sign}${trimFloat(v / 1e6)}ms`;
  }
  const h = Math.floor(v / 3600e9);
  v -= h * 3600e9;
  const m = Math.floor(v / 60e9);
  v -= m * 60e9;
  const secs = `${trimFloat(v / 1e9)}s`;
  if (h > 0) return `${sign}${h}h${m}m${secs}`;
  if (m > 0) return `${sign}${m}m${secs}`;
  return `${sign}${secs}`;
}

function trimFloat(x: number): string {
  return String(Number(x.toFixed(9)));
}
