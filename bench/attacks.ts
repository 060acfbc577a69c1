// Each client-port attack of the attack tests, run against Debian's etcd and our binary alike:
// a fresh member per attack, a normal client (sequential gRPC puts on its own connection)
// measured before and during the attack, and the member's RSS sampled. Prints one markdown
// table for docs/benchmarks.md.
//
//   node_modules/.bin/bun bench/attacks.ts [--ms 3000] [--only none,rapid-reset,ping-flood] [--targets etcd,conclave]
//   ETCD_BIN / CONCLAVE_BIN override the executables.
import { connect, type Socket } from "node:net";
import { resolve } from "node:path";
import { LatencyProbe, RssSampler, rssMiB, runAttacker, type LatencyStats } from "../test/helpers/attack.ts";
import type { AttackResult } from "../test/helpers/h2-attacker.ts";
import { Member } from "../test/helpers/index.ts";

const H2_ATTACKS = [
  "rapid-reset", "continuation-flood", "continuation-big", "hpack-bomb", "hpack-bomb-frames", "hpack-bomb-huge", "header-list",
  "ping-flood", "settings-flood-noread", "window-flood", "lower-stream", "bad-values",
];
/** Attacks run by this script itself rather than the attacker process. */
const LOCAL_ATTACKS = ["slowloris", "idle-connections"];
/**
 * The control: no attack, the normal client alone for the same time. Its RSS growth is what the
 * normal client's own garbage moves the peak by (the figure every attack's row includes).
 */
const CONTROL = "none";

interface Args {
  ms: number;
  only: string[];
  targets: string[];
}

function parseArgs(argv: string[]): Args {
  const out: Args = { ms: 3000, only: [CONTROL, ...H2_ATTACKS, ...LOCAL_ATTACKS], targets: ["etcd", "conclave"] };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error("usage: bench/attacks.ts [--ms N] [--only a,b] [--targets etcd,conclave]");
    if (a === "--ms") out.ms = Number(v);
    else if (a === "--only") out.only = v.split(",");
    else if (a === "--targets") out.targets = v.split(",");
    else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const binaries: Record<string, string> = {
  etcd: process.env.ETCD_BIN ?? "/usr/bin/etcd",
  conclave: process.env.CONCLAVE_BIN ?? resolve(import.meta.dir, "..", "dist", "conclave"),
};

/** Holds `n` connections that send a request header an octet a second, never ending it. */
async function slowloris(port: number, ms: number, n: number, headers: boolean): Promise<string> {
  const socks: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect(port, "127.0.0.1");
    s.on("error", () => {});
    s.resume();
    if (headers) s.write("GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    socks.push(s);
  }
  const drip = headers ? setInterval(() => socks.forEach((s) => !s.destroyed && s.write("a")), 1000) : undefined;
  await sleep(ms);
  clearInterval(drip);
  const closed = socks.filter((s) => s.destroyed).length;
  socks.forEach((s) => s.destroy());
  return `${closed}/${n} closed by the server`;
}

function summary(r: AttackResult): string {
  const parts = [`${r.connections} conn`];
  for (const [k, v] of Object.entries(r.goaways)) parts.push(`GOAWAY ${k} x${v}`);
  for (const [k, v] of Object.entries(r.statuses)) parts.push(`:status ${k} x${v}`);
  for (const [k, v] of Object.entries(r.resets)) parts.push(`RST ${k} x${v}`);
  if (r.closedSilently > 0) parts.push(`closed x${r.closedSilently}`);
  return parts.join(", ");
}

const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");

async function one(target: string, kind: string, ms: number): Promise<string> {
  const m = await Member.start({ bin: binaries[target] });
  const probe = new LatencyProbe(m.clientPort);
  try {
    probe.phase("warmup");
    await sleep(1000);
    probe.phase("baseline");
    await sleep(1500);
    const pid = m.process.pid!;
    const before = rssMiB(pid);
    const rss = new RssSampler(pid);
    probe.phase("during");
    let outcome: string;
    if (kind === CONTROL) outcome = await sleep(ms).then(() => "(no attack)");
    else if (kind === "slowloris") outcome = await slowloris(m.clientPort, Math.max(ms, 12_000), 1000, true);
    else if (kind === "idle-connections") outcome = await slowloris(m.clientPort, Math.max(ms, 12_000), 3000, false);
    else outcome = summary(await runAttacker(kind, m.clientPort, ms));
    probe.phase("after");
    await sleep(1000);
    const peak = rss.stop();
    const alive = m.running ? "" : " (member died)";
    const [b, d, a]: LatencyStats[] = ["baseline", "during", "after"].map((p) => probe.stats(p));
    return `| ${kind} | ${target}${alive} | ${f(b!.p99)} | ${f(d!.p99)} | ${f(d!.max)} | ${d!.failures} | ${f(a!.p99)} | ${f(before)} | ${f(peak)} | ${outcome} |`;
  } finally {
    await probe.stop().catch(() => {});
    await m.cleanup();
  }
}

const args = parseArgs(process.argv.slice(2));
console.log(`attacks of ${args.ms} ms (slowloris and idle connections: 12 s), load: ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
console.log("| attack | server | put p99 before (ms) | p99 during | max during | failed puts | p99 after | RSS before (MiB) | RSS peak | what the attacker got |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const kind of args.only) {
  for (const target of args.targets) console.log(await one(target, kind, args.ms));
}
process.exit(0);
