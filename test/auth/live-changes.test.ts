// Permission changes take effect at once on open watches (an etcd departure: etcd checks a
// watch only when it is created), and the auth store survives SIGKILL and restart: users,
// roles, permissions, the enabled flag and the auth revision come back from the state file
// and the log. Conclave's binary, etcdctl 3.4.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { parseAuthBuckets } from "../../src/snapshot/index.ts";
import { SnapshotFile } from "../../src/snapshot/snapshot-file.ts";
import { b64, Ctl, delay, Gateway, makeTempDir, Member, removeDir } from "../helpers/index.ts";

const m_gw = (m: Member) => new Gateway(m.clientURL);

const ROOT = ["--user", "root:rootpw"];
const ALICE = ["--user", "alice:alicepw"];

async function setup(ctl: Ctl): Promise<void> {
  for (const args of [
    ["user", "add", "root:rootpw"],
    ["user", "add", "alice:alicepw"],
    ["role", "add", "app"],
    ["role", "grant-permission", "app", "read", "w/", "--prefix"],
    ["user", "grant-role", "alice", "app"],
    ["auth", "enable"],
  ]) {
    await ctl.ok(...args);
  }
}

test("revoking a permission cancels the user's open watchers before any later event", async () => {
  const m = await Member.start();
  try {
    const ctl = new Ctl(m.endpoint);
    await setup(ctl);
    const w = ctl.spawn(...ALICE, "watch", "w/", "--prefix");
    await delay(500);
    await ctl.ok(...ROOT, "put", "w/1", "before");
    expect(await w.stdoutAtLeast(3, 10_000)).toEqual(["PUT", "w/1", "before"]);
    // A watcher the user still may read stays (another user's change).
    const other = ctl.spawn(...ROOT, "watch", "w/", "--prefix");
    await delay(300);
    // The same over the gateway, where the cancel reason is visible.
    const token = (await m_gw(m).ok("/v3/auth/authenticate", { name: "alice", password: "alicepw" })).token as string;
    const gws = await m_gw(m).stream("/v3/watch", { create_request: { key: b64("w/"), range_end: b64("w0") } }, { authorization: token });
    expect((await gws.next()).result.created).toBe(true);
    await ctl.ok(...ROOT, "role", "revoke-permission", "app", "w/", "--prefix");
    await ctl.ok(...ROOT, "put", "w/2", "after");
    const canceled = (await gws.next()).result;
    expect([canceled.canceled, canceled.cancel_reason]).toEqual([true, "rpc error: code = PermissionDenied desc = etcdserver: permission denied"]);
    gws.close();
    const line = await w.lineMatching(/canceled/, 10_000);
    expect(line).toBe("Error: watch is canceled by the server");
    expect((await w.exited).code).toBe(5);
    expect(w.stdoutLines.join("\n")).not.toContain("after");
    expect(await other.stdoutAtLeast(3, 10_000)).toEqual(["PUT", "w/2", "after"]);
    await other.kill();
    await w.kill();
  } finally {
    await m.cleanup();
  }
}, 60_000);

test("the auth store survives SIGKILL and restart", async () => {
  const m = await Member.start();
  try {
    const ctl = new Ctl(m.endpoint);
    await setup(ctl);
    await ctl.ok(...ROOT, "role", "grant-permission", "app", "readwrite", "k", "--from-key");
    const before = (await m.process) && (await fetch(`${m.clientURL}/metrics`).then((r) => r.text()));
    const rev = /etcd_debugging_auth_revision (\d+)/.exec(before)![1];
    await m.kill();
    await m.launch();
    expect(await ctl.ok(...ROOT, "user", "list")).toBe("alice\nroot\n");
    expect(await ctl.ok(...ROOT, "role", "get", "app")).toBe("Role app\nKV Read:\n\t[k, <open ended>\n\t[w/, w0) (prefix w/)\nKV Write:\n\t[k, <open ended>\n");
    expect(await ctl.ok(...ALICE, "put", "kk", "v")).toBe("OK\n");
    const anon = await ctl.run("get", "kk");
    expect(anon.stderr).toContain("etcdserver: user name is empty");
    const after = await fetch(`${m.clientURL}/metrics`).then((r) => r.text());
    expect(/etcd_debugging_auth_revision (\d+)/.exec(after)![1]).toBe(rev!);
    void b64;
  } finally {
    await m.cleanup();
  }
}, 60_000);

test("auth disabled after being enabled: the state (authEnabled 0, the revision) survives SIGKILL and reaches snapshots", async () => {
  const m = await Member.start();
  const dir = makeTempDir("auth-flag-snapshot");
  try {
    const ctl = new Ctl(m.endpoint);
    await setup(ctl);
    await ctl.ok(...ROOT, "auth", "disable");
    await m.kill();
    await m.launch();
    const file = join(dir, "s.db");
    await ctl.ok("snapshot", "save", file);
    const f = SnapshotFile.open(file, "open");
    try {
      const r = f.bolt();
      // user add ×2, role add, grant-permission, grant-role (2..6), enable: role root, grant (7, 8), disable (9).
      expect(parseAuthBuckets(r, r.root())).toMatchObject({ enabled: false, enabledKey: true, revision: 9 });
    } finally {
      f.close();
    }
    expect((await ctl.run("get", "x")).code).toBe(0); // auth is off
  } finally {
    await m.cleanup();
    removeDir(dir);
  }
}, 60_000);
