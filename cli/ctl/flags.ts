// Command-line flags the way etcdctl's libraries (cobra + pflag) read them: flags anywhere among
// the arguments, "--" ends them, --name=value or --name value, -x value or -xvalue, booleans
// take an optional =value; Go's number and duration syntax; etcdctl's ETCDCTL_* variables.

export type FlagType = "bool" | "string" | "int" | "int64" | "duration" | "stringSlice";
export type FlagValue = boolean | string | number | bigint | string[];

export interface FlagDef {
  name: string;
  short?: string;
  type: FlagType;
  /** Default as Go prints it in usage (DefValue). */
  def: string;
  usage: string;
  hidden?: boolean;
}

export class FlagError extends Error {}

/** Parsed values of one flag set (global + command flags). */
export class FlagSet {
  private readonly values = new Map<string, FlagValue>();
  readonly changed = new Set<string>();

  constructor(readonly defs: FlagDef[]) {
    for (const d of defs) this.values.set(d.name, parseValue(d, d.def, false));
  }

  find(name: string): FlagDef | undefined {
    return this.defs.find((d) => d.name === name);
  }

  set(name: string, raw: string): void {
    const d = this.find(name);
    if (d === undefined) throw new FlagError(`unknown flag: --${name}`);
    this.values.set(name, parseValue(d, raw, this.changed.has(name), this.values.get(name)));
    this.changed.add(name);
  }

  bool(name: string): boolean {
    return this.values.get(name) as boolean;
  }
  string(name: string): string {
    return this.values.get(name) as string;
  }
  int(name: string): number {
    return Number(this.values.get(name));
  }
  int64(name: string): bigint {
    return this.values.get(name) as bigint;
  }
  /** Milliseconds. */
  duration(name: string): number {
    return this.values.get(name) as number;
  }
  strings(name: string): string[] {
    return this.values.get(name) as string[];
  }
}

function flagLabel(d: FlagDef): string {
  return d.short ? `-${d.short}, --${d.name}` : `--${d.name}`;
}

function parseValue(d: FlagDef, raw: string, append: boolean, prev?: FlagValue): FlagValue {
  const bad = (why: string) => new FlagError(`invalid argument ${goQuoteSimple(raw)} for ${goQuoteSimple(flagLabel(d))} flag: ${why}`);
  switch (d.type) {
    case "bool": {
      const v = parseGoBool(raw);
      if (v === undefined) throw bad(`strconv.ParseBool: parsing ${goQuoteSimple(raw)}: invalid syntax`);
      return v;
    }
    case "string":
      return raw;
    case "int":
    case "int64": {
      const v = parseGoInt(raw);
      if (typeof v === "string") throw bad(`strconv.ParseInt: parsing ${goQuoteSimple(raw)}: ${v}`);
      return d.type === "int" ? Number(v) : v;
    }
    case "duration": {
      const v = parseGoDuration(raw);
      if (v === undefined) throw bad(`time: invalid duration ${goQuoteSimple(raw)}`);
      return v;
    }
    case "stringSlice": {
      const items = raw === "" ? [] : raw.split(",");
      return append && Array.isArray(prev) ? [...prev, ...items] : items;
    }
  }
}

function goQuoteSimple(s: string): string {
  return JSON.stringify(s);
}

export function parseGoBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

