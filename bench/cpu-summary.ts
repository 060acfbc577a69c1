// Summarises a .cpuprofile (bun --cpu-prof): self time by function and by source area.
// Usage: bun bench/cpu-summary.ts profile.cpuprofile [top=30]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const prof = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const top = Number(process.argv[3] ?? 30);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

function area(url: string): string {
  const m = /\/(src\/[^/]+(?:\/[^/]+)?|node_modules\/[^/]+(?:\/[^/]+)?)\//.exec(url);
  if (m) return m[1]!;
  return url === "" ? "(native/runtime)" : url.replace(/^.*\//, "");
}
const fn = new Map<string, number>();
const ar = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const f = n.callFrame;
  const name = `${f.functionName || "(anonymous)"}  ${f.url.replace(/^.*\/(src|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
  fn.set(name, (fn.get(name) ?? 0) + t);
  const a = f.functionName === "(garbage collector)" ? "(gc)" : f.functionName === "(idle)" || f.functionName === "(program)" ? f.functionName : area(f.url);
  ar.set(a, (ar.get(a) ?? 0) + t);
}
// Inclusive time: a sample counts once for every distinct function on its stack.
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: Node) => `${n.callFrame.functionName || "(anonymous)"}  ${n.callFrame.url.replace(/^.*\/(src|node_modules)\//, "$1/")}:${n.callFrame.lineNumber + 1}`;
const incl = new Map<string, number>();
for (const [id, t] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + t);
  }
}
const pct = (t: number) => ((100 * t) / total).toFixed(1).padStart(5) + "%";
console.log(`total sampled: ${(total / 1e6).toFixed(2)} s`);
console.log("\n-- self time by area --");
for (const [a, t] of [...ar].sort((x, y) => y[1] - x[1]).slice(0, 20)) console.log(pct(t), a);
console.log("\n-- self time by function --");
for (const [f, t] of [...fn].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(pct(t), f);
console.log("\n-- inclusive time, src/ functions --");
for (const [f, t] of [...incl].filter(([f]) => f.includes("src/")).sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(pct(t), f);
