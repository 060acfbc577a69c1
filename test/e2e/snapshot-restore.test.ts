// A snapshot of Debian's etcd restored into three data dirs with the target's restore tool
// (Conclave: restoreSnapshot, what `conclave ctl snapshot restore` runs; etcd: etcdctl) and a
// 3-member cluster started on them: every key, every old revision above the compaction and the
// lease read as on the etcd the snapshot came from, and `endpoint hashkv` gives its hash. Then
// the way back: a snapshot of that cluster restored by etcdctl into Debian's etcd reads the
// same again (etcd → Conclave → etcd).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import {
  Cluster,
  ETCD_SERVER_BIN,
  etcdctlRestore,
  type History,
  makeTempDir,
  observe,
  removeDir,
  restoreForTarget,
  writeHistory,
} from "../helpers/index.ts";

const dir = makeTempDir("e2e-snapshot-restore");
const fromEtcd = join(dir, "etcd.db");
let source: Cluster | undefined;
let restored: Cluster | undefined;
let history: History;
let original: Awaited<ReturnType<typeof observe>>;
let originalJson: string;

beforeAll(async () => {
  source = await Cluster.start({ size: 1, bin: ETCD_SERVER_BIN, namePrefix: "etcd" });
  const ctl = source.members[0]!.ctl;
  history = await writeHistory(ctl);
  original = await observe(ctl, history);
  originalJson = await ctl.ok("get", "", "--prefix", "-w", "json");
  const r = await ctl.run("snapshot", "save", fromEtcd);
  if (r.code !== 0) throw new Error(`snapshot save from etcd: ${r.stderr}`);
}, 60_000);

afterAll(async () => {
  await restored?.cleanup();
  await source?.cleanup();
  removeDir(dir);
});

test("three members restored from an etcd snapshot form a cluster that serves the same keys, revisions and lease", async () => {
  restored = await Cluster.start({ size: 3, prepare: restoreForTarget(fromEtcd) });
  const members = await restored.memberList();
  expect(members.map((m) => [m.name, m.started, m.isLearner]).sort()).toEqual([
    ["m1", true, false],
    ["m2", true, false],
    ["m3", true, false],
  ]);
  // Linearizable reads through each member: the same history on every one of them.
  for (const m of restored.members) expect(await observe(m.ctl, history)).toEqual(original);
  // And the same HashKV as the etcd the snapshot came from, at the current revision and above
  // the compaction.
  const source0 = source!.members[0]!.ctl;
  for (const rev of ["0", "4", "7"]) {
    const want = await hashKV(source0, rev);
    for (const m of restored.members) expect({ rev, got: await hashKV(m.ctl, rev) }).toEqual({ rev, got: want });
  }
}, 90_000);

async function hashKV(ctl: Cluster["members"][number]["ctl"], rev: string): Promise<{ hash: number; compact: number }> {
  const [{ HashKV }] = JSON.parse(await ctl.ok("endpoint", "hashkv", "--rev", rev, "-w", "json")) as Array<{ HashKV: { hash: number; compact_revision: number } }>;
  return { hash: HashKV.hash, compact: HashKV.compact_revision };
}

test("round trip etcd → restored cluster → etcd: get --prefix -w json is the same, revisions included", async () => {
  const back = join(dir, "back.db");
  const r = await restored!.members[2]!.ctl.run("snapshot", "save", back);
  expect(r.code).toBe(0);
  const again = await Cluster.start({ size: 1, bin: ETCD_SERVER_BIN, namePrefix: "again", prepare: async (c) => etcdctlRestore(back, c) });
  try {
    const json = JSON.parse(await again.members[0]!.ctl.ok("get", "", "--prefix", "-w", "json")) as { header: Record<string, unknown> };
    const orig = JSON.parse(originalJson) as typeof json;
    // Member and cluster IDs follow from each cluster's peer URLs and token; all else is equal.
    const ids = { cluster_id: 0, member_id: 0 };
    expect({ ...json, header: { ...json.header, ...ids } }).toEqual({ ...orig, header: { ...orig.header, ...ids } });
    expect(await observe(again.members[0]!.ctl, history)).toEqual(original);
  } finally {
    await again.cleanup();
  }
}, 90_000);

test("the restored cluster writes on from the snapshot's revision", async () => {
  await restored!.waitLeader();
  const put = JSON.parse(await restored!.members[1]!.ctl.ok("put", "after-restore", "1", "-w", "json")) as { header: { revision: number } };
  expect(put.header.revision).toBe(history.revision + 1);
  const converged = await restored!.waitConverged();
  expect(converged.revision).toBe(history.revision + 1);
}, 60_000);
