// Users, roles, permissions and the auth-enabled flag travel in snapshots, both ways:
//   1. written to the member under test with auth on → `etcdctl snapshot save` → `etcdctl
//      snapshot restore` → Debian's etcd on the restored dir refuses users without the permission
//      and serves root and a permitted user the same keys (the member's bcrypt hashes verify in Go);
//   2. the same written to Debian's etcd → its snapshot restored with the target's tool into three
//      data dirs → every member of the 3-member cluster enforces them (etcd's hashes verify here);
//   3. the way back: a snapshot of that cluster restored into Debian's etcd answers user list,
//      role list/get, user get and the auth status (enabled, auth revision) as the first etcd did.
// etcd 3.4 has no `auth status` command or AuthStatus RPC: the enabled flag shows in what an
// anonymous request gets, the auth revision in the etcd_debugging_auth_revision metric.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Cluster, type ClusterMember, type Ctl, ETCD_SERVER_BIN, errorLine, etcdctlRestore, makeTempDir, removeDir, restoreForTarget } from "../helpers/index.ts";

const ROOT = "root:rootpw";
const dir = makeTempDir("e2e-snapshot-auth");
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  removeDir(dir);
});

async function started(c: Promise<Cluster>): Promise<Cluster> {
  const cluster = await c;
  cleanups.push(() => cluster.cleanup());
  return cluster;
}

/** Keys, users, roles with key, prefix, range and open-ended permissions, then auth on. */
async function writeAuth(ctl: Ctl): Promise<void> {
  for (const [k, v] of [
    ["app/a", "1"],
    ["app/b", "2"],
    ["app/w/x", "3"],
    ["other/x", "4"],
    ["zz", "5"],
  ]) {
    await ctl.ok("put", k!, v!);
  }
  await ctl.ok("user", "add", ROOT);
  await ctl.ok("role", "add", "reader");
  await ctl.ok("role", "grant-permission", "reader", "read", "app/", "--prefix");
  await ctl.ok("role", "add", "writer");
  await ctl.ok("role", "grant-permission", "writer", "readwrite", "app/w/", "--prefix");
  await ctl.ok("role", "grant-permission", "writer", "write", "other/", "other0");
  await ctl.ok("role", "grant-permission", "writer", "read", "zz", "--from-key");
  await ctl.ok("role", "grant-permission", "writer", "read", "other/x");
  await ctl.ok("user", "add", "alice:alicepw");
  await ctl.ok("user", "grant-role", "alice", "reader");
  await ctl.ok("user", "add", "carol:carolpw");
  await ctl.ok("user", "grant-role", "carol", "reader");
  await ctl.ok("user", "grant-role", "carol", "writer");
  await ctl.ok("user", "add", "bob:bobpw");
  await ctl.ok("user", "add", "nopass", "--no-password");
  await ctl.ok("auth", "enable");
}

/**
 * What a client sees of a store's auth: refusals (no user, a user without the permission, a
 * wrong password, a write with only read), the keys root and the permitted users read, the
 * users and roles as etcdctl lists them, and the auth status. Read-only: it may be taken twice.
 */
async function authView(m: ClusterMember): Promise<Record<string, unknown>> {
  const ctl = m.ctl;
  const err = async (...args: string[]) => {
    const r = await ctl.run(...args);
    return `${r.code} ${errorLine(r)}`;
  };
  const kvs = async (...args: string[]) => (JSON.parse(await ctl.ok(...args, "-w", "json")) as { kvs?: unknown }).kvs;
  const view: Record<string, unknown> = {
    anonymous: await err("get", "app/a"),
    bob: await err("--user", "bob:bobpw", "get", "app/a"),
    wrongPassword: await err("--user", "alice:nope", "get", "app/a"),
    aliceWrites: await err("--user", "alice:alicepw", "put", "app/a", "x"),
    aliceOutside: await err("--user", "alice:alicepw", "get", "other/x"),
    carolOpenEnd: await err("--user", "carol:carolpw", "get", "zz", "--from-key"),
    alice: await kvs("--user", "alice:alicepw", "get", "app/", "--prefix"),
    carol: await kvs("--user", "carol:carolpw", "get", "app/w/", "--prefix"),
    carolKey: await kvs("--user", "carol:carolpw", "get", "other/x"),
    root: await kvs("--user", ROOT, "get", "", "--prefix"),
    users: await ctl.ok("--user", ROOT, "user", "list"),
    roles: await ctl.ok("--user", ROOT, "role", "list"),
    authRevision: await m.metric("etcd_debugging_auth_revision"),
  };
  for (const u of ["root", "alice", "bob", "carol", "nopass"]) view[`user ${u}`] = await ctl.ok("--user", ROOT, "user", "get", u);
  for (const r of ["root", "reader", "writer"]) view[`role ${r}`] = await ctl.ok("--user", ROOT, "role", "get", r);
  return view;
}

