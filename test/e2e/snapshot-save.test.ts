// etcdctl snapshot save from the member under test, then etcd's own tools on the file:
// `etcdctl snapshot status` agrees with the data, and `etcdctl snapshot restore` + Debian's etcd
// started on the restored dir serve every key, every old revision above the compaction and the
// lease exactly as the member did. With E2E_TARGET=etcd the member is etcd itself, which is how
// the expectations are proven to be etcd's.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { snapshotStatus } from "../../src/snapshot/index.ts";
import {
  Cluster,
  ETCD_SERVER_BIN,
  etcdctlRestore,
  type History,
  makeTempDir,
  observe,
  removeDir,
  runEtcdctl,
  useMember,
  writeHistory,
} from "../helpers/index.ts";

const env = useMember({ name: "snapsrc" });
const dir = makeTempDir("e2e-snapshot-save");
const file = join(dir, "snap.db");
let history: History;
let before: Awaited<ReturnType<typeof observe>>;

beforeAll(async () => {
  const { ctl } = env();
  history = await writeHistory(ctl);
  before = await observe(ctl, history);
  const r = await ctl.run("snapshot", "save", file);
  if (r.code !== 0) throw new Error(`snapshot save: ${r.stderr}`);
}, 60_000);

afterAll(() => removeDir(dir));

test("etcdctl snapshot status agrees with the data: revision, total keys, size", async () => {
  const r = await runEtcdctl("127.0.0.1:1", ["snapshot", "status", file, "-w", "json"]);
  expect(r.code).toBe(0);
  const st = JSON.parse(r.stdout) as { hash: number; revision: number; totalKey: number; totalSize: number };
  expect(st.revision).toBe(history.revision);
  // key: revisions 3 (a, the one kept by the compaction) through 10, the txn's two subs
  // counted apart = 9; meta: consistent index and the two compaction marks = 3; lease 1;
  // members 1; cluster version 1; auth revision 1.
  expect(st.totalKey).toBe(9 + 3 + 1 + 1 + 1 + 1);
  expect(statSync(file).size).toBe(st.totalSize + 32);
  expect(st.totalSize % 4096).toBe(0);
  // Conclave's own status (what `conclave ctl snapshot status` prints) is etcd's, hash included.
  expect(await snapshotStatus(file)).toEqual(st);
});

test("etcdctl snapshot restore + Debian's etcd on the restored dir serve the same keys, revisions and lease", async () => {
  const restored = await Cluster.start({ size: 1, bin: ETCD_SERVER_BIN, namePrefix: "restored", prepare: async (c) => etcdctlRestore(file, c) });
  try {
    const after = await observe(restored.members[0]!.ctl, history);
    expect(after).toEqual(before);
    // The restored etcd writes on from there.
    const put = JSON.parse(await restored.members[0]!.ctl.ok("put", "new", "1", "-w", "json")) as { header: { revision: number } };
    expect(put.header.revision).toBe(history.revision + 1);
  } finally {
    await restored.cleanup();
  }
}, 60_000);
