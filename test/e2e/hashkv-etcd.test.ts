// HashKV against etcd's own value: Debian's etcd and our member, side by side, fed the same
// writes (overwrites, deletes, a txn with three sub-revisions, a key on a lease of a fixed ID,
// an empty value, compactions, everything deleted), answer `etcdctl endpoint hashkv` with the
// same hash and compaction revision at every revision, and refuse the same revisions.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { resolve } from "node:path";
import { Ctl, ETCD_SERVER_BIN, Gateway, Member, REPO_ROOT } from "../helpers/index.ts";

const CONCLAVE = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");
let servers: Array<{ member: Member; ctl: Ctl; gw: Gateway }> = [];

beforeAll(async () => {
  for (const bin of [ETCD_SERVER_BIN, CONCLAVE]) {
    const member = await Member.start({ bin, name: "hashkv" });
    servers.push({ member, ctl: new Ctl(member.endpoint), gw: new Gateway(member.clientURL) });
  }
}, 60_000);
afterAll(async () => {
  for (const s of servers) await s.member.cleanup();
  servers = [];
});

/** `endpoint hashkv` at `rev` on one server: its hash and compaction revision, or its error. */
async function hashkv(ctl: Ctl, rev: number): Promise<string> {
  const r = await ctl.run("endpoint", "hashkv", "--rev", String(rev), "-w", "json");
  if (r.code !== 0) return r.stderr.split("\n").filter((l) => l.startsWith("Error: ")).join("|");
  const [{ HashKV }] = JSON.parse(r.stdout) as Array<{ HashKV: { hash?: number; compact_revision: number; header: { revision: number } } }>;
  return `hash ${HashKV.hash ?? 0} compacted ${HashKV.compact_revision} at ${HashKV.header.revision}`;
}

/** The same step on both servers. */
async function both(step: (s: (typeof servers)[number]) => Promise<unknown>): Promise<void> {
  for (const s of servers) await step(s);
}

async function sameAt(revs: number[]): Promise<void> {
  for (const rev of revs) {
    const [etcd, ours] = [await hashkv(servers[0]!.ctl, rev), await hashkv(servers[1]!.ctl, rev)];
    expect({ rev, ours }).toEqual({ rev, ours: etcd });
  }
}

test("the same writes give etcd's HashKV at every revision, before and after compactions", async () => {
  // A fresh store: the hash of the empty bucket, never compacted (-1).
  await sameAt([0]);
  expect(await hashkv(servers[1]!.ctl, 0)).toBe("hash 1084519789 compacted -1 at 1");
  await both(async ({ ctl, gw }) => {
    await ctl.ok("put", "a", "1"); // 2
    await ctl.ok("put", "a", "2"); // 3
    await ctl.ok("put", "b", "x"); // 4
    await ctl.ok("del", "b"); // 5
    expect((await gw.post("/v3/lease/grant", { TTL: 600, ID: 4660 })).status).toBe(200);
    await ctl.ok("put", "lk", "lv", "--lease=1234"); // 6
    const txn = await ctl.runWith({ stdin: "\nput c 3\nput d 4\ndel a\n\n\n" }, "txn"); // 7: three sub-revisions
    expect(txn.stdout.startsWith("SUCCESS")).toBe(true);
    await ctl.ok("put", "empty", ""); // 8
    await ctl.ok("put", "c", "33"); // 9
  });
  await sameAt([0, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

  await both(({ ctl }) => ctl.ok("compaction", "5", "--physical"));
  await both(async ({ ctl }) => {
    await ctl.ok("put", "a", "back"); // 10
    await ctl.ok("del", "d"); // 11
  });
  // At or below the compaction: refused (as etcd, even the compaction revision itself).
  await sameAt([0, 3, 5, 6, 7, 9, 10, 11, 12]);

  await both(({ ctl }) => ctl.ok("compaction", "9", "--physical"));
  await sameAt([0, 9, 10, 11]);

  // Everything deleted, then compacted: no key is live, so etcd hashes every row still stored.
  await both(({ ctl }) => ctl.ok("del", "", "--from-key")); // 12
  await both(({ ctl }) => ctl.ok("compaction", "12", "--physical"));
  await sameAt([0, 12]);
  expect(await hashkv(servers[1]!.ctl, 0)).toBe("hash 1084519789 compacted 12 at 12");
}, 120_000);