/** The refusals are etcd's and the permitted reads return what was written (not vacuous). */
function expectEnforced(v: Record<string, unknown>): void {
  expect(v.anonymous).toBe("1 Error: etcdserver: user name is empty");
  expect(v.bob).toBe("1 Error: etcdserver: permission denied");
  expect(v.wrongPassword).toBe("2 Error: etcdserver: authentication failed, invalid user ID or password");
  expect(v.aliceWrites).toBe("1 Error: etcdserver: permission denied");
  expect(v.aliceOutside).toBe("1 Error: etcdserver: permission denied");
  expect(v.carolOpenEnd).toBe("0 undefined");
  const keys = (x: unknown) => (x as { key: string }[]).map((kv) => Buffer.from(kv.key, "base64").toString());
  expect(keys(v.alice)).toEqual(["app/a", "app/b", "app/w/x"]);
  expect(keys(v.carol)).toEqual(["app/w/x"]);
  expect(keys(v.carolKey)).toEqual(["other/x"]);
  expect(keys(v.root)).toEqual(["app/a", "app/b", "app/w/x", "other/x", "zz"]);
  expect(v.users).toBe("alice\nbob\ncarol\nnopass\nroot\n");
  expect(v.roles).toBe("reader\nroot\nwriter\n");
  expect(v.authRevision).toBeGreaterThan(10);
}

/** `etcdctl snapshot save` as root from `m`, restored by etcdctl into a new Debian etcd. */
async function savedIntoEtcd(m: ClusterMember, name: string): Promise<ClusterMember> {
  const file = join(dir, `${name}.db`);
  const r = await m.ctl.run("--user", ROOT, "snapshot", "save", file);
  expect(r.code).toBe(0);
  const etcd = await started(Cluster.start({ size: 1, bin: ETCD_SERVER_BIN, namePrefix: name, prepare: async (c) => etcdctlRestore(file, c) }));
  return etcd.members[0]!;
}

test("auth written to the member travels through etcdctl snapshot save/restore; Debian's etcd enforces it", async () => {
  const source = await started(Cluster.start({ size: 1, namePrefix: "src" }));
  await writeAuth(source.members[0]!.ctl);
  const before = await authView(source.members[0]!);
  expectEnforced(before);
  expect(await authView(await savedIntoEtcd(source.members[0]!, "etcd"))).toEqual(before);
}, 90_000);

let fromEtcd: Record<string, unknown>;
let restored: Cluster;

beforeAll(async () => {
  const etcd = await started(Cluster.start({ size: 1, bin: ETCD_SERVER_BIN, namePrefix: "orig" }));
  await writeAuth(etcd.members[0]!.ctl);
  fromEtcd = await authView(etcd.members[0]!);
  const r = await etcd.members[0]!.ctl.run("--user", ROOT, "snapshot", "save", join(dir, "etcd.db"));
  if (r.code !== 0) throw new Error(`snapshot save from etcd: ${r.stderr}`);
}, 60_000);

test("an etcd snapshot with auth restored into three members: each enforces etcd's users and permissions", async () => {
  expectEnforced(fromEtcd);
  restored = await started(Cluster.start({ size: 3, prepare: restoreForTarget(join(dir, "etcd.db")) }));
  for (const m of restored.members) expect(await authView(m)).toEqual(fromEtcd);
}, 120_000);

test("round trip etcd → cluster → etcd: users, roles, permissions and auth status as they were", async () => {
  expect(await authView(await savedIntoEtcd(restored.members[1]!, "again"))).toEqual(fromEtcd);
}, 90_000);
