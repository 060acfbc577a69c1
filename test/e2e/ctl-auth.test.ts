// etcdctl 3.4's user, role and auth commands, and data commands as root, as a user with and
// without the permission, and with no user: outputs and exit codes as against etcd (run this
// file with E2E_TARGET=etcd too). Where Conclave follows etcd 3.4.45's rules and Debian's
// etcd 3.4.23 still has the hole they closed, each side's answer is asserted and named.
import { expect, test } from "bun:test";
import { b64, errorLine, isEtcd, prefixEnd, useMember, delay } from "../helpers/index.ts";

const get = useMember({ extraArgs: ["--auth-token-ttl", "300"] });
const ROOT = ["--user", "root:rootpw"];
const ALICE = ["--user", "alice:alicepw"];
const BOB = ["--user", "bob", "--password", "bobpw"];
const DENIED = "Error: etcdserver: permission denied";
const NO_USER = "Error: etcdserver: user name is empty";

test("user and role management, then auth enable", async () => {
  const { ctl } = get();
  expect(await ctl.ok("user", "add", "root:rootpw")).toBe("User root created\n");
  expect(await ctl.ok("user", "add", "alice:alicepw")).toBe("User alice created\n");
  expect(await ctl.ok("user", "add", "bob", "--new-user-password", "bobpw")).toBe("User bob created\n");
  expect(await ctl.ok("user", "add", "carol", "--no-password")).toBe("User carol created\n");
  expect(await ctl.ok("role", "add", "app")).toBe("Role app created\n");
  expect(await ctl.ok("role", "grant-permission", "app", "readwrite", "/a/", "--prefix")).toBe("Role app updated\n");
  expect(await ctl.ok("role", "grant-permission", "app", "read", "/k")).toBe("Role app updated\n");
  expect(await ctl.ok("role", "grant-permission", "app", "write", "/r1", "/r5")).toBe("Role app updated\n");
  expect(await ctl.ok("role", "grant-permission", "app", "readwrite", "/z", "--from-key")).toBe("Role app updated\n");
  expect(await ctl.ok("role", "get", "app")).toBe(
    "Role app\nKV Read:\n\t[/a/, /a0) (prefix /a/)\n\t/k\n\t[/z, <open ended>\nKV Write:\n\t[/a/, /a0) (prefix /a/)\n\t[/r1, /r5)\n\t[/z, <open ended>\n",
  );
  expect(await ctl.ok("user", "grant-role", "alice", "app")).toBe("Role app is granted to user alice\n");
  expect(await ctl.ok("user", "get", "alice")).toBe("User: alice\nRoles: app\n");
  expect(await ctl.ok("user", "list")).toBe("alice\nbob\ncarol\nroot\n");
  expect(await ctl.ok("role", "list")).toBe("app\n");
  const noRole = await ctl.run("user", "grant-role", "alice", "nope");
  expect([noRole.code, errorLine(noRole)]).toEqual([1, "Error: etcdserver: role name not found"]);
  const noUser = await ctl.run("user", "get", "dave");
  expect([noUser.code, errorLine(noUser)]).toEqual([1, "Error: etcdserver: user name not found"]);
  expect(await ctl.ok("role", "revoke-permission", "app", "/k")).toBe("Permission of key /k is revoked from role app\n");
  expect(await ctl.ok("role", "revoke-permission", "app", "/r1", "/r5")).toBe("Permission of range [/r1, /r5) is revoked from role app\n");
  const notGranted = await ctl.run("role", "revoke-permission", "app", "/k");
  expect(errorLine(notGranted)).toBe("Error: etcdserver: permission is not granted to the role");
  // etcdctl creates role root and grants it when root lacks it.
  expect(await ctl.ok("auth", "enable")).toBe("Authentication Enabled\n");
  expect(await ctl.ok(...ROOT, "role", "list")).toBe("app\nroot\n");
});

test("no user: refused with 'user name is empty'; bad passwords: the same answer for any user", async () => {
  const { ctl } = get();
  const r = await ctl.run("put", "/a/x", "1");
  expect([r.code, errorLine(r)]).toEqual([1, NO_USER]);
  const g = await ctl.run("get", "/a/x");
  expect(errorLine(g)).toBe(NO_USER);
  const bad = await ctl.run("--user", "alice:wrong", "get", "/a/x");
  const ghost = await ctl.run("--user", "ghost:wrong", "get", "/a/x");
  expect(errorLine(bad)).toBe("Error: etcdserver: authentication failed, invalid user ID or password");
  expect([ghost.code, errorLine(ghost)]).toEqual([bad.code, errorLine(bad)]);
  const nopw = await ctl.run("--user", "carol:x", "get", "/a/x");
  expect(errorLine(nopw)).toBe("Error: rpc error: code = Unknown desc = auth: authentication failed, password was given for no password user");
});

