// Wall time per one-shot invocation: `conclave ctl put/get` against Debian's `etcdctl put/get`,
// both against the same member (a Conclave member started here on loopback ports), and
// `conclave --version` against `etcdctl version` and `etcd --version`, interleaved.
// Run: npm run build && node_modules/.bin/bun bench/ctl-startup.ts [runs]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { resolve } from "node:path";

const runs = Number(process.argv[2] ?? 40);
const bin = resolve(import.meta.dir, "..", "dist", "conclave");
const dir = mkdtempSync("/tmp/ctl-bench-");
const port = 20000 + Math.floor(Math.random() * 20000);
const member = spawn(bin, ["--data-dir", `${dir}/d`, "--listen-client-urls", `http://127.0.0.1:${port}`, "--advertise-client-urls", `http://127.0.0.1:${port}`,
  "--listen-peer-urls", `http://127.0.0.1:${port + 1}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${port + 1}`, "--initial-cluster", `default=http://127.0.0.1:${port + 1}`], { stdio: "ignore" });
const ep = `--endpoints=127.0.0.1:${port}`;
const env = { ...process.env, ETCDCTL_API: "3" };

function time(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
  return performance.now() - t;
}

try {
  for (let i = 0; i < 100; i++) {
    if (spawnSync("/usr/bin/etcdctl", [ep, "put", "bench/k", "v"], { env, stdio: "ignore" }).status === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const cases: Array<[string, string, string[]]> = [
    ["etcdctl put", "/usr/bin/etcdctl", [ep, "put", "bench/k", "v"]],
    ["conclave ctl put", bin, ["ctl", ep, "put", "bench/k", "v"]],
    ["etcdctl get", "/usr/bin/etcdctl", [ep, "get", "bench/k"]],
    ["conclave ctl get", bin, ["ctl", ep, "get", "bench/k"]],
    ["etcdctl version", "/usr/bin/etcdctl", ["version"]],
    ["etcd --version", "/usr/bin/etcd", ["--version"]],
    ["conclave --version", bin, ["--version"]],
  ];
  const samples = new Map<string, number[]>(cases.map(([n]) => [n, []]));
  for (let i = 0; i < runs; i++) for (const [n, c, a] of cases) samples.get(n)!.push(time(c, a));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const [n] of cases) console.log(`${n.padEnd(18)} median ${med(samples.get(n)!).toFixed(1)} ms  mean ${mean(samples.get(n)!).toFixed(1)} ms  (${runs} runs)`);
  for (const op of ["put", "get"]) {
    console.log(`ratio ${op}: ${(med(samples.get(`conclave ctl ${op}`)!) / med(samples.get(`etcdctl ${op}`)!)).toFixed(2)}x (medians)`);
  }
  const v = med(samples.get("conclave --version")!);
  console.log(`ratio --version: ${(v / med(samples.get("etcdctl version")!)).toFixed(2)}x etcdctl version, ${(v / med(samples.get("etcd --version")!)).toFixed(2)}x etcd --version (medians)`);
} finally {
  member.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
