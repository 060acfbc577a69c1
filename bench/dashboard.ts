// The dashboard's first load and its cost to the member while a tab stays open.
//
//   node_modules/.bin/bun bench/dashboard.ts [--loads 5] [--seconds 60]
//
// On a 3-member cluster of dist/conclave (loopback, the tests' fast Raft timing), with Debian's
// chromium (headless, driven by playwright-core):
//   - first load, cold (a fresh profile each time): bytes transferred for the page and its
//     assets (compressed, headers included), DOMContentLoaded, and the time until the Cluster
//     view shows every member's status (the page is usable);
//   - CPU of each member (utime + stime from /proc) over `--seconds` with no dashboard open,
//     then over the same time with one tab open on the Cluster view (it refreshes every 2 s).
import { readFileSync } from "node:fs";
import { TestBrowser } from "../test/helpers/browser.ts";
import { Cluster, delay } from "../test/helpers/index.ts";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const LOADS = arg("loads", 5);
const SECONDS = arg("seconds", 60);
const TICK = 100; // clock ticks per second on Linux (sysconf(_SC_CLK_TCK))

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime
}

async function cpuOver(c: Cluster, seconds: number): Promise<number[]> {
  const pids = c.members.map((m) => m.process.pid!);
  const start = pids.map(cpuTicks);
  const t0 = performance.now();
  await delay(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  return pids.map((p, i) => ((cpuTicks(p) - start[i]!) / TICK / elapsed) * 100);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => xs.map((x) => `${x.toFixed(2)} %`).join(", ");

const cluster = await Cluster.start({ size: 3, namePrefix: "bench" });
try {
  const url = `${cluster.members[0]!.clientURL}/ui`;
  const bytes: number[] = [];
  const dcl: number[] = [];
  const ready: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const b = await TestBrowser.open();
    try {
      const { page } = await b.page();
      let transferred = 0;
      const pending: Promise<void>[] = [];
      page.on("requestfinished", (r) => {
        if (!new URL(r.url()).pathname.startsWith("/ui")) return;
        pending.push(r.sizes().then((s) => void (transferred += s.responseBodySize + s.responseHeadersSize)));
      });
      const t0 = Date.now();
      await page.goto(url, { waitUntil: "domcontentloaded" });
      const tDcl = Date.now() - t0;
      await page.locator('[data-testid="raft-index"]').nth(2).filter({ hasText: /\d/ }).waitFor({ timeout: 30_000 });
      const tReady = Date.now() - t0;
      await Promise.all(pending);
      bytes.push(transferred);
      dcl.push(tDcl);
      ready.push(tReady);
      console.log(`load ${i + 1}: ${transferred} bytes, DOMContentLoaded ${tDcl} ms, cluster view ready ${tReady} ms`);
    } finally {
      await b.close();
    }
  }
  console.log(`first load: ${median(bytes)} bytes transferred (median), DOMContentLoaded ${median(dcl)} ms, usable ${median(ready)} ms (median of ${LOADS})`);

  await delay(2000);
  const idle = await cpuOver(cluster, SECONDS);
  console.log(`CPU, no dashboard open (${SECONDS} s): ${fmt(idle)} (members ${cluster.members.map((m) => m.name).join(", ")}; the first serves the page)`);
  const b = await TestBrowser.open();
  try {
    const { page } = await b.page();
    await page.goto(`${url}#/cluster`);
    await page.locator('[data-testid="raft-index"]').nth(2).filter({ hasText: /\d/ }).waitFor({ timeout: 30_000 });
    const open = await cpuOver(cluster, SECONDS);
    console.log(`CPU, one tab on the Cluster view (${SECONDS} s): ${fmt(open)}`);
    console.log(`added by the open tab: ${fmt(open.map((x, i) => x - idle[i]!))} of a core`);
  } finally {
    await b.close();
  }
} finally {
  await cluster.cleanup();
}
