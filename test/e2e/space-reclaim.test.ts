// Compaction and defrag of a large state file while a client writes: the space comes back
// (dbSize falls to dbSizeInUse) and no step of the member's apply loop was a whole-database
// operation, read from the member's own step-duration histogram
// (etcd_debugging_server_apply_step_duration_seconds), not from wall time. The free pages go
// back by a copy of the live data made on the side and switched in (side-copy-switch.ts): the
// histogram shows its two short holds ("side-copy", "switch") and no in-place reclamation.
//
// The state is a synthetic etcd snapshot (50k keys' worth of 1.2 KB revisions at full size)
// restored with `conclave ctl snapshot restore`. Size: RECLAIM_TEST_MB (default 128). CI runs
// 128 MB: the property (every step bounded, independent of the file's size) is the same at any
// size, a whole-database step is already 2-4× over the bound there, and the test stays within
// ~10 s on a shared 2-core machine; the 500 MB case is run by hand with
// RECLAIM_TEST_MB=500 and its figures are in docs/benchmarks.md.
//
// Conclave only: the histogram is the member's own (etcd 3.4 has no such metric, and its
// defrag is exactly the whole-database step this test rules out).
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ctl, delay, Gateway, makeTempDir, Member, PacedWriter, REPO_ROOT, removeDir, runEtcdctl, writeSynthSnapshot } from "../helpers/index.ts";

const MB = 1 << 20;
const SIZE_MB = Number(process.env.RECLAIM_TEST_MB ?? 128);
const VALUE_BYTES = 1200;
// ~1.3 KB per revision in the state file; 8 revisions per key, as the 400k puts on 50k keys.
const REVISIONS = Math.round((SIZE_MB * MB) / 1330);
const KEYS = Math.max(1, Math.round(REVISIONS / 8));
/**
 * No step may hold the loop longer than this (s). Batches are sized for ~4 ms, and most must
 * take under SMALL_STEP_S; the bound leaves room for a shared machine's disk and scheduler,
 * which stretched single batches to 64-256 ms under load. A whole-database step is one step
 * (the counts below catch it at any size) and takes seconds at 500 MB.
 */
const STEP_BOUND_S = 1.024;
/** At least 90 % of the compaction batches take at most this long (s). */
const SMALL_STEP_S = 0.016;
/**
 * The side copy's holds (its snapshot taken; the switch: a few ms of replay, the copy's WAL
 * folded in, two syncs, two renames) take at most this long (s): 6-11 ms measured at 500 MB on
 * a quiet machine, with the old WAL at 285-340 MB (its blocks are freed after the hold); up to
 * 64 ms under load before that (docs/benchmarks.md). The bound leaves a shared machine's disk room.
 */
const SWITCH_BOUND_S = 0.256;
const CONCLAVE = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");
const METRIC = "etcd_debugging_server_apply_step_duration_seconds";

const dir = makeTempDir("space-reclaim");
afterAll(() => removeDir(dir));

interface Status {
  dbSize: number;
  dbSizeInUse: number;
  header: { revision: number };
}

async function status(ctl: Ctl): Promise<Status> {
  return (JSON.parse(await ctl.ok("endpoint", "status", "-w", "json")) as Array<{ Status: Status }>)[0]!.Status;
}

/** Per step kind: count of steps at or under each bucket bound, and the total. */
async function steps(m: Member): Promise<Map<string, { le: Map<string, number>; count: number }>> {
  const text = await (await fetch(`${m.clientURL}/metrics`)).text();
  const out = new Map<string, { le: Map<string, number>; count: number }>();
  for (const line of text.split("\n")) {
    const b = new RegExp(`^${METRIC}_bucket\\{step="([\\w-]+)",le="([^"]+)"\\} (\\d+)$`).exec(line);
    if (b !== null) {
      const s = out.get(b[1]!) ?? { le: new Map(), count: 0 };
      s.le.set(b[2]!, Number(b[3]));
      out.set(b[1]!, s);
    }
    const c = new RegExp(`^${METRIC}_count\\{step="([\\w-]+)"\\} (\\d+)$`).exec(line);
    if (c !== null) out.get(c[1]!)!.count = Number(c[2]);
  }
  return out;
}