test("a user with the permission reads and writes its keys; without it, permission denied", async () => {
  const { ctl } = get();
  expect(await ctl.ok(...ALICE, "put", "/a/x", "1")).toBe("OK\n");
  expect(await ctl.ok(...ALICE, "get", "/a/x")).toBe("/a/x\n1\n");
  expect(await ctl.ok(...ALICE, "get", "/a/", "--prefix", "--keys-only")).toBe("/a/x\n\n");
  expect(await ctl.ok(...ALICE, "put", "/zoo", "z")).toBe("OK\n");
  expect(await ctl.ok(...ALICE, "get", "/z", "--from-key", "--keys-only")).toBe("/zoo\n\n");
  for (const args of [["put", "/b", "1"], ["get", "/b"], ["get", "/", "--prefix"], ["del", "/b"], ["put", "/a/x", "2", "--prev-kv"].slice(0, 0)]) {
    if (args.length === 0) continue;
    const r = await ctl.run(...ALICE, ...args);
    expect([args.join(" "), r.code, errorLine(r)]).toEqual([args.join(" "), 1, DENIED]);
  }
  const bob = await ctl.run(...BOB, "get", "/a/x");
  expect([bob.code, errorLine(bob)]).toEqual([1, DENIED]);
  expect(await ctl.ok(...ROOT, "get", "/a/x", "--print-value-only")).toBe("1\n");
  expect(await ctl.ok(...ALICE, "del", "/a/x")).toBe("1\n");
});

test("txn: compares and ops of both branches need permission, nested ones too", async () => {
  const { ctl } = get();
  const ok = await ctl.runWith({ stdin: 'value("/a/t") = "x"\n\nput /a/t 1\n\nput /a/t 2\n\n' }, ...ALICE, "txn");
  expect([ok.code, ok.stdout]).toEqual([0, "FAILURE\n\nOK\n"]);
  // The failure branch touches /b: refused even though the success branch would run.
  const r = await ctl.runWith({ stdin: 'value("/a/t") = "2"\n\nput /a/t 3\n\nput /b 1\n\n' }, ...ALICE, "txn");
  expect([r.code, errorLine(r)]).toEqual([1, DENIED]);
  const cmp = await ctl.runWith({ stdin: 'value("/b") = "x"\n\nput /a/t 3\n\n\n' }, ...ALICE, "txn");
  expect(errorLine(cmp)).toBe(DENIED);
  expect(await ctl.ok(...ROOT, "get", "/a/t", "--print-value-only")).toBe("2\n");
});

test("leases: grant for any user; revoke and keys need write on the attached keys", async () => {
  const { ctl } = get();
  const grant = await ctl.ok(...ALICE, "lease", "grant", "60");
  const id = /lease ([0-9a-f]+) granted/.exec(grant)![1]!;
  expect(await ctl.ok(...ALICE, "put", "/a/leased", "v", "--lease", id)).toBe("OK\n");
  const ttl = await ctl.run(...BOB, "lease", "timetolive", id, "--keys");
  expect(errorLine(ttl)).toBe(isEtcd() ? undefined : DENIED);
  const rv = await ctl.run(...BOB, "lease", "revoke", id);
  expect(errorLine(rv)).toBe("Error: failed to revoke lease (etcdserver: permission denied)");
  expect(await ctl.ok(...ALICE, "lease", "timetolive", id, "--keys")).toMatch(/attached keys\(\[\/a\/leased\]\)/);
  expect(await ctl.ok(...ALICE, "lease", "revoke", id)).toBe(`lease ${id} revoked\n`);
  const anon = await ctl.run("lease", "grant", "60");
  expect(errorLine(anon)).toBe(isEtcd() ? undefined : "Error: failed to grant lease (etcdserver: user name is empty)");
});

test("watch: permitted ranges only", async () => {
  const { ctl } = get();
  const w = ctl.spawn(...BOB, "watch", "/a/", "--prefix");
  const line = await w.lineMatching(/canceled|permission denied/, 10_000);
  expect(line).toContain("permission denied");
  await w.kill();
  const ok = ctl.spawn(...ALICE, "watch", "/a/w");
  await delay(500);
  await ctl.ok(...ROOT, "put", "/a/w", "seen");
  expect(await ok.stdoutAtLeast(3, 10_000)).toEqual(["PUT", "/a/w", "seen"]);
  await ok.kill();
});

test("lock and elect: the caller's permissions on the lock's keys", async () => {
  const { ctl } = get();
  const lock = ctl.spawn(...ALICE, "lock", "/a/lock");
  expect((await lock.stdoutAtLeast(1, 10_000))[0]).toMatch(/^\/a\/lock\/[0-9a-f]+$/);
  await lock.kill();
  const denied = await ctl.runWith({ timeoutMs: 15_000 }, ...BOB, "lock", "/a/lock2");
  expect(errorLine(denied)).toBe(DENIED);
  const elect = ctl.spawn(...ALICE, "elect", "/a/el", "me");
  expect((await elect.stdoutAtLeast(2, 10_000))[1]).toBe("me");
  await elect.kill();
});

