// Prometheus primitives and the text exposition format, printed as Go's client_golang prints
// them (etcd's /metrics): families sorted by name, series by label values, label pairs by
// name, floats in strconv's shortest 'g' form ("0.001", "8.192", "2.147483648e+09", "+Inf").
// Dashboards and alerts written for etcd (histogram_quantile over `_bucket` with etcd's bounds)
// read these as they read etcd's. Metrics are plain objects: the hot path only adds to a field.

export type MetricType = "counter" | "gauge" | "histogram";

/** A monotonically increasing value. */
export class Counter {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

/** A value that goes up and down. */
export class Gauge {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

/** client_golang's ExponentialBuckets(start, factor, count). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  let b = start;
  for (let i = 0; i < count; i++) {
    out.push(b);
    b *= factor;
  }
  return out;
}

/** A histogram with fixed upper bounds (`le`); the +Inf bucket is the count. */
export class Histogram {
  /** Per bucket, not cumulative; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

type Metric = Counter | Gauge | Histogram;

/** Go's strconv.FormatFloat(v, 'g', -1, 64), as the text format writes sample values. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  // toExponential() with no digits argument gives the shortest digits that read back as v.
  const e = v.toExponential();
  const at = e.indexOf("e");
  const exp = Number(e.slice(at + 1));
  // Go: %e when the exponent is under -4 or at least 6 (the shortest form's precision).
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? "-" : "+";
    const digits = String(Math.abs(exp)).padStart(2, "0");
    return `${e.slice(0, at)}e${sign}${digits}`;
  }
  // In this range JavaScript's own shortest form is positional, as Go's %f of those digits.
  return String(v);
}

/** A label value in the text format: backslash, double quote and newline escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** HELP text: backslash and newline escaped. */
export function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

interface Child<M> {
  /** `name="value",...` in label-name order; "" without labels. */
  readonly labels: string;
  readonly metric: M;
}

/** One metric family: a name, its help and type, and a series per label-value combination. */
export class Family<M extends Metric> {
  private readonly children = new Map<string, Child<M>>();
  /** Label names in Go's order (sorted), and where each sits in with()'s arguments. */
  private readonly sortedNames: string[];
  private readonly order: number[];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
    private readonly make: () => M,
  ) {
    this.order = labelNames.map((_, i) => i).sort((a, b) => (labelNames[a]! < labelNames[b]! ? -1 : 1));
    this.sortedNames = this.order.map((i) => labelNames[i]!);
  }

  /** The series for these label values (in labelNames' order), created at zero. */
  with(...values: string[]): M {
    const key = values.join("\u0000");
    let c = this.children.get(key);
    if (c === undefined) {
      if (values.length !== this.labelNames.length) throw new Error(`${this.name}: ${values.length} label values for ${this.labelNames.length} labels`);
      const labels = this.order.map((i, j) => `${this.sortedNames[j]}="${escapeLabelValue(values[i]!)}"`).join(",");
      c = { labels, metric: this.make() };
      this.children.set(key, c);
    }
    return c.metric;
  }

  /** Drops every series (a gauge vector rebuilt on each scrape). */
  reset(): void {
    this.children.clear();
  }

  /** The family's text; "" when it has no series (Go's client prints nothing for it then). */
  render(): string {
    if (this.children.size === 0) return "";
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    const series = [...this.children.values()].sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0));
    for (const { labels, metric } of series) {
      if (metric instanceof Histogram) out += renderHistogram(this.name, labels, metric);
      else out += `${this.name}${labels === "" ? "" : `{${labels}}`} ${formatFloat(metric.value)}\n`;
    }
    return out;
  }
}

function renderHistogram(name: string, labels: string, h: Histogram): string {
  const pre = labels === "" ? "" : `${labels},`;
  let out = "";
  let cum = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cum += h.counts[i]!;
    out += `${name}_bucket{${pre}le="${formatFloat(h.bounds[i]!)}"} ${formatFloat(cum)}\n`;
  }
  out += `${name}_bucket{${pre}le="+Inf"} ${formatFloat(h.count)}\n`;
  const braces = labels === "" ? "" : `{${labels}}`;
  out += `${name}_sum${braces} ${formatFloat(h.sum)}\n${name}_count${braces} ${formatFloat(h.count)}\n`;
  return out;
}

/** The families one member exports; rendered in name order as Go's registry gathers them. */
export class Registry {
  private readonly families = new Map<string, Family<Metric>>();
  /** Run before rendering: gauges read from the member's parts at scrape time. */
  private readonly collectors: (() => void)[] = [];

  /** Adds a family built elsewhere (e.g. one a part of the member owns). */
  register<M extends Metric>(f: Family<M>): void {
    this.add(f);
  }

  private add<M extends Metric>(f: Family<M>): Family<M> {
    if (this.families.has(f.name)) throw new Error(`metric ${f.name} registered twice`);
    this.families.set(f.name, f as unknown as Family<Metric>);
    return f;
  }

  counter(name: string, help: string): Counter {
    return this.add(new Family(name, help, "counter", [], () => new Counter())).with();
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Family(name, help, "gauge", [], () => new Gauge())).with();
  }
  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    return this.add(new Family(name, help, "histogram", [], () => new Histogram(bounds))).with();
  }
  counterVec(name: string, help: string, labelNames: readonly string[]): Family<Counter> {
    return this.add(new Family(name, help, "counter", labelNames, () => new Counter()));
  }
  gaugeVec(name: string, help: string, labelNames: readonly string[]): Family<Gauge> {
    return this.add(new Family(name, help, "gauge", labelNames, () => new Gauge()));
  }
  histogramVec(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): Family<Histogram> {
    return this.add(new Family(name, help, "histogram", labelNames, () => new Histogram(bounds)));
  }

  /** A gauge whose value is read when scraped (client_golang's GaugeFunc). */
  gaugeFunc(name: string, help: string, read: () => number): void {
    const g = this.gauge(name, help);
    this.collectors.push(() => g.set(read()));
  }

  /** A counter read when scraped: a total another part keeps (client_golang's CounterFunc). */
  counterFunc(name: string, help: string, read: () => number): void {
    const c = this.counter(name, help);
    this.collectors.push(() => (c.value = read()));
  }

  /** Runs `fn` before each scrape (e.g. to rebuild a gauge vector from current state). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  render(): string {
    for (const c of this.collectors) c();
    let out = "";
    for (const name of [...this.families.keys()].sort()) out += this.families.get(name)!.render();
    return out;
  }
}
