// The auth buckets of real etcd snapshots (Debian's etcd 3.4.23): users (bcrypt hashes, roles,
// the no-password option), roles with their permissions, the enabled flag and the auth revision
// parse into the auth store's state; written back out they are etcd's bytes, entry for entry;
// restore puts them into the state database's auth tables as those same bytes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type BoltReader, type BucketSource, writeBolt } from "../../src/bbolt/index.ts";
import { authBucketSources, parseAuthBuckets, restoreSnapshot } from "../../src/snapshot/index.ts";
import { SnapshotFile } from "../../src/snapshot/snapshot-file.ts";
import { StateReader } from "../../src/storage/index.ts";
import { readerOf } from "../bbolt/helpers.ts";
import { Cluster, ETCD_SERVER_BIN, makeTempDir, removeDir } from "../helpers/index.ts";

const dir = makeTempDir("etcd-auth-snapshot");
const enabledFile = join(dir, "auth.db");
const disabledFile = join(dir, "auth-off.db");
let etcd: Cluster | undefined;

beforeAll(async () => {
  etcd = await Cluster.start({ size: 1, bin: ETCD_SERVER_BIN, namePrefix: "auth" });
  const ctl = etcd.members[0]!.ctl;
  await ctl.ok("user", "add", "root:rootpw"); // auth revision 2
  await ctl.ok("role", "add", "r1"); // 3
  await ctl.ok("role", "grant-permission", "r1", "readwrite", "/foo/", "--prefix"); // 4
  await ctl.ok("role", "grant-permission", "r1", "read", "/bar"); // 5
  await ctl.ok("role", "grant-permission", "r1", "write", "/x", "/y"); // 6
  await ctl.ok("role", "grant-permission", "r1", "read", "/open", "--from-key"); // 7
  await ctl.ok("user", "add", "u1", "--no-password"); // 8
  await ctl.ok("user", "grant-role", "u1", "r1"); // 9
  await ctl.ok("user", "add", "u2:u2pw"); // 10
  await ctl.ok("auth", "enable"); // creates role root (11), grants it to root (12); enabling itself does not count
  const r = await ctl.run("--user", "root:rootpw", "snapshot", "save", enabledFile);
  if (r.code !== 0) throw new Error(`snapshot save: ${r.stderr}`);
  await ctl.ok("--user", "root:rootpw", "auth", "disable"); // 13
  const r2 = await ctl.run("snapshot", "save", disabledFile);
  if (r2.code !== 0) throw new Error(`snapshot save: ${r2.stderr}`);
}, 60_000);

afterAll(async () => {
  await etcd?.cleanup();
  removeDir(dir);
});

const AUTH_BUCKETS = ["auth", "authRoles", "authUsers"];

/** Every entry of the auth buckets, as hex text. */
function authEntries(r: BoltReader): string[][] {
  const out: string[][] = [];
  for (const name of AUTH_BUCKETS) {
    const b = r.bucket(r.root(), new TextEncoder().encode(name));
    for (const e of b === undefined ? [] : r.entries(b)) out.push([name, Buffer.from(e.key).toString("hex"), Buffer.from(e.value).toString("hex")]);
  }
  return out;
}

async function imageOf(sources: BucketSource[]): Promise<BoltReader> {
  const parts: Uint8Array[] = [];
  for await (const c of writeBolt(sources)) parts.push(c);
  return readerOf(new Uint8Array(Buffer.concat(parts)));
}

function withFile<T>(file: string, fn: (r: BoltReader) => T): T {
  const f = SnapshotFile.open(file, "open");
  try {
    return fn(f.bolt());
  } finally {
    f.close();
  }
}

test("users, roles, permissions, the enabled flag and the revision read from etcd's auth buckets", () => {
  const auth = withFile(enabledFile, (r) => parseAuthBuckets(r, r.root()));
  expect(auth).toMatchObject({ enabled: true, enabledKey: true, revision: 12 });
  expect(auth.users.map((u) => [u.name, u.roles, u.noPassword])).toEqual([
    ["root", ["root"], false],
    ["u1", ["r1"], true],
    ["u2", [], false],
  ]);
  expect(auth.users[0]!.password).toMatch(/^\$2a\$10\$/);
  expect(auth.users[1]!.password).toBe("");
  expect(auth.roles.map((role) => [role.name, role.perms.map((p) => [p.type, p.key, p.rangeEnd])])).toEqual([
    [
      "r1",
      [
        [0, "/bar", ""],
        [2, "/foo/", "/foo0"],
        [0, "/open", "\0"],
        [1, "/x", "/y"],
      ],
    ],
    ["root", []],
  ]);
  // Disabled after being enabled: authEnabled is kept, with 0.
  expect(withFile(disabledFile, (r) => parseAuthBuckets(r, r.root()))).toMatchObject({ enabled: false, enabledKey: true, revision: 13 });
});

test("written back out, the auth buckets are etcd's bytes, entry for entry (enabled and disabled)", async () => {
  for (const file of [enabledFile, disabledFile]) {
    const [theirs, state] = withFile(file, (r) => [authEntries(r), parseAuthBuckets(r, r.root())] as const);
    expect(theirs.length).toBeGreaterThan(4);
    expect(authEntries(await imageOf(authBucketSources(state)))).toEqual(theirs);
  }
});

test("restore writes etcd's records into the auth tables as they are", async () => {
  const dataDir = join(dir, "restored");
  await restoreSnapshot({ snapshotPath: enabledFile, dataDir });
  const view = StateReader.open(join(dataDir, "member", "state.db"));
  const rows = view.authRows();
  view.close();
  expect(rows.meta).toEqual({ enabled: 1, revision: 12 });
  const theirs = withFile(enabledFile, authEntries);
  const ours = [...rows.roles.map((x) => ["authRoles", x]), ...rows.users.map((x) => ["authUsers", x])] as [string, { name: string; data: Uint8Array }][];
  expect(ours.map(([b, x]) => [b, Buffer.from(x.name).toString("hex"), Buffer.from(x.data).toString("hex")])).toEqual(theirs.filter((e) => e[0] !== "auth"));
});
