// A snapshot larger than the memory bound (200 MB), both ways, with the compiled member:
// restore (in a process of its own) and `etcdctl snapshot save` from a member on the restored
// dir each stay under the bound, so neither holds the image or the keyspace. And SIGKILL in
// the middle of either leaves nothing half-made: no data dir from a killed restore, and a
// killed member comes back with its data and snapshots again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ctl, delay, LineProcess, makeTempDir, Member, pollUntil, REPO_ROOT, removeDir, runEtcdctl, synthKey, synthValue, writeSynthSnapshot } from "../helpers/index.ts";

const MB = 1 << 20;
const BOUND = 200 * MB;
const SPEC = { keys: 4000, revisions: 190_000, valueBytes: 1200, leasedKeys: 20 }; // ~260 MB image
const CONCLAVE = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");
const CHILD = join(import.meta.dir, "restore-child.ts");

const dir = makeTempDir("snapshot-large");
const file = join(dir, "synth.db");
let revision = 0;

beforeAll(async () => {
  const r = await writeSynthSnapshot(file, SPEC);
  revision = r.revision;
  expect(r.size).toBeGreaterThan(BOUND + 32 * MB);
}, 120_000);

afterAll(() => removeDir(dir));

function restoreInChild(dataDir: string): ReturnType<typeof spawn> {
  return spawn(process.execPath, [CHILD, JSON.stringify({ snapshotPath: file, dataDir })], { stdio: ["ignore", "pipe", "pipe"] });
}

/** VmHWM (peak RSS) and VmRSS of a process, in bytes. */
function memory(pid: number): { peak: number; now: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, "m").exec(s)![1]) * 1024;
  return { peak: kb("VmHWM"), now: kb("VmRSS") };
}

let restored = "";

test("restore of a snapshot larger than the bound peaks under 200 MB", async () => {
  restored = join(dir, "restored");
  const child = restoreInChild(restored);
  const out: Buffer[] = [];
  child.stdout!.on("data", (d: Buffer) => out.push(d));
  const err: Buffer[] = [];
  child.stderr!.on("data", (d: Buffer) => err.push(d));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  expect(`${code} ${Buffer.concat(err).toString()}`).toBe("0 ");
  const m = JSON.parse(Buffer.concat(out).toString()) as { peakRssBytes: number };
  console.log(`restore of ${Math.round(statSync(file).size / MB)} MB: peak RSS ${Math.round(m.peakRssBytes / MB)} MB`);
  expect(m.peakRssBytes).toBeLessThan(BOUND);
}, 120_000);

test("etcdctl snapshot save from a member holding it peaks under 200 MB and the image is complete", async () => {
  const member = await Member.start({ name: "default", dataDir: restored, bin: CONCLAVE, healthTimeoutMs: 60_000 });
  try {
    const pid = member.process.pid!;
    writeFileSync(`/proc/${pid}/clear_refs`, "5"); // peak RSS := current RSS
    const before = memory(pid).now;
    const saved = join(dir, "saved.db");
    const r = await runEtcdctl(member.endpoint, ["snapshot", "save", saved], { timeoutMs: 300_000 });
    expect(r.code).toBe(0);
    const { peak } = memory(pid);
    console.log(`snapshot save of ${Math.round(statSync(saved).size / MB)} MB: member RSS ${Math.round(before / MB)} MB before, peak ${Math.round(peak / MB)} MB`);
    expect(peak).toBeLessThan(BOUND);
    const st = JSON.parse((await runEtcdctl(member.endpoint, ["snapshot", "status", saved, "-w", "json"])).stdout) as { revision: number; totalKey: number };
    // Every revision, plus meta (consistent index), 20 leases, 1 member, cluster version, auth revision.
    expect(st).toMatchObject({ revision, totalKey: SPEC.revisions + 1 + 20 + 1 + 1 + 1 });
    // A key's latest value and revisions are the synthetic history's.
    const last = SPEC.revisions + 1;
    const k = (last - 2) % SPEC.keys;
    const kv = JSON.parse(await new Ctl(member.endpoint).ok("get", synthKey(k), "-w", "json")) as { kvs: { mod_revision: number; version: number; value: string }[] };
    expect(kv.kvs[0]!.mod_revision).toBe(last);
    expect(kv.kvs[0]!.version).toBe(Math.floor((last - 2) / SPEC.keys) + 1);
    expect(Buffer.from(kv.kvs[0]!.value, "base64").equals(Buffer.from(synthValue(last, SPEC.valueBytes)))).toBe(true);
  } finally {
    await member.cleanup();
  }
}, 300_000);

test("SIGKILL during a snapshot save: the member restarts with its data and snapshots again", async () => {
  const member = await Member.start({ name: "default", dataDir: restored, bin: CONCLAVE, healthTimeoutMs: 60_000 });
  try {
    const part = join(dir, "killed.db.part");
    const save = new LineProcess("/usr/bin/etcdctl", [`--endpoints=${member.endpoint}`, "snapshot", "save", join(dir, "killed.db")], {});
    await pollUntil(async () => (existsSync(part) && statSync(part).size > 8 * MB ? true : undefined), 60_000, "snapshot transfer under way");
    await member.kill();
    const exit = await save.exited;
    expect(exit.code).not.toBe(0);
    expect(existsSync(join(dir, "killed.db"))).toBe(false);
    await member.launch();
    const r = await runEtcdctl(member.endpoint, ["snapshot", "save", join(dir, "again.db")], { timeoutMs: 300_000 });
    expect(r.code).toBe(0);
    const st = JSON.parse((await runEtcdctl(member.endpoint, ["snapshot", "status", join(dir, "again.db"), "-w", "json"])).stdout) as { revision: number };
    expect(st.revision).toBe(revision);
  } finally {
    await member.cleanup();
  }
}, 300_000);

test("SIGKILL during a restore leaves no data dir; the next restore of the same dir succeeds", async () => {
  const target = join(dir, "killed-restore");
  const child = restoreInChild(target);
  // Killed once the state database is being filled (the temporary dir exists).
  await pollUntil(async () => (readdirSync(dir).some((n) => n.startsWith(".killed-restore.restore-")) ? true : undefined), 60_000, "restore under way");
  await delay(300);
  child.kill("SIGKILL");
  await new Promise((r) => child.on("close", r));
  expect(existsSync(target)).toBe(false);
  const again = spawnSync(process.execPath, [CHILD, JSON.stringify({ snapshotPath: file, dataDir: target })], { encoding: "utf8", timeout: 120_000 });
  expect(again.status).toBe(0);
  expect(existsSync(join(target, "member", "state.db"))).toBe(true);
  expect(readdirSync(dir).filter((n) => n.includes(".restore-"))).toEqual([]);
}, 180_000);
