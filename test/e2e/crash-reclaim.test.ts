// Crash safety of compaction and space reclamation: a member holding a restored history is
// SIGKILLed at seeded random moments while it compacts, gives space back (a copy of the live data
// made on the side and switched in, or incremental vacuum batches; the WAL checkpointer on its own
// thread; crash-side-copy.test.ts kills it in each phase of the copy) and a client writes; after each restart every
// acknowledged write is there with its value, the history's current values are intact, and at
// the end the compaction completes and the space comes back.
//
// Replay a failure with E2E_SEED=<printed seed>. Conclave only (the checkpointer and the
// batches are ours; etcd's compaction is one bbolt transaction per batch).
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { AckedWriter, Ctl, delay, Gateway, makeTempDir, Member, mulberry32, REPO_ROOT, removeDir, runEtcdctl, seedFromEnv, synthKey, synthValue, unb64, writeSynthSnapshot } from "../helpers/index.ts";

const KILLS = 4;
const SPEC = { keys: 4000, revisions: 32_000, valueBytes: 1200 }; // ~42 MB state file
const CONCLAVE = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");
const MB = 1 << 20;

const dir = makeTempDir("crash-reclaim");
let member: Member | undefined;
afterAll(async () => {
  await member?.cleanup();
  removeDir(dir);
});

test("SIGKILL during compaction and reclamation loses no acknowledged write and no history", async () => {
  const seed = seedFromEnv();
  console.log(`crash-reclaim seed=${seed} (replay with E2E_SEED=${seed})`);
  const rand = mulberry32(seed);
  const snap = join(dir, "synth.db");
  const { revision } = await writeSynthSnapshot(snap, SPEC);
  const dataDir = join(dir, "data");
  const r = spawnSync(CONCLAVE, ["ctl", "snapshot", "restore", snap, "--name", "default", "--data-dir", dataDir], { encoding: "utf8" });
  expect(`${r.status} ${r.stderr}`).toMatch(/^0 /);
  member = await Member.start({ name: "default", dataDir, bin: CONCLAVE, healthTimeoutMs: 60_000 });
  const m = member;
  const ctl = new Ctl(m.endpoint);

  const acked = new Map<string, string>();
  let seq = 0;
  for (let k = 0; k < KILLS; k++) {
    // A writer, compaction --physical and defrag, then SIGKILL somewhere in the middle.
    const writer = new AckedWriter(new Gateway(m.clientURL), undefined, seq);
    void runEtcdctl(m.endpoint, ["compaction", "--physical", String(revision), "--command-timeout=60s"], { timeoutMs: 70_000 }).catch(() => undefined);
    void runEtcdctl(m.endpoint, ["defrag", "--command-timeout=60s"], { timeoutMs: 70_000 }).catch(() => undefined);
    await delay(100 + Math.floor(rand() * 900));
    await m.kill();
    await writer.stop();
    for (const [key, value] of writer.acked) acked.set(key, value);
    seq = writer.seq;
    await m.restart();

    // Every acknowledged write is there.
    const got = JSON.parse(await ctl.ok("get", "w/", "--prefix", "-w", "json")) as { kvs?: Array<{ key: string; value: string }> };
    const have = new Map((got.kvs ?? []).map((kv) => [unb64(kv.key), unb64(kv.value)]));
    for (const [key, value] of acked) expect(`${key}=${have.get(key)}`).toBe(`${key}=${value}`);
  }

  // The history's current values survived: the count, and the newest value of the last key.
  const count = JSON.parse(await ctl.ok("get", "synth/", "--prefix", "--keys-only", "--limit", "1", "-w", "json")) as { count: number };
  expect(count.count).toBe(SPEC.keys);
  const last = SPEC.revisions + 1;
  const k = (last - 2) % SPEC.keys;
  const kv = JSON.parse(await ctl.ok("get", synthKey(k), "-w", "json")) as { kvs: Array<{ value: string; mod_revision: number }> };
  expect(kv.kvs[0]!.mod_revision).toBe(last);
  expect(Buffer.from(kv.kvs[0]!.value, "base64").equals(Buffer.from(synthValue(last, SPEC.valueBytes)))).toBe(true);
  // The compaction resumes after the restarts and completes; defrag then gives the space back.
  // (Compacted to the newest revision: an earlier round may already have compacted to `revision`.)
  const now = (JSON.parse(await ctl.ok("endpoint", "status", "-w", "json")) as Array<{ Status: { header: { revision: number } } }>)[0]!.Status.header.revision;
  expect((await runEtcdctl(m.endpoint, ["compaction", "--physical", String(now), "--command-timeout=60s"], { timeoutMs: 70_000 })).code).toBe(0);
  const past = await runEtcdctl(m.endpoint, ["get", synthKey(0), "--rev", String(revision - 1)]);
  expect(past.stderr).toContain("required revision has been compacted");
  expect((await runEtcdctl(m.endpoint, ["defrag"])).code).toBe(0);
  let st = { dbSize: 0, dbSizeInUse: 0 };
  for (let i = 0; i < 300; i++) {
    st = (JSON.parse(await ctl.ok("endpoint", "status", "-w", "json")) as Array<{ Status: typeof st }>)[0]!.Status;
    if (st.dbSize <= st.dbSizeInUse + MB) break;
    await delay(100);
  }
  expect(st.dbSize).toBeLessThanOrEqual(st.dbSizeInUse + MB);
  console.log(`crash-reclaim: ${acked.size} acknowledged writes over ${KILLS} kills; dbSize ${Math.round(st.dbSize / MB)} MB at the end`);
}, 240_000);