test(`compaction + defrag of a ${SIZE_MB} MB state file while a client writes: space back, every step bounded`, async () => {
  const snap = join(dir, "synth.db");
  const { revision } = await writeSynthSnapshot(snap, { keys: KEYS, revisions: REVISIONS, valueBytes: VALUE_BYTES });
  const dataDir = join(dir, "reclaim.data");
  const r = spawnSync(CONCLAVE, ["ctl", "snapshot", "restore", snap, "--name", "default", "--data-dir", dataDir], { encoding: "utf8" });
  expect(`${r.status} ${r.stderr}`).toMatch(/^0 /);
  removeDir(snap);
  expect(statSync(join(dataDir, "member", "state.db")).size).toBeGreaterThan(SIZE_MB * MB * 0.9);

  const m = await Member.start({ name: "default", dataDir, bin: CONCLAVE, healthTimeoutMs: 60_000 });
  try {
    const ctl = new Ctl(m.endpoint);
    const gw = new Gateway(m.clientURL);
    const before = await status(ctl);
    expect(before.header.revision).toBe(revision);
    expect(before.dbSize).toBeGreaterThan(SIZE_MB * MB * 0.9);

    // One client writes throughout, each put waiting for the one before.
    const writer = new PacedWriter(gw);

    const t0 = performance.now();
    const c = await runEtcdctl(m.endpoint, ["compaction", "--physical", String(revision), "--command-timeout=120s"], { timeoutMs: 130_000 });
    expect(c.stdout).toBe(`compacted revision ${revision}\n`);
    const tCompact = performance.now() - t0;
    const d = await runEtcdctl(m.endpoint, ["defrag", "--command-timeout=120s"], { timeoutMs: 130_000 });
    expect(d.code).toBe(0);
    const tDefrag = performance.now() - t0 - tCompact;
    const putsDuring = writer.puts;

    // defrag answers within 3 s at most (etcdctl's timeout is 5 s); what is left then is
    // given back between apply batches: wait for it (a bound, not a timing).
    let after = await status(ctl);
    for (let i = 0; i < 600 && after.dbSize > after.dbSizeInUse + MB; i++) {
      await delay(100);
      after = await status(ctl);
    }
    await writer.stop();
    const hist = await steps(m);
    // Per kind: how many steps, and the bucket of the longest one.
    const longest = (s: { le: Map<string, number>; count: number }) => [...s.le].find(([, n]) => n === s.count)?.[0] ?? "?";
    const kinds = [...hist].map(([k, s]) => `${k} ${s.count} (≤ ${longest(s)} s)`).join(", ");
    if (process.env.CONCLAVE_DEBUG_SIDE_COPY) console.log(m.logTail(20));
    console.log(
      `${SIZE_MB} MB: compaction --physical ${Math.round(tCompact)} ms, defrag ${Math.round(tDefrag)} ms; ` +
        `dbSize ${Math.round(before.dbSize / MB)} → ${Math.round(after.dbSize / MB)} MB (in use ${Math.round(after.dbSizeInUse / MB)} MB); ` +
        `${putsDuring} puts meanwhile, slowest ${Math.round(writer.slowestMs)} ms; steps: ${kinds}`,
    );

    // The space came back: the file is what is in use (plus a little), far below where it was.
    expect(after.dbSize).toBeLessThan(before.dbSize / 3);
    expect(after.dbSize).toBeLessThanOrEqual(after.dbSizeInUse + MB);
    expect(after.dbSizeInUse).toBeLessThanOrEqual(after.dbSize);
    // The client kept writing while it happened.
    expect(putsDuring).toBeGreaterThan(0);
    // Compaction ran in many batches; the space came back by one side copy switched in (no
    // page moved in place); no step of any kind held the loop past the bound: none of them was
    // a whole-database operation.
    expect(hist.get("compact")!.count).toBeGreaterThan(1);
    expect(hist.get("switch")!.count).toBe(1);
    expect(hist.get("side-copy")!.count).toBe(1);
    expect(hist.get("reclaim")!.count).toBe(0);
    for (const [kind, s] of hist) expect(`${kind} ${s.le.get(String(STEP_BOUND_S))}`).toBe(`${kind} ${s.count}`);
    for (const kind of ["switch", "side-copy"]) expect(`${kind} ${hist.get(kind)!.le.get(String(SWITCH_BOUND_S))}`).toBe(`${kind} 1`);
    const compact = hist.get("compact")!;
    expect(compact.le.get(String(SMALL_STEP_S))!).toBeGreaterThanOrEqual(0.9 * compact.count);
    // The data is intact: the newest revision of a key.
    const kv = JSON.parse(await ctl.ok("get", "synth/", "--prefix", "--limit", "1", "-w", "json")) as { count: number };
    expect(kv.count).toBe(KEYS);
  } finally {
    await m.cleanup();
  }
}, 300_000);
