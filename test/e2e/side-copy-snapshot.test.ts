// A snapshot streamed while the free space goes back by a side copy (side-copy-switch.ts): an
// `etcdctl snapshot save` begun during the copy is a valid etcd snapshot at one revision that
// holds every write acknowledged before it began; the switch then happens (one `switch` step,
// no in-place reclamation) and the space comes back.
//
// Conclave only (the side copy and the step histogram are ours).
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { AckedWriter, Ctl, delay, Gateway, makeTempDir, Member, REPO_ROOT, removeDir, runEtcdctl, writeSynthSnapshot } from "../helpers/index.ts";

// ~83 MB, ~21 MB live after compaction.
const SPEC = { keys: 16_000, revisions: 64_000, valueBytes: 1200 };
const CONCLAVE = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");
const METRIC = "etcd_debugging_server_apply_step_duration_seconds";
const MB = 1 << 20;

const dir = makeTempDir("side-copy-snapshot");
let member: Member | undefined;
afterAll(async () => {
  await member?.cleanup();
  removeDir(dir);
});

async function stepCount(m: Member, step: string): Promise<number> {
  const text = await (await fetch(`${m.clientURL}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${METRIC}_count{step="${step}"} `));
  return Number(line?.split(" ")[1] ?? NaN);
}

test("snapshot save during a side copy: a consistent image, then the switch", async () => {
  const snap = join(dir, "synth.db");
  const { revision } = await writeSynthSnapshot(snap, SPEC);
  const dataDir = join(dir, "data");
  const r = spawnSync(CONCLAVE, ["ctl", "snapshot", "restore", snap, "--name", "default", "--data-dir", dataDir], { encoding: "utf8" });
  expect(`${r.status} ${r.stderr}`).toMatch(/^0 /);
  const env = { ...(process.env as Record<string, string>), CONCLAVE_TEST_SIDE_COPY_STOP: "replay:2000" };
  member = await Member.start({ name: "default", dataDir, bin: CONCLAVE, healthTimeoutMs: 60_000, env });
  const m = member;
  const ctl = new Ctl(m.endpoint);
  const writer = new AckedWriter(new Gateway(m.clientURL));
  await delay(200);

  // The compaction frees most of the file and the reclamation after it makes the side copy,
  // which stops for 2 s after the copy (a test hook); meanwhile an etcdctl snapshot save runs.
  const c = await runEtcdctl(m.endpoint, ["compaction", "--physical", String(revision), "--command-timeout=60s"], { timeoutMs: 70_000 });
  expect(c.code).toBe(0);
  await m.process.lineMatching(/side copy: at replay$/, 60_000, "stderr");
  const file = join(dir, "during.db");
  const ackedBefore = new Map(writer.acked);
  expect((await runEtcdctl(m.endpoint, ["snapshot", "save", file], { timeoutMs: 120_000 })).code).toBe(0);
  let st = { dbSize: 0, dbSizeInUse: 0 };
  for (let i = 0; i < 300; i++) {
    st = (JSON.parse(await ctl.ok("endpoint", "status", "-w", "json")) as Array<{ Status: typeof st }>)[0]!.Status;
    if (st.dbSize <= st.dbSizeInUse + MB) break;
    await delay(100);
  }
  await writer.stop();
  if (process.env.CONCLAVE_DEBUG_SIDE_COPY) console.log(m.process.stderrLines.filter((l) => l.startsWith("side copy")).join("\n"));
  expect(st.dbSize).toBeLessThanOrEqual(st.dbSizeInUse + MB);
  expect(await stepCount(m, "switch")).toBe(1);
  expect(await stepCount(m, "reclaim")).toBe(0);

  // The image: etcdctl verifies its hash; restored into etcd, it holds the writes acknowledged
  // before it began, and each revision past the restore's up to its own is one of the puts.
  const status = JSON.parse(spawnSync("/usr/bin/etcdctl", ["snapshot", "status", file, "-w", "json"], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } }).stdout) as { revision: number };
  expect(status.revision).toBeGreaterThanOrEqual(revision + ackedBefore.size);
  const restored = join(dir, "restored");
  const rr = spawnSync("/usr/bin/etcdctl", ["snapshot", "restore", file, "--name", "default", "--data-dir", restored], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
  expect(`${rr.status} ${rr.stderr}`).toMatch(/^0 /);
  const check = await Member.start({ name: "default", dataDir: restored, bin: "/usr/bin/etcd", healthTimeoutMs: 60_000 });
  try {
    const got = JSON.parse(await new Ctl(check.endpoint).ok("get", "w/", "--prefix", "-w", "json")) as { kvs?: Array<{ key: string; value: string; mod_revision: number }> };
    const kvs = got.kvs ?? [];
    const have = new Map(kvs.map((kv) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value, "base64").toString()]));
    for (const [key, value] of ackedBefore) expect(`${key}=${have.get(key)}`).toBe(`${key}=${value}`);
    expect(kvs.length).toBe(status.revision - revision);
  } finally {
    await check.cleanup();
  }
  console.log(`side-copy-snapshot: image at revision ${status.revision} (${ackedBefore.size} puts acknowledged before it), dbSize ${Math.round(st.dbSize / MB)} MB after`);
}, 300_000);
