// `conclave ctl snapshot save | status | restore` against the target member (Conclave, or etcd
// with E2E_TARGET=etcd): status compared with etcdctl's on the same files in every format; a
// saved snapshot restored by `conclave ctl` into three new data dirs and started as a 3-member
// Conclave cluster serves every key, old revision and lease the source served; bad files and
// arguments get etcdctl's exit code, one line, and leave nothing in the target directory.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONCLAVE_CTL_BIN, lastError, normalize, runConclaveCtl, runEtcdctlRaw } from "../helpers/conclave-ctl.ts";
import { Cluster, Ctl, type History, makeTempDir, observe, removeDir, useMember, writeHistory } from "../helpers/index.ts";

const env = useMember();
const dir = makeTempDir("e2e-ctl-snapshot");
let history: History;
let original: Awaited<ReturnType<typeof observe>>;
let restored: Cluster | undefined;

beforeAll(async () => {
  history = await writeHistory(env().ctl, "snap/");
  original = await observe(env().ctl, history);
}, 60_000);

afterAll(async () => {
  await restored?.cleanup();
  removeDir(dir);
});

const ep = () => `--endpoints=${env().member.endpoint}`;

test("snapshot save, then status in every format: the same output as etcdctl's on the same files", async () => {
  const ours = join(dir, "ours.db");
  const theirs = join(dir, "theirs.db");
  const s = await runConclaveCtl([ep(), "snapshot", "save", ours]);
  expect({ code: s.code, stdout: s.stdout, stderr: s.stderr }).toEqual({ code: 0, stdout: `Snapshot saved at ${ours}\n`, stderr: "" });
  expect((await runEtcdctlRaw([ep(), "snapshot", "save", theirs])).code).toBe(0);
  for (const file of [ours, theirs]) {
    for (const w of ["simple", "json", "table", "fields", "protobuf"]) {
      const a = await runEtcdctlRaw(["snapshot", "status", file, "-w", w]);
      const b = await runConclaveCtl(["snapshot", "status", file, "-w", w]);
      expect({ file, w, stdout: b.stdout, stderr: normalize(b.stderr), code: b.code }).toEqual({ file, w, stdout: a.stdout, stderr: normalize(a.stderr), code: a.code });
    }
  }
  // The figures are the store's: its revision, and a hash that changes with the data.
  const st = JSON.parse((await runConclaveCtl(["snapshot", "status", ours, "-w", "json"])).stdout) as { revision: number; totalKey: number };
  expect(st.revision).toBe(history.revision);
}, 60_000);

test("save → status → restore into three new data dirs rebuilds a 3-member cluster with every key, revision and lease", async () => {
  const file = join(dir, "rebuild.db");
  expect((await runConclaveCtl([ep(), "snapshot", "save", file])).code).toBe(0);
  const status = await runConclaveCtl(["snapshot", "status", file]);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(new RegExp(`^[0-9a-f]+, ${history.revision}, \\d+, [\\d.]+ [kM]?B\\n$`));
  restored = await Cluster.start({
    size: 3,
    bin: CONCLAVE_CTL_BIN,
    prepare: async (c) => {
      for (const m of c.members) {
        const r = await runConclaveCtl([
          "snapshot", "restore", file, "--name", m.name, "--data-dir", m.dataDir, "--initial-cluster", c.initialCluster,
          "--initial-cluster-token", c.token, "--initial-advertise-peer-urls", m.peerURL,
        ]);
        // Scripts see what etcdctl prints on success: nothing on stdout.
        expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
      }
    },
  });
  const members = await restored.memberList();
  expect(members.map((m) => [m.name, m.started, m.isLearner]).sort()).toEqual([
    ["m1", true, false],
    ["m2", true, false],
    ["m3", true, false],
  ]);
  for (const m of restored.members) expect(await observe(m.ctl, history)).toEqual(original);
  // And the restored cluster takes writes through any member, after the restored revision.
  const put = await new Ctl(restored.endpoints()).ok("put", "snap/after", "x", "-w", "json");
  expect((JSON.parse(put) as { header: { revision: number } }).header.revision).toBe(history.revision + 1);
}, 120_000);

