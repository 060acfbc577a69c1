// Discovery service throughput, on the compiled binary:
//   1. /new requests per second (C concurrent keep-alive clients, N requests);
//   2. a 100-token burst: 100 tokens of size 3, then 300 members joining at once with etcd's
//      whole v2 discovery protocol (the member's own client: size, listing, register,
//      confirm long poll, listing again, recursive long polls until all three are there);
//      registrations per second = 300 / time until the last join returned.
// Both with the embedded database and with --etcd pointing at one Conclave member.
//
//   npm run build && node_modules/.bin/bun bench/discovery.ts [--clients 32] [--requests 5000]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createHttpClient, joinV2Discovery } from "../src/bootstrap/index.ts";
import { LineProcess } from "../test/helpers/line-process.ts";
import { freePort, freePorts } from "../test/helpers/ports.ts";
import { pollUntil } from "../test/helpers/wait.ts";

const BIN = process.env.CONCLAVE_BIN ?? resolve(import.meta.dir, "..", "dist", "conclave");
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const CLIENTS = arg("clients", 32);
const REQUESTS = arg("requests", 5000);
const TOKENS = arg("tokens", 100);

async function healthy(url: string, p: LineProcess, path = "/health"): Promise<void> {
  await pollUntil(
    async () => {
      if (p.hasExited) throw new Error(p.describe());
      try {
        return (await fetch(`${url}${path}`)).status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    },
    20_000,
    `${url} healthy`,
  );
}

async function newRate(url: string): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < REQUESTS) {
        next++;
        const r = await fetch(`${url}/new?size=3`);
        await r.text();
        if (r.status !== 200) throw new Error(`/new: ${r.status}`);
      }
    }),
  );
  return REQUESTS / ((performance.now() - t0) / 1000);
}

async function burst(url: string): Promise<{ perSecond: number; seconds: number }> {
  const tokens = await Promise.all(Array.from({ length: TOKENS }, async () => (await fetch(`${url}/new?size=3`)).text()));
  const quiet = { info() {}, warn() {}, error() {} };
  const t0 = performance.now();
  let id = 1n;
  await Promise.all(
    tokens.flatMap((token) =>
      [1, 2, 3].map((i) => {
        const memberId = id++;
        // Each joining member has its own connections, as separate processes would.
        const http = createHttpClient();
        return joinV2Discovery({ url: token, memberId, config: `m${i}=http://10.0.${i}.1:2380`, http, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), logger: quiet }).finally(() => http.close());
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: (TOKENS * 3) / seconds, seconds };
}

async function run(label: string, extra: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-disc-"));
  const port = await freePort();
  const p = new LineProcess(BIN, ["discovery", "--addr", `127.0.0.1:${port}`, "--data-dir", join(dir, "d"), "--new-rate", "0", ...extra], { maxLines: 100 });
  const url = `http://127.0.0.1:${port}`;
  try {
    await healthy(url, p);
    const rps = await newRate(url);
    const b = await burst(url);
    console.log(`${label.padEnd(28)} /new ${rps.toFixed(0).padStart(6)} req/s   100-token burst: ${b.perSecond.toFixed(0).padStart(5)} registrations/s (${b.seconds.toFixed(2)} s for ${TOKENS * 3} joins)`);
  } finally {
    await p.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`conclave discovery, ${CLIENTS} clients, ${REQUESTS} /new requests, ${TOKENS} tokens of size 3`);
await run("embedded database", []);
const dir = mkdtempSync(join(tmpdir(), "bench-disc-member-"));
const [client, peer] = await freePorts(2);
const member = new LineProcess(
  BIN,
  [
    "--data-dir", join(dir, "m"),
    "--listen-client-urls", `http://127.0.0.1:${client}`, "--advertise-client-urls", `http://127.0.0.1:${client}`,
    "--listen-peer-urls", `http://127.0.0.1:${peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peer}`,
    "--initial-cluster", `default=http://127.0.0.1:${peer}`,
  ],
  { maxLines: 100 },
);
try {
  await healthy(`http://127.0.0.1:${client}`, member);
  await run("--etcd (one Conclave member)", ["--etcd", `http://127.0.0.1:${client}`]);
} finally {
  await member.kill();
  rmSync(dir, { recursive: true, force: true });
}
