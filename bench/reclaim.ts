// Compaction + defrag of a large state file while one client writes, on etcd and Conclave in
// the same run: a synthetic snapshot (~1.3 KB per revision, 8 revisions per key, as 400k puts of
// 1 KB values on 50k keys) restored with each server's own tool, then `etcdctl compaction
// --physical <latest>` and `etcdctl defrag` (default 5 s command timeout) while a client puts
// through the JSON gateway, one put after the other.
// Prints per server: compaction and defrag wall time, defrag's exit, dbSize before/after, puts
// during, the slowest put (the longest write stall), and the ratio Conclave ÷ etcd.
// Usage: bun bench/reclaim.ts [--mb 500] [--conclave dist/conclave] [--targets etcd,conclave]
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Ctl, Gateway, makeTempDir, Member, PacedWriter, REPO_ROOT, removeDir, runEtcdctl, writeSynthSnapshot } from "../test/helpers/index.ts";

const { values } = parseArgs({
  options: {
    mb: { type: "string", default: "500" },
    conclave: { type: "string", default: resolve(REPO_ROOT, "dist", "conclave") },
    targets: { type: "string", default: "etcd,conclave" },
  },
});
const MB = 1 << 20;
const revisions = Math.round((Number(values.mb) * MB) / 1330);
const keys = Math.round(revisions / 8);
const dir = makeTempDir("bench-reclaim");
const snap = join(dir, "synth.db");
const { revision } = await writeSynthSnapshot(snap, { keys, revisions, valueBytes: 1200 });

interface Result {
  compactMs: number;
  defragMs: number;
  defragExit: string;
  before: number;
  after: number;
  inUse: number;
  puts: number;
  slowestMs: number;
}

async function run(target: "etcd" | "conclave"): Promise<Result> {
  const dataDir = join(dir, `${target}.data`);
  const r =
    target === "etcd"
      ? spawnSync("/usr/bin/etcdctl", ["snapshot", "restore", snap, "--name", "default", "--data-dir", dataDir], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } })
      : spawnSync(values.conclave!, ["ctl", "snapshot", "restore", snap, "--name", "default", "--data-dir", dataDir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${target} restore: ${r.stderr}`);
  const m = await Member.start({ name: "default", dataDir, bin: target === "etcd" ? "/usr/bin/etcd" : values.conclave!, healthTimeoutMs: 120_000 });
  try {
    const ctl = new Ctl(m.endpoint);
    const gw = new Gateway(m.clientURL);
    const st = async () => (JSON.parse(await ctl.ok("endpoint", "status", "-w", "json")) as Array<{ Status: { dbSize: number; dbSizeInUse: number } }>)[0]!.Status;
    const before = (await st()).dbSize;
    const writer = new PacedWriter(gw);
    await new Promise((res) => setTimeout(res, 500));
    const t0 = performance.now();
    const c = await runEtcdctl(m.endpoint, ["compaction", "--physical", String(revision), "--command-timeout=300s"], { timeoutMs: 310_000 });
    if (c.code !== 0) throw new Error(`${target} compaction: ${c.stderr}`);
    const compactMs = performance.now() - t0;
    const d = await runEtcdctl(m.endpoint, ["defrag"], { timeoutMs: 310_000 });
    const defragMs = performance.now() - t0 - compactMs;
    // etcdctl's timeout does not stop a defrag in the member: wait until it is done.
    let s = await st();
    for (let i = 0; i < 600 && s.dbSize > s.dbSizeInUse * 1.5; i++) {
      await new Promise((res) => setTimeout(res, 100));
      s = await st();
    }
    await new Promise((res) => setTimeout(res, 500));
    await writer.stop();
    return {
      compactMs, defragMs, defragExit: d.code === 0 ? "ok" : (d.stderr.trim().split("\n").pop() ?? `exit ${d.code}`),
      before, after: s.dbSize, inUse: s.dbSizeInUse, puts: writer.puts, slowestMs: writer.slowestMs,
    };
  } finally {
    await m.cleanup();
    removeDir(dataDir);
  }
}

const results = new Map<string, Result>();
console.log(`## reclaim ${values.mb} MB (${revisions} revisions, ${keys} keys) load: ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
for (const t of values.targets!.split(",") as Array<"etcd" | "conclave">) {
  const x = await run(t);
  results.set(t, x);
  console.log(
    `${t}: compaction --physical ${Math.round(x.compactMs)} ms, defrag ${Math.round(x.defragMs)} ms (${x.defragExit}), ` +
      `dbSize ${Math.round(x.before / MB)} → ${Math.round(x.after / MB)} MB (in use ${Math.round(x.inUse / MB)}), ${x.puts} puts, slowest put ${Math.round(x.slowestMs)} ms`,
  );
}
const e = results.get("etcd");
const c = results.get("conclave");
if (e && c) {
  console.log(`ratio conclave/etcd: slowest put ${(c.slowestMs / e.slowestMs).toFixed(2)}, compaction ${(c.compactMs / e.compactMs).toFixed(2)}, defrag ${(c.defragMs / e.defragMs).toFixed(2)}`);
}
removeDir(dir);