test("bad snapshot files and arguments: etcdctl's exit code, one line, nothing left in the target directory", async () => {
  const good = join(dir, "good.db");
  expect((await runConclaveCtl([ep(), "snapshot", "save", good])).code).toBe(0);
  const { readFileSync } = await import("node:fs");
  const bytes = readFileSync(good);
  const truncated = join(dir, "truncated.db");
  writeFileSync(truncated, bytes.subarray(0, 1000));
  const noHash = join(dir, "nohash.db");
  writeFileSync(noHash, bytes.subarray(0, bytes.length - 32));
  const garbage = join(dir, "garbage.db");
  writeFileSync(garbage, Buffer.alloc(8192 + 32, 7));
  const flipped = join(dir, "flipped.db");
  const f = Buffer.from(bytes);
  f[4096 + 100] = f[4096 + 100]! ^ 0xff;
  writeFileSync(flipped, f);
  const cases: string[][] = [
    ["snapshot", "status", truncated],
    ["snapshot", "status", garbage],
    ["snapshot", "status", join(dir, "missing.db")],
    ["snapshot", "status"],
    ["snapshot", "restore"],
  ];
  for (const args of cases) {
    const a = await runEtcdctlRaw(args);
    const b = await runConclaveCtl(args);
    expect({ args, code: b.code, lines: b.stderr.trimEnd().split("\n").length }).toEqual({ args, code: a.code, lines: 1 });
    expect(b.stderr).toStartWith("Error: ");
  }
  // Errors worded as etcdctl words them where it has a text of its own.
  expect(lastError(await runConclaveCtl(["snapshot", "status", join(dir, "missing.db")]))).toBe(lastError(await runEtcdctlRaw(["snapshot", "status", join(dir, "missing.db")])));
  for (const file of [truncated, garbage, noHash, flipped, join(dir, "missing.db")]) {
    const out = join(dir, `out-${readdirSync(dir).length}`);
    const r = await runConclaveCtl(["snapshot", "restore", file, "--data-dir", out]);
    const e = await runEtcdctlRaw(["snapshot", "restore", file, "--data-dir", `${out}-etcd`]);
    expect({ file, code: r.code }).toEqual({ file, code: e.code });
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  }
  expect(lastError(await runConclaveCtl(["snapshot", "restore", noHash, "--data-dir", join(dir, "nh")]))).toBe("Error: snapshot missing hash but --skip-hash-check=false");
  // An existing data dir is refused before anything is read, as etcdctl does.
  const existing = join(dir, "existing");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(existing);
  const a = await runEtcdctlRaw(["snapshot", "restore", good, "--data-dir", existing]);
  const b = await runConclaveCtl(["snapshot", "restore", good, "--data-dir", existing]);
  expect({ code: b.code, err: lastError(b) }).toEqual({ code: a.code, err: lastError(a) });
  expect(readdirSync(existing)).toEqual([]);
  // A name that is not in --initial-cluster: etcd's text.
  const c = await runConclaveCtl(["snapshot", "restore", good, "--data-dir", join(dir, "x"), "--name", "nobody"]);
  const d = await runEtcdctlRaw(["snapshot", "restore", good, "--data-dir", join(dir, "x-etcd"), "--name", "nobody"]);
  expect({ code: c.code, err: lastError(c) }).toEqual({ code: d.code, err: lastError(d) });
}, 90_000);

// Users, roles and the auth-enabled flag travel in a snapshot and come back in every restored
// member's data dir.
test("users, roles and auth enabled travel through save → restore: the restored cluster authenticates them", async () => {
  const { ctl } = env();
  await ctl.ok("user", "add", "root:rootpw");
  await ctl.ok("user", "add", "alice:alicepw");
  await ctl.ok("role", "add", "app");
  await ctl.ok("role", "grant-permission", "app", "readwrite", "snap/", "--prefix");
  await ctl.ok("user", "grant-role", "alice", "app");
  await ctl.ok("auth", "enable");
  const file = join(dir, "auth.db");
  const s = await runConclaveCtl([ep(), "--user", "root:rootpw", "snapshot", "save", file]);
  expect(s.code).toBe(0);
  const again = await Cluster.start({
    size: 3,
    bin: CONCLAVE_CTL_BIN,
    namePrefix: "a",
    prepare: async (c) => {
      for (const m of c.members) {
        const r = await runConclaveCtl([
          "snapshot", "restore", file, "--name", m.name, "--data-dir", m.dataDir, "--initial-cluster", c.initialCluster,
          "--initial-cluster-token", c.token, "--initial-advertise-peer-urls", m.peerURL,
        ]);
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
      }
    },
  });
  try {
    const eps = `--endpoints=${again.endpoints()}`;
    expect((await runConclaveCtl([eps, "--user", "root:rootpw", "user", "list"])).stdout).toBe("alice\nroot\n");
    expect((await runConclaveCtl([eps, "--user", "alice:alicepw", "get", "snap/a", "--print-value-only"])).stdout).toBe("3\n");
    expect(lastError(await runConclaveCtl([eps, "get", "snap/a"]))).toBe("Error: etcdserver: user name is empty");
    expect(lastError(await runConclaveCtl([eps, "--user", "alice:alicepw", "get", "other"]))).toBe("Error: etcdserver: permission denied");
  } finally {
    await again.cleanup();
  }
}, 120_000);
