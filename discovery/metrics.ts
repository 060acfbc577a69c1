// Prometheus counters of the discovery service: etcd's discoveryserver names for requests
// ({code, method}) plus the service's own.

type Labels = Record<string, string>;

export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly gauges = new Map<string, { help: string; read: () => Promise<number | undefined> | number | undefined }>();

  counter(name: string, help: string): void {
    this.counters.set(name, { help, values: new Map() });
  }

  gauge(name: string, help: string, read: () => Promise<number | undefined> | number | undefined): void {
    this.gauges.set(name, { help, read });
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const c = this.counters.get(name);
    if (c === undefined) throw new Error(`metric ${name} not declared`);
    const key = Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`)
      .join(",");
    c.values.set(key, (c.values.get(key) ?? 0) + by);
  }

  /** The text exposition format (version 0.0.4). */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      if (c.values.size === 0) out.push(`${name} 0`);
      for (const [labels, v] of c.values) out.push(`${name}${labels === "" ? "" : `{${labels}}`} ${v}`);
    }
    for (const [name, g] of this.gauges) {
      const v = await g.read();
      if (v === undefined) continue;
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${v}`);
    }
    return `${out.join("\n")}\n`;
  }
}
