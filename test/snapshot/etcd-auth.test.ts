// The auth seam on a real etcd snapshot: users (bcrypt hashes, roles, no-password option),
// roles with their permissions, the enabled flag and the auth revision parse into the typed
// value Conclave's auth store will take over; until it exists, restore refuses such a
// snapshot rather than drop its users.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseAuthBuckets, restoreSnapshot } from "../../src/snapshot/index.ts";
import { SnapshotFile } from "../../src/snapshot/snapshot-file.ts";
import { Cluster, ETCD_SERVER_BIN, makeTempDir, removeDir } from "../helpers/index.ts";

const dir = makeTempDir("etcd-auth-snapshot");
const file = join(dir, "auth.db");
let etcd: Cluster | undefined;

beforeAll(async () => {
  etcd = await Cluster.start({ size: 1, bin: ETCD_SERVER_BIN, namePrefix: "auth" });
  const ctl = etcd.members[0]!.ctl;
  await ctl.ok("user", "add", "root:rootpw"); // auth revision 2
  await ctl.ok("role", "add", "r1"); // 3
  await ctl.ok("role", "grant-permission", "r1", "readwrite", "/foo/", "--prefix"); // 4
  await ctl.ok("role", "grant-permission", "r1", "read", "/bar"); // 5
  await ctl.ok("user", "add", "u1", "--no-password"); // 6
  await ctl.ok("user", "grant-role", "u1", "r1"); // 7
  await ctl.ok("auth", "enable"); // creates role root (8), grants it to root (9); enabling itself does not count
  const r = await ctl.run("--user", "root:rootpw", "snapshot", "save", file);
  if (r.code !== 0) throw new Error(`snapshot save: ${r.stderr}`);
}, 60_000);

afterAll(async () => {
  await etcd?.cleanup();
  removeDir(dir);
});

test("users, roles, permissions, the enabled flag and the revision read from etcd's auth buckets", () => {
  const f = SnapshotFile.open(file, "open");
  try {
    const r = f.bolt();
    const auth = parseAuthBuckets(r, r.root());
    expect(auth.enabled).toBe(true);
    expect(auth.revision).toBe(9);
    expect(auth.users.map((u) => [u.name, u.roles, u.noPassword])).toEqual([
      ["root", ["root"], false],
      ["u1", ["r1"], true],
    ]);
    expect(auth.users[0]!.password).toMatch(/^\$2a\$10\$/);
    expect(auth.users[1]!.password).toBe("");
    const text = (b: Uint8Array) => Buffer.from(b).toString();
    expect(auth.roles.map((role) => [role.name, role.permissions.map((p) => [p.permType, text(p.key), text(p.rangeEnd)])])).toEqual([
      ["r1", [[0, "/bar", ""], [2, "/foo/", "/foo0"]]],
      ["root", []],
    ]);
  } finally {
    f.close();
  }
});

test("restore refuses the snapshot (no auth store to put it in) and writes nothing", async () => {
  const dataDir = join(dir, "restored");
  await expect(restoreSnapshot({ snapshotPath: file, dataDir })).rejects.toThrow(
    "snapshot holds auth data (2 users, 2 roles, auth enabled), which this build cannot restore: it has no auth store yet",
  );
  expect(existsSync(dataDir)).toBe(false);
});
