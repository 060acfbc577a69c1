// Snapshot save and restore of a large database, Conclave beside Debian's etcd with the same
// data, for docs/benchmarks.md:
//
//   1. a synthetic etcd snapshot of about --mb MiB (--keys keys overwritten round-robin with
//      --value-bytes values: a long history, as a busy cluster keeps until compaction);
//   2. restored with `etcdctl snapshot restore` (etcd) and with Conclave's restore (the
//      function `conclave ctl snapshot restore` runs, in a process of its own): time, peak RSS;
//   3. each server started on its restored dir, then `etcdctl snapshot save` from it: time of
//      the save, peak RSS of the server during it (VmHWM after resetting it with clear_refs) and
//      of etcdctl; both saved files checked with `etcdctl snapshot status`.
//
//   node_modules/.bin/bun bench/snapshot.ts [--mb 1024] [--keys 10000] [--value-bytes 1024] [--rounds 1] [--dir /tmp/…]
//   ETCD_BIN / CONCLAVE_BIN / ETCDCTL_BIN override the executables; needs GNU time (/usr/bin/time).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePorts, writeSynthSnapshot } from "../test/helpers/index.ts";

const MB = 1 << 20;
const root = resolve(import.meta.dir, "..");
const ETCD = process.env.ETCD_BIN ?? "/usr/bin/etcd";
const ETCDCTL = process.env.ETCDCTL_BIN ?? "/usr/bin/etcdctl";
const CONCLAVE = process.env.CONCLAVE_BIN ?? join(root, "dist", "conclave");
const RESTORE_CHILD = join(root, "test", "snapshot", "restore-child.ts");
const TIME = "/usr/bin/time";

interface Args {
  mb: number;
  keys: number;
  valueBytes: number;
  rounds: number;
  dir: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { mb: 1024, keys: 10_000, valueBytes: 1024, rounds: 1, dir: undefined };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`missing value for ${a}`);
    if (a === "--mb") out.mb = Number(v);
    else if (a === "--keys") out.keys = Number(v);
    else if (a === "--value-bytes") out.valueBytes = Number(v);
    else if (a === "--rounds") out.rounds = Number(v);
    else if (a === "--dir") out.dir = v;
    else throw new Error(`unknown argument ${a}; usage: bench/snapshot.ts [--mb N] [--keys N] [--value-bytes N] [--rounds N] [--dir DIR]`);
  }
  for (const k of ["mb", "keys", "valueBytes", "rounds"] as const) {
    if (!Number.isSafeInteger(out[k]) || out[k] < 1) throw new Error(`--${k} must be a positive integer`);
  }
  return out;
}

/** Runs a command under GNU time: wall seconds and peak RSS of the command. */
function timed(cmd: string, args: string[], env?: Record<string, string>): { seconds: number; peakBytes: number; stdout: string } {
  const r = spawnSync(TIME, ["-f", "%e %M", cmd, ...args], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3", ...env }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const last = r.stderr.trim().split("\n").at(-1)!.split(" ");
  return { seconds: Number(last[0]), peakBytes: Number(last[1]) * 1024, stdout: r.stdout };
}

function procMemory(pid: number): { peak: number; now: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, "m").exec(s)![1]) * 1024;
  return { peak: kb("VmHWM"), now: kb("VmRSS") };
}

