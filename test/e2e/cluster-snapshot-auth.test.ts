// A follower that is down while auth changes and the leader compacts its log catches up by
// snapshot and enforces the new auth: users added, deleted and re-passworded, roles revoked and
// permissions granted meanwhile. Afterwards every member reports the same HashKV and (Conclave;
// see memberHashes for etcd 3.4) the same Hash, which covers the auth store as etcd's
// whole-backend hash does. Both targets. (Simple tokens across the install: test/server.)
//
// With --snapshot-count 100 the leader snapshots every 100 entries and keeps 5000 entries after
// a snapshot for slow followers (etcd's SnapshotCatchUpEntries): 5500 writes make the follower's
// next entry unavailable, so only a snapshot can bring it back.
import { expect, test } from "bun:test";
import { b64, type ClusterMember, type Gateway, isEtcd, pollUntil, prefixEnd, runEtcdctl, useCluster } from "../helpers/index.ts";

const WRITES = 5500;
const c = useCluster({ size: 3, extraArgs: ["--snapshot-count", "100"] });

const login = async (gw: Gateway, name: string, password: string) => {
  const r = await gw.post("/v3/auth/authenticate", { name, password });
  return r.status === 200 ? (r.json.token as string) : `${r.status} ${r.json.error}`;
};
const as = (token: string) => ({ authorization: token });

async function call(gw: Gateway, token: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const r = await gw.post(path, body, 10_000, as(token));
  return { status: r.status, json: r.json as Record<string, any> };
}

/** Serializable: answered from this member's own state and auth store, no Raft round trip. */
async function readAs(m: ClusterMember, token: string, key: string): Promise<string> {
  const r = await call(m.gw, token, "/v3/kv/range", { key: b64(key), serializable: true });
  return r.status === 200 ? `ok ${r.json.kvs?.length ?? 0}` : `${r.status} ${r.json.error}`;
}