/** strconv.ParseInt(s, 0, 64): decimal, 0x hex, 0o/0 octal, 0b binary, underscores after a prefix. */
export function parseGoInt(s: string): bigint | "invalid syntax" | "value out of range" {
  let t = s;
  let neg = false;
  if (t.startsWith("+") || t.startsWith("-")) {
    neg = t[0] === "-";
    t = t.slice(1);
  }
  let base = 10;
  let digits = t;
  if (/^0[xX]/.test(t)) [base, digits] = [16, t.slice(2)];
  else if (/^0[bB]/.test(t)) [base, digits] = [2, t.slice(2)];
  else if (/^0[oO]/.test(t)) [base, digits] = [8, t.slice(2)];
  else if (/^0\d/.test(t)) [base, digits] = [8, t.slice(1)];
  if (base !== 10) digits = digits.replace(/_/g, "");
  const re = base === 16 ? /^[0-9a-fA-F]+$/ : base === 8 ? /^[0-7]+$/ : base === 2 ? /^[01]+$/ : /^\d+$/;
  if (!re.test(digits)) return "invalid syntax";
  let v = 0n;
  for (const ch of digits) v = v * BigInt(base) + BigInt(parseInt(ch, base));
  if (neg) v = -v;
  if (v > 9223372036854775807n || v < -9223372036854775808n) return "value out of range";
  return v;
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** time.ParseDuration, in milliseconds. */
export function parseGoDuration(s: string): number | undefined {
  let t = s;
  let neg = false;
  if (t.startsWith("-") || t.startsWith("+")) {
    neg = t[0] === "-";
    t = t.slice(1);
  }
  if (t === "0") return 0;
  if (t === "") return undefined;
  let total = 0;
  while (t !== "") {
    const m = /^(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/.exec(t);
    if (!m || m[1] === "" || m[1] === ".") return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    t = t.slice(m[0].length);
  }
  return neg ? -total : total;
}

/**
 * Splits args into flags (set on `fs`) and positional arguments. `--` ends flag parsing
 * (what follows is positional; `dashAt` says where it was).
 */
export function parseArgs(fs: FlagSet, args: string[]): { positional: string[]; dashAt: number } {
  const positional: string[] = [];
  let dashAt = -1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      dashAt = positional.length;
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const d = fs.find(name);
      if (d === undefined) throw new FlagError(`unknown flag: --${name}`);
      if (eq >= 0) fs.set(name, a.slice(eq + 1));
      else if (d.type === "bool") fs.set(name, "true");
      else {
        if (i + 1 >= args.length) throw new FlagError(`flag needs an argument: --${name}`);
        fs.set(name, args[++i]!);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      // Shorthand cluster: -abc, -w json, -wjson, -w=json.
      let j = 1;
      while (j < a.length) {
        const c = a[j]!;
        const d = fs.defs.find((x) => x.short === c);
        if (d === undefined) throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        const rest = a.slice(j + 1);
        if (d.type === "bool") {
          if (rest.startsWith("=")) {
            fs.set(d.name, rest.slice(1));
            break;
          }
          fs.set(d.name, "true");
          j++;
          continue;
        }
        if (rest !== "") fs.set(d.name, rest.startsWith("=") ? rest.slice(1) : rest);
        else {
          if (i + 1 >= args.length) throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
          fs.set(d.name, args[++i]!);
        }
        break;
      }
      continue;
    }
    positional.push(a);
  }
  return { positional, dashAt };
}

/** ETCDCTL_<FLAG> for every global flag not given on the command line (pkg/flags). */
export function applyEnv(
  fs: FlagSet,
  globals: FlagDef[],
  env: Record<string, string | undefined>,
  extraKnown: string[],
  warn: (line: string) => void,
): void {
  const used = new Set<string>();
  const shadowed = new Set<string>();
  for (const d of globals) {
    const key = `ETCDCTL_${d.name.toUpperCase().replace(/-/g, "_")}`;
    if (fs.changed.has(d.name)) {
      shadowed.add(key);
      continue;
    }
    const v = env[key];
    if (v !== undefined && v !== "") {
      used.add(key);
      try {
        fs.set(d.name, v);
      } catch {
        // etcdctl ignores the error (the flag keeps its default).
      }
    }
  }
  for (const k of extraKnown) used.add(k);
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || used.has(k)) continue;
    if (shadowed.has(k)) {
      throw new FlagError(`C | pkg/flags: conflicting environment variable "${k}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`);
    }
    if (k.startsWith("ETCDCTL_")) warn(`W | pkg/flags: unrecognized environment variable ${k}=${v}`);
  }
}

/** capnslog's line prefix: "2006-01-02 15:04:05.000000 ". */
export function logStamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const us = p(d.getMilliseconds(), 3) + "000";
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${us}`;
}
