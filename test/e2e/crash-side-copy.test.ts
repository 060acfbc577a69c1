// Crash safety of defragment by a copy made on the side and switched in
// (src/server/side-copy-switch.ts): a member whose state file is mostly free pages after a
// compaction is SIGKILLed in each phase of the copy — mid-copy, while it replays the writes made
// since, in the switch after its decision, after the old WAL is gone, after the rename, and
// once the new file is in use — while a client writes. The member stops in the phase through
// a test-only environment hook (inert unless set) and says so on stderr; the test kills it
// there. After each restart: every acknowledged write is there, revisions have no gaps (every
// revision since the restore is one of the client's puts), no copy is left beside the state
// file, and SQLite's integrity check passes on it; defrag then gives the space back.
//
// Conclave only (the side copy is ours; etcd's defrag is one bbolt copy under its lock).
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import Database from "libsql";
import { AckedWriter, Ctl, delay, Gateway, makeTempDir, Member, REPO_ROOT, removeDir, runEtcdctl, unb64, writeSynthSnapshot } from "../helpers/index.ts";

// ~52 MB state file, ~6 MB of it live after the compaction: the side copy pays.
const SPEC = { keys: 4000, revisions: 40_000, valueBytes: 1200 };
const CONCLAVE = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");
const MB = 1 << 20;
const PHASES = ["copy", "replay", "decided", "wal-out", "renamed", "switched"] as const;

const dir = makeTempDir("crash-side-copy");
let member: Member | undefined;
afterAll(async () => {
  await member?.cleanup();
  removeDir(dir);
});

interface Status {
  dbSize: number;
  dbSizeInUse: number;
  header: { revision: number };
}

test("SIGKILL in every phase of a side copy's defragment loses no acknowledged write and leaves an intact state file", async () => {
  const snap = join(dir, "synth.db");
  const { revision } = await writeSynthSnapshot(snap, SPEC);
  for (const phase of PHASES) {
    const dataDir = join(dir, `data-${phase}`);
    const r = spawnSync(CONCLAVE, ["ctl", "snapshot", "restore", snap, "--name", "default", "--data-dir", dataDir], { encoding: "utf8" });
    expect(`${r.status} ${r.stderr}`).toMatch(/^0 /);
    const env: Record<string, string> = { ...(process.env as Record<string, string>), CONCLAVE_TEST_SIDE_COPY_STOP: phase };
    member = await Member.start({ name: "default", dataDir, bin: CONCLAVE, healthTimeoutMs: 60_000, env });
    const m = member;
    const ctl = new Ctl(m.endpoint);

    // One client writes throughout: a new key per put, so every revision past the restore's is one put.
    const writer = new AckedWriter(new Gateway(m.clientURL), (key) => `${phase}-${key}`);
    // The compaction frees most of the file; the reclamation after it makes the side copy.
    void runEtcdctl(m.endpoint, ["compaction", "--physical", String(revision), "--command-timeout=60s"], { timeoutMs: 70_000 }).catch(() => undefined);
    await m.process.lineMatching(new RegExp(`side copy: at ${phase}$`), 60_000, "stderr");
    if (phase === "replay" || phase === "switched") await delay(300); // writes go on meanwhile
    await m.kill();
    await writer.stop();
    const acked = writer.acked;
    delete env.CONCLAVE_TEST_SIDE_COPY_STOP;
    await m.restart();

    // Every acknowledged write is there, and every revision since the restore is one of the puts.
    const got = JSON.parse(await ctl.ok("get", "w/", "--prefix", "-w", "json")) as { kvs?: Array<{ key: string; value: string; mod_revision: number }>; header: { revision: number } };
    const have = new Map((got.kvs ?? []).map((kv) => [unb64(kv.key), unb64(kv.value)]));
    for (const [key, value] of acked) expect(`${phase}: ${key}=${have.get(key)}`).toBe(`${phase}: ${key}=${value}`);
    const revs = (got.kvs ?? []).map((kv) => Number(kv.mod_revision)).sort((a, b) => a - b);
    expect(`${phase}: ${revs.length} puts`).toBe(`${phase}: ${Number(got.header.revision) - revision} puts`);
    expect(revs[0] ?? revision + 1).toBe(revision + 1);
    // No copy, and no old file or WAL under its second name, is left beside the state file.
    const memberDir = join(dataDir, "member");
    expect(readdirSync(memberDir).filter((f) => /\.(defrag|switch|retired)/.test(f))).toEqual([]);

    // Defrag gives the space back whatever was interrupted (the switch again, or nothing to do).
    expect((await runEtcdctl(m.endpoint, ["defrag"])).code).toBe(0);
    let st = (JSON.parse(await ctl.ok("endpoint", "status", "-w", "json")) as Array<{ Status: Status }>)[0]!.Status;
    for (let i = 0; i < 300 && st.dbSize > st.dbSizeInUse + MB; i++) {
      await delay(100);
      st = (JSON.parse(await ctl.ok("endpoint", "status", "-w", "json")) as Array<{ Status: Status }>)[0]!.Status;
    }
    expect(st.dbSize).toBeLessThanOrEqual(st.dbSizeInUse + MB);
    const synth = JSON.parse(await ctl.ok("get", "synth/", "--prefix", "--keys-only", "--limit", "1", "-w", "json")) as { count: number };
    expect(synth.count).toBe(SPEC.keys);
    await m.stop();

    // SQLite's own check of the file the member left.
    const path = join(memberDir, "state.db");
    expect(existsSync(path)).toBe(true);
    const db = new Database(path);
    try {
      expect((db.prepare("PRAGMA integrity_check").raw(true).all() as unknown[][]).map((r) => r[0])).toEqual(["ok"]);
    } finally {
      db.close();
    }
    console.log(`crash-side-copy ${phase}: ${acked.size} acknowledged writes, revision ${got.header.revision}, dbSize ${Math.round(st.dbSize / MB)} MB after defrag`);
    await m.cleanup();
    member = undefined;
    removeDir(dataDir);
  }
}, 600_000);