async function ok(gw: Gateway, token: string, path: string, body: unknown): Promise<Record<string, any>> {
  const r = await call(gw, token, path, body);
  if (r.status !== 200) throw new Error(`${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

/** A root token issued after the catch-up: registered on every member, the follower included. */
let rootToken = "";

/**
 * Maintenance.Hash of every member, and the one HashKV every member reports (`etcdctl endpoint
 * hashkv`, which must agree). Conclave's members agree on Hash, auth included; etcd 3.4's do not
 * once a user has a password: each member runs bcrypt itself when it applies UserAdd, with its
 * own salt, so the authUsers bucket differs from member to member (observed on 3.4.23; etcd 3.5
 * hashes before proposing, as Conclave does).
 */
async function memberHashes(token: string): Promise<{ hashes: number[]; hashKV: number }> {
  const cl = c();
  const hashes = await Promise.all(cl.members.map(async (m) => (await ok(m.gw, token, "/v3/maintenance/hash", {})).hash as number));
  const r = await runEtcdctl(cl.endpoints(), ["--user", "root:rootpw", "endpoint", "hashkv", "-w", "json"]);
  if (r.code !== 0) throw new Error(`endpoint hashkv: ${r.stderr}`);
  const kv = (JSON.parse(r.stdout) as { HashKV: { hash: number } }[]).map((e) => e.HashKV.hash);
  expect(kv.length).toBe(3);
  expect(new Set(kv).size).toBe(1);
  if (!isEtcd()) expect(new Set(hashes).size).toBe(1);
  return { hashes, hashKV: kv[0]! };
}

/** Puts n keys with the token, 16 at a time. */
async function fill(gw: Gateway, token: string, n: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) await ok(gw, token, "/v3/kv/put", { key: b64(`fill/${String(i).padStart(6, "0")}`), value: b64(`v${i}`) });
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

test("a follower down past a log compaction while auth changed catches up by snapshot and enforces the new auth", async () => {
  const cl = c();
  const leader = await cl.waitLeader();
  const gw = leader.gw;
  for (const [p, body] of [
    ["/v3/auth/user/add", { name: "root", password: "rootpw" }],
    ["/v3/auth/user/grant", { user: "root", role: "root" }],
    ["/v3/auth/role/add", { name: "reader" }],
    ["/v3/auth/role/grant", { name: "reader", perm: { permType: "READ", key: b64("app/"), range_end: prefixEnd("app/") } }],
    ["/v3/auth/user/add", { name: "alice", password: "alicepw" }],
    ["/v3/auth/user/grant", { user: "alice", role: "reader" }],
    ["/v3/auth/user/add", { name: "dave", password: "davepw" }],
    ["/v3/auth/user/grant", { user: "dave", role: "reader" }],
    ["/v3/auth/user/add", { name: "bob", password: "bobpw" }],
    ["/v3/kv/put", { key: b64("app/a"), value: b64("1") }],
    ["/v3/kv/put", { key: b64("other/x"), value: b64("2") }],
    ["/v3/auth/enable", {}],
  ] as const) {
    const r = await gw.post(p, body);
    if (r.status !== 200) throw new Error(`${p} → ${r.status} ${r.text}`);
  }
  const root = await login(gw, "root", "rootpw");
  const follower = cl.members.find((m) => m !== leader)!;
  // Before: the follower lets alice and dave read.
  const daveOld = await login(follower.gw, "dave", "davepw");
  await pollUntil(async () => ((await readAs(follower, daveOld, "app/a")) === "ok 1" ? true : undefined), 5000, "dave reads on the follower");
  expect(await readAs(follower, await login(follower.gw, "alice", "alicepw"), "app/a")).toBe("ok 1");
  expect(await readAs(follower, daveOld, "other/x")).toBe("403 etcdserver: permission denied");
  const snapshotsBefore = await follower.metric("etcd_network_snapshot_receive_success");
  await follower.kill();

  // Meanwhile: a new user, a deleted one, a new password, a revoked role, a wider permission.
  await ok(gw, root, "/v3/auth/user/add", { name: "erin", password: "erinpw" });
  await ok(gw, root, "/v3/auth/user/grant", { user: "erin", role: "reader" });
  await ok(gw, root, "/v3/auth/user/delete", { name: "bob" });
  await ok(gw, root, "/v3/auth/user/changepw", { name: "dave", password: "davepw2" });
  await ok(gw, root, "/v3/auth/user/revoke", { name: "alice", role: "reader" });
  await ok(gw, root, "/v3/auth/role/grant", { name: "reader", perm: { permType: "READ", key: b64("other/"), range_end: prefixEnd("other/") } });
  await fill(gw, root, WRITES);

  await follower.start();
  // Caught up: the same revision as the others, through a snapshot (etcd's metric).
  const target = Number((await ok(gw, root, "/v3/maintenance/status", {})).header.revision);
  await pollUntil(
    async () => ((await follower.metric("etcd_debugging_mvcc_current_revision").catch(() => 0)) >= target ? true : undefined),
    60_000,
    "follower applied the leader's revision",
    100,
  );
  expect(await follower.metric("etcd_network_snapshot_receive_success")).toBeGreaterThan(snapshotsBefore);

  // The follower's own auth store is the new one.
  const erin = await login(follower.gw, "erin", "erinpw");
  expect(await readAs(follower, erin, "app/a")).toBe("ok 1");
  expect(await readAs(follower, erin, "other/x")).toBe("ok 1");
  const alice = await login(follower.gw, "alice", "alicepw");
  expect(await readAs(follower, alice, "app/a")).toBe("403 etcdserver: permission denied");
  expect(await login(follower.gw, "bob", "bobpw")).toBe("400 etcdserver: authentication failed, invalid user ID or password");
  expect(await login(follower.gw, "dave", "davepw")).toBe("400 etcdserver: authentication failed, invalid user ID or password");
  expect(await readAs(follower, await login(follower.gw, "dave", "davepw2"), "other/x")).toBe("ok 1");

  rootToken = await login(follower.gw, "root", "rootpw");
  await memberHashes(rootToken);
}, 180_000);

test("Hash covers the auth store: an auth-only change moves it on every member, HashKV stays", async () => {
  const cl = c();
  const authRevision = () => Promise.all(cl.members.map((m) => m.metric("etcd_debugging_auth_revision")));
  const before = await memberHashes(rootToken);
  const revBefore = (await authRevision())[0]!;
  await ok(cl.members[0]!.gw, rootToken, "/v3/auth/role/grant", { name: "reader", perm: { permType: "READ", key: b64("more/"), range_end: prefixEnd("more/") } });
  await pollUntil(async () => ((await authRevision()).every((r) => r === revBefore + 1) ? true : undefined), 5000, "the grant applied on every member");
  const after = await memberHashes(rootToken);
  expect(after.hashKV).toBe(before.hashKV);
  for (let i = 0; i < 3; i++) expect(after.hashes[i]).not.toBe(before.hashes[i]);
});
