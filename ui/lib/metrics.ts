// Reads the member's own Prometheus text (/metrics) into sums per metric name.

export function parseMetrics(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + v);
  }
  return out;
}

/** Sum of the samples of `name` whose label set contains `label` (e.g. 'grpc_type="unary"'). */
export function sumWithLabel(body: string, name: string, label: string): number {
  let sum = 0;
  for (const line of body.split("\n")) {
    if (!line.startsWith(name + "{") || !line.includes(label)) continue;
    const v = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}