async function waitHealthy(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200 && ((await res.json()) as { health?: string }).health === "true") return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not healthy after ${ms} ms`);
}

interface Side {
  restoreSeconds: number;
  restorePeak: number;
  startSeconds: number;
  serverBefore: number;
  saveSeconds: number;
  serverPeak: number;
  ctlPeak: number;
  status: string;
}

async function runSide(target: "etcd" | "conclave", snapshot: string, work: string): Promise<Side> {
  const [client, peer] = await freePorts(2);
  const name = "bench";
  const peerURL = `http://127.0.0.1:${peer}`;
  const clientURL = `http://127.0.0.1:${client}`;
  const dataDir = join(work, `${target}.data`);
  rmSync(dataDir, { recursive: true, force: true });
  const restoreArgs = { snapshotPath: snapshot, name, dataDir, initialCluster: `${name}=${peerURL}`, initialAdvertisePeerUrls: peerURL };
  const restore =
    target === "etcd"
      ? timed(ETCDCTL, ["snapshot", "restore", snapshot, "--name", name, "--data-dir", dataDir, "--initial-cluster", `${name}=${peerURL}`, "--initial-advertise-peer-urls", peerURL])
      : timed(process.execPath, [RESTORE_CHILD, JSON.stringify(restoreArgs)]);
  const bin = target === "etcd" ? ETCD : CONCLAVE;
  const t0 = performance.now();
  const server = spawn(bin, ["--name", name, "--data-dir", dataDir, "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL, "--listen-peer-urls", peerURL], {
    stdio: ["ignore", "ignore", "ignore"],
  });
  try {
    await waitHealthy(clientURL, 300_000);
    const startSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 2000)); // let start-up work settle
    writeFileSync(`/proc/${server.pid}/clear_refs`, "5");
    const serverBefore = procMemory(server.pid!).now;
    const out = join(work, `${target}.saved.db`);
    const save = timed(ETCDCTL, [`--endpoints=127.0.0.1:${client}`, "snapshot", "save", out]);
    const serverPeak = procMemory(server.pid!).peak;
    const status = timed(ETCDCTL, ["snapshot", "status", out, "-w", "json"]).stdout.trim();
    rmSync(out, { force: true });
    return {
      restoreSeconds: restore.seconds,
      restorePeak: restore.peakBytes,
      startSeconds,
      serverBefore,
      saveSeconds: save.seconds,
      serverPeak,
      ctlPeak: save.peakBytes,
      status,
    };
  } finally {
    server.kill("SIGKILL");
    await new Promise((r) => server.on("close", r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  for (const f of [ETCD, ETCDCTL, CONCLAVE, TIME]) if (!existsSync(f)) throw new Error(`${f} not found`);
  const work = a.dir ?? mkdtempSync(join(tmpdir(), "bench-snapshot-"));
  const snapshot = join(work, "synth.db");
  // Revisions per 4 KiB page of the key bucket: element header, revision key, KeyValue (~35
  // bytes of fields and key name around the value); a value larger than a page overflows.
  const entry = 16 + 17 + a.valueBytes + 35;
  const perPage = Math.max(1, Math.floor((4096 - 16) / entry));
  const bytesPerRevision = entry > 4096 - 16 ? Math.ceil((entry + 16) / 4096) * 4096 : 4096 / perPage;
  const revisions = Math.max(a.keys, Math.round((a.mb * MB) / bytesPerRevision));
  const t0 = performance.now();
  const synth = await writeSynthSnapshot(snapshot, { keys: a.keys, revisions, valueBytes: a.valueBytes, leasedKeys: 100 });
  console.log(
    `synthetic snapshot: ${(synth.size / MB).toFixed(0)} MiB, ${revisions} revisions of ${a.keys} keys, ${a.valueBytes}-byte values (written in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const mib = (b: number) => `${(b / MB).toFixed(0)} MiB`;
  try {
    for (let round = 1; round <= a.rounds; round++) {
      const sides: Record<string, Side> = {};
      for (const target of ["etcd", "conclave"] as const) sides[target] = await runSide(target, snapshot, work);
      const e = sides.etcd!;
      const c = sides.conclave!;
      console.log(`\nround ${round} (load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`);
      console.log("| | etcd 3.4.23 | Conclave | ratio |");
      console.log("|---|---|---|---|");
      console.log(`| restore: time | ${e.restoreSeconds.toFixed(1)} s | ${c.restoreSeconds.toFixed(1)} s | ${(c.restoreSeconds / e.restoreSeconds).toFixed(2)} |`);
      console.log(`| restore: peak RSS | ${mib(e.restorePeak)} | ${mib(c.restorePeak)} | ${(c.restorePeak / e.restorePeak).toFixed(2)} |`);
      console.log(`| start on the restored dir → healthy | ${e.startSeconds.toFixed(1)} s | ${c.startSeconds.toFixed(1)} s | ${(c.startSeconds / e.startSeconds).toFixed(2)} |`);
      console.log(`| snapshot save: time | ${e.saveSeconds.toFixed(1)} s | ${c.saveSeconds.toFixed(1)} s | ${(c.saveSeconds / e.saveSeconds).toFixed(2)} |`);
      console.log(`| snapshot save: server RSS before → peak | ${mib(e.serverBefore)} → ${mib(e.serverPeak)} | ${mib(c.serverBefore)} → ${mib(c.serverPeak)} | ${(c.serverPeak / e.serverPeak).toFixed(2)} |`);
      console.log(`| snapshot save: etcdctl peak RSS | ${mib(e.ctlPeak)} | ${mib(c.ctlPeak)} | ${(c.ctlPeak / e.ctlPeak).toFixed(2)} |`);
      console.log(`| saved file, etcdctl snapshot status | ${e.status} | ${c.status} | |`);
    }
  } finally {
    if (a.dir === undefined) rmSync(work, { recursive: true, force: true });
    else rmSync(snapshot, { force: true });
  }
}

await main();