test("maintenance and cluster: admin only where etcd 3.4.45 says so", async () => {
  const { ctl, member } = get();
  const compact = await ctl.run(...ALICE, "compaction", "1");
  // 3.4.42 made Compact admin-only; 3.4.23 lets any user compact.
  expect(errorLine(compact)).toBe(isEtcd() ? undefined : DENIED);
  expect(await ctl.ok(...ROOT, "compaction", "2")).toBe("compacted revision 2\n");
  const defrag = await ctl.run(...ALICE, "defrag");
  expect(defrag.stderr).toContain(`Failed to defragment etcd member[${member.endpoint}] (rpc error: code = Unknown desc = auth: permission denied)`);
  expect(await ctl.ok(...ROOT, "defrag")).toBe(`Finished defragmenting etcd member[${member.endpoint}]\n`);
  const snap = await ctl.run(...ALICE, "snapshot", "save", "/dev/null");
  expect(snap.code).not.toBe(0);
  expect(snap.stderr).toContain("auth: permission denied");
  expect(await ctl.ok(...ALICE, "member", "list")).toContain("started, default");
  const anonList = await ctl.run("member", "list");
  // MemberList needs an identity since 3.4.42 (any user since 3.4.43).
  expect(errorLine(anonList)).toBe(isEtcd() ? undefined : NO_USER);
  const status = await ctl.run(...ALICE, "endpoint", "status");
  expect(status.code).toBe(isEtcd() ? 0 : 1);
  expect(await ctl.ok(...ROOT, "endpoint", "status")).toContain(member.endpoint);
  const alarm = await ctl.run(...ALICE, "alarm", "list");
  expect(alarm.code).toBe(0);
  const add = await ctl.run(...ALICE, "member", "add", "x", "--peer-urls=http://127.0.0.1:1");
  expect(errorLine(add)).toBe(DENIED);
  const userAdd = await ctl.run(...ALICE, "user", "add", "eve:x");
  expect(errorLine(userAdd)).toBe(DENIED);
  const passwd = await ctl.runWith({ stdin: "newpw\n" }, ...ALICE, "user", "passwd", "alice", "--interactive=false");
  expect(errorLine(passwd)).toBe(DENIED);
});

test("permission changes take effect at once for tokens already issued", async () => {
  const { gw, ctl } = get();
  const auth = await gw.ok("/v3/auth/authenticate", { name: "alice", password: "alicepw" });
  const token = auth.token as string;
  expect(token).toMatch(/^[a-zA-Z]{16}\.[0-9]+$/);
  const range = () => gw.post("/v3/kv/range", { key: b64("/a/"), range_end: prefixEnd("/a/") }, 10_000, { authorization: token });
  expect((await range()).status).toBe(200);
  await ctl.ok(...ROOT, "role", "revoke-permission", "app", "/a/", "--prefix");
  const after = await range();
  expect([after.status, after.json.error]).toEqual([403, "etcdserver: permission denied"]);
  await ctl.ok(...ROOT, "role", "grant-permission", "app", "readwrite", "/a/", "--prefix");
  expect((await range()).status).toBe(200);
  // A password change invalidates the user's tokens on every member.
  await ctl.runWith({ stdin: "alicepw2\n" }, ...ROOT, "user", "passwd", "alice", "--interactive=false");
  const stale = await range();
  expect([stale.status, stale.json.error]).toEqual([401, "etcdserver: invalid auth token"]);
});

test("user and role deletion; root cannot be removed while auth is on; auth disable", async () => {
  const { ctl } = get();
  expect(errorLine(await ctl.run(...ROOT, "user", "delete", "root"))).toBe("Error: etcdserver: invalid auth management");
  expect(errorLine(await ctl.run(...ROOT, "role", "delete", "root"))).toBe("Error: etcdserver: invalid auth management");
  expect(errorLine(await ctl.run(...ROOT, "user", "revoke-role", "root", "root"))).toBe("Error: etcdserver: invalid auth management");
  expect(await ctl.ok(...ROOT, "user", "revoke-role", "bob", "app").catch((e: Error) => e.message)).toContain("role is not granted to the user");
  expect(await ctl.ok(...ROOT, "user", "delete", "bob")).toBe("User bob deleted\n");
  expect(await ctl.ok(...ROOT, "role", "delete", "app")).toBe("Role app deleted\n");
  expect(await ctl.ok(...ROOT, "user", "get", "alice")).toBe("User: alice\nRoles:\n");
  expect(await ctl.ok(...ROOT, "auth", "disable")).toBe("Authentication Disabled\n");
  expect(await ctl.ok("get", "/a/t", "--print-value-only")).toBe("2\n");
});
