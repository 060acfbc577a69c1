// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every
// sample must belong to the family declared by the HELP/TYPE lines before it, each family is
// declared once and its samples are contiguous, and no series (name plus label set) repeats.
// Throws with the offending line otherwise.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromFamily {
  readonly name: string;
  help: string | undefined;
  type: string | undefined;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function unescapeLabel(v: string, line: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => {
    if (c === "n") return "\n";
    if (c === "\\" || c === '"') return c;
    throw new Error(`bad escape \\${c} in: ${line}`);
  });
}

/** Label pairs of `{...}` (without the braces). */
function parseLabels(body: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf("=", i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = body.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (body[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let j = eq + 2;
    while (j < body.length && body[j] !== '"') j += body[j] === "\\" ? 2 : 1;
    if (j >= body.length) throw new Error(`unterminated label value in: ${line}`);
    if (name in out) throw new Error(`label ${name} twice in: ${line}`);
    out[name] = unescapeLabel(body.slice(eq + 2, j), line);
    i = j + 1;
    if (body[i] === ",") i++;
    else if (i < body.length) throw new Error(`bad label separator in: ${line}`);
  }
  return out;
}

function parseValue(s: string, line: string): number {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`bad value ${JSON.stringify(s)} in: ${line}`);
  return Number(s);
}

/** The family a sample name belongs to, given the declared type. */
function belongs(sample: string, f: PromFamily): boolean {
  if (sample === f.name) return f.type !== "histogram";
  if (f.type === "histogram") return sample === `${f.name}_bucket` || sample === `${f.name}_sum` || sample === `${f.name}_count`;
  if (f.type === "summary") return sample === `${f.name}_sum` || sample === `${f.name}_count`;
  return false;
}

export function parseExposition(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const series = new Set<string>();
  let current: PromFamily | undefined;
  if (!text.endsWith("\n")) throw new Error("the text does not end with a newline");
  const declare = (name: string, line: string): PromFamily => {
    if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
    if (current?.name === name) return current;
    if (families.has(name)) throw new Error(`family ${name} declared again (not contiguous): ${line}`);
    current = { name, help: undefined, type: undefined, samples: [] };
    families.set(name, current);
    return current;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const rest = line.slice(7);
      const sp = rest.indexOf(" ");
      const f = declare(sp < 0 ? rest : rest.slice(0, sp), line);
      if (f.help !== undefined || f.samples.length > 0) throw new Error(`HELP repeated or after samples: ${line}`);
      f.help = sp < 0 ? "" : rest.slice(sp + 1).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type, extra] = line.slice(7).split(" ");
      const f = declare(name!, line);
      if (f.type !== undefined || f.samples.length > 0) throw new Error(`TYPE repeated or after samples: ${line}`);
      if (extra !== undefined || !["counter", "gauge", "histogram", "summary", "untyped"].includes(type ?? "")) throw new Error(`bad TYPE line: ${line}`);
      f.type = type;
      continue;
    }
    if (line.startsWith("#")) continue;
    if (line === "") throw new Error("empty line in the text");
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`malformed sample line: ${line}`);
    const name = m[1]!;
    if (current === undefined || current.type === undefined || !belongs(name, current)) {
      throw new Error(`sample outside a declared family (current: ${current?.name ?? "none"}): ${line}`);
    }
    const labels = parseLabels(m[2] ?? "", line);
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(",")}}`;
    if (series.has(key)) throw new Error(`duplicate series ${key}`);
    series.add(key);
    current.samples.push({ name, labels, value: parseValue(m[3]!, line) });
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined if none. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/**
 * Checks one histogram family: per series, `le` bounds ascending and ending with +Inf, counts
 * cumulative, `_count` equal to the +Inf bucket. Returns each series' bounds (as printed).
 */
export function checkHistogram(f: PromFamily): string[][] {
  const bySeries = new Map<string, { les: string[]; counts: number[]; count?: number; sum?: number }>();
  const seriesKey = (labels: Readonly<Record<string, string>>) =>
    JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort(([a], [b]) => (a < b ? -1 : 1)));
  for (const s of f.samples) {
    const k = seriesKey(s.labels);
    const e = bySeries.get(k) ?? { les: [], counts: [] };
    bySeries.set(k, e);
    if (s.name.endsWith("_bucket")) {
      const le = s.labels.le;
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      e.les.push(le);
      e.counts.push(s.value);
    } else if (s.name.endsWith("_count")) e.count = s.value;
    else e.sum = s.value;
  }
  const out: string[][] = [];
  for (const [k, e] of bySeries) {
    const where = `${f.name}${k}`;
    if (e.les.at(-1) !== "+Inf") throw new Error(`${where}: last bucket is not +Inf`);
    const bounds = e.les.map((s) => (s === "+Inf" ? Infinity : Number(s)));
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error(`${where}: le not ascending at ${e.les[i]}`);
      if (e.counts[i]! < e.counts[i - 1]!) throw new Error(`${where}: bucket counts not cumulative at le=${e.les[i]}`);
    }
    if (e.count === undefined || e.sum === undefined) throw new Error(`${where}: no _count or _sum`);
    if (e.count !== e.counts.at(-1)) throw new Error(`${where}: _count ${e.count} is not the +Inf bucket ${e.counts.at(-1)}`);
    out.push(e.les);
  }
  return out;
}
