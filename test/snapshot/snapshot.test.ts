// Conclave state → etcd image → Conclave data dir, in process: every history row, lease and
// compaction revision survives the round trip; status reads what etcdctl reads; restore
// builds the member's data dir (identity, raft log at index N, state) and refuses bad input
// without writing anything.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { authBucketSources, FRESH_AUTH_STATE, restoreSnapshot, snapshotStatus, SnapshotError, type EtcdAuthState, parseAuthBuckets } from "../../src/snapshot/index.ts";
import { SnapshotFile } from "../../src/snapshot/snapshot-file.ts";
import { authTableRowsOf, encodeUser } from "../../src/auth/index.ts";
import { openRaftLog, StateReader } from "../../src/storage/index.ts";
import { computeClusterId, computeMemberId } from "../../src/membership/ids.ts";
import { readerOf } from "../bbolt/helpers.ts";
import { makeTempDir, removeDir } from "../helpers/index.ts";
import { del, exportToFile, historyOf, put, stateFile, writeState } from "./helpers.ts";
import { type BucketSource, writeBolt } from "../../src/bbolt/index.ts";
import { Buckets, MetaKeys, revisionKey, u64be } from "../../src/snapshot/etcd-layout.ts";
import { encodeKeyValue } from "../../src/snapshot/kv-codec.ts";
import { listSource } from "../../src/snapshot/sources.ts";
import { createHash } from "node:crypto";

const dir = makeTempDir("snapshot-unit");
afterAll(() => removeDir(dir));
let seq = 0;
const fresh = (tag: string) => join(dir, `${tag}-${++seq}`);

/** History with overwrites, a delete, a txn with two subs, a lease, compacted at 3. */
const ROWS = [
  put(3, "a", "2", 2, 2),
  put(4, "b", "x", 4, 1),
  del(5, "b"),
  put(6, "lk", "lv", 6, 1, 0x1234n),
  put(7, "c", "3", 7, 1),
  put(7, "d", "4", 7, 1, 0n, 1),
  put(8, "a", "3", 2, 3),
];

async function sampleSnapshot(): Promise<{ file: string; state: string }> {
  const state = join(fresh("state"), "state.db");
  mkdirSync(join(state, ".."), { recursive: true });
  writeState(state, { rows: ROWS, leases: [{ id: 0x1234n, ttl: 300, remaining: 120 }], revision: 8, compactRevision: 3 });
  const file = `${state}.snap`;
  await exportToFile(state, file);
  return { file, state };
}

test("round trip: the restored state holds every row, lease and the compaction revision", async () => {
  const { file, state } = await sampleSnapshot();
  const dataDir = fresh("restored");
  const r = await restoreSnapshot({
    snapshotPath: file,
    name: "n2",
    initialCluster: "n1=http://127.0.0.1:7001,n2=http://127.0.0.1:7002,n3=http://127.0.0.1:7003",
    initialAdvertisePeerUrls: "http://127.0.0.1:7002",
    initialClusterToken: "tok",
    dataDir,
  });
  const ids = [7001, 7002, 7003].map((p) => computeMemberId([`http://127.0.0.1:${p}`], "tok"));
  expect(r).toMatchObject({ dataDir, memberId: ids[1], clusterId: computeClusterId(ids), revision: 8, compactRevision: 3, historyRows: 7, leases: 1 });
  expect(historyOf(stateFile(dataDir))).toEqual(historyOf(state));
  const view = StateReader.open(stateFile(dataDir));
  try {
    expect(view.header).toEqual({ appliedIndex: 3, revision: 8, compactRevision: 3, scheduledCompact: 0 });
    expect([...view.leases()]).toEqual([{ id: 0x1234n, ttl: 300, remaining: 120 }]);
    const members = view.members().sort((a, b) => a.name.localeCompare(b.name));
    expect(members.map((m) => [m.id, m.name, m.peerURLs, m.clientURLs, m.removed])).toEqual([
      [ids[0], "n1", ["http://127.0.0.1:7001"], [], false],
      [ids[1], "n2", ["http://127.0.0.1:7002"], [], false],
      [ids[2], "n3", ["http://127.0.0.1:7003"], [], false],
    ]);
  } finally {
    view.close();
  }
  expect(JSON.parse(readFileSync(join(dataDir, "member", "identity.json"), "utf8"))).toEqual({
    name: "n2",
    memberId: ids[1]!.toString(16),
    clusterId: computeClusterId(ids).toString(16),
  });
  // A new raft log: a snapshot marker at index 3 (one per member, as etcd's restore), term 1,
  // every member a voter, commit 3.
  const log = await openRaftLog(join(dataDir, "member", "wal"));
  try {
    expect(log.snapshotMeta()).toEqual({ index: 3, term: 1, confState: { voters: [...ids].sort((a, b) => (a < b ? -1 : 1)), learners: [] } });
    expect(log.hardState()).toEqual({ term: 1, vote: 0n, commit: 3 });
    expect(log.lastIndex()).toBe(3);
  } finally {
    await log.close();
  }
});

test("status: revision of the last key entry, entries of every bucket, size, and a CRC-32C over them", async () => {
  const { file } = await sampleSnapshot();
  const st = await snapshotStatus(file);
  // key 7 + meta 3 (consistent_index, scheduled/finished compaction) + lease 1 + member 1 +
  // cluster version 1 + auth revision 1.
  expect({ revision: st.revision, totalKey: st.totalKey, totalSize: st.totalSize }).toEqual({ revision: 8, totalKey: 14, totalSize: 12288 });
  expect(st.hash).toBe((await snapshotStatus(file)).hash);
  // The same image with one value byte changed hashes differently (trailer not consulted).
  const b = readFileSync(file);
  const at = b.indexOf(Buffer.from("lv"));
  b[at] = 0x4c;
  const changed = `${file}.changed`;
  writeFileSync(changed, b);
  expect((await snapshotStatus(changed)).hash).not.toBe(st.hash);
});

test("an export taken while a compaction is still deleting rows leaves the superseded rows out", async () => {
  const state = join(fresh("pending"), "state.db");
  mkdirSync(join(state, ".."), { recursive: true });
  // Compaction at 5 scheduled, nothing deleted yet: a@2 (superseded by a@3), b@4 and its
  // tombstone at 5 must not be in the image; a@3 (latest at 5) and everything above must.
  writeState(state, { rows: [put(2, "a", "1", 2, 1), put(3, "a", "2", 2, 2), put(4, "b", "x", 4, 1), del(5, "b"), put(6, "c", "1", 6, 1)], revision: 6, compactRevision: 5, scheduledCompact: 5 });
  const file = `${state}.snap`;
  await exportToFile(state, file);
  const dataDir = fresh("pending-restored");
  await restoreSnapshot({ snapshotPath: file, dataDir });
  expect(historyOf(stateFile(dataDir))).toEqual(["3_0 a=2 c2 v2 l0", "6_0 c=1 c6 v1 l0"]);
});

/** Every file and dir under `parent` (to see that a refused restore left nothing). */
const entries = (parent: string) => (existsSync(parent) ? readdirSync(parent).sort() : []);

async function refused(file: string, expected: string | RegExp, opts: { skipHashCheck?: boolean } = {}): Promise<void> {
  const parent = fresh("refused");
  mkdirSync(parent);
  const dataDir = join(parent, "data");
  let message = "restored";
  try {
    await restoreSnapshot({ snapshotPath: file, dataDir, skipHashCheck: opts.skipHashCheck });
  } catch (e) {
    expect(e).toBeInstanceOf(SnapshotError);
    message = (e as Error).message;
  }
  if (typeof expected === "string") expect(message).toBe(expected);
  else expect(message).toMatch(expected);
  expect(entries(parent)).toEqual([]);
}

test("corrupt input is refused with one clear line and nothing is written", async () => {
  const { file } = await sampleSnapshot();
  const good = readFileSync(file);
  const variant = (name: string, f: (b: Buffer) => Buffer) => {
    const p = `${file}.${name}`;
    writeFileSync(p, f(Buffer.from(good)));
    return p;
  };
  const flipped = variant("flip", (b) => ((b[2 * 4096 + 100] ^= 0xff), b));
  await refused(flipped, /^expected sha256 \[(\d+ ){31}\d+\], got \[(\d+ ){31}\d+\]$/);
  await refused(variant("trailer", (b) => ((b[b.length - 1] ^= 1), b)), /^expected sha256 /);
  await refused(variant("trunc", (b) => b.subarray(0, b.length - 100)), "snapshot missing hash but --skip-hash-check=false");
  const random = variant("random", () => Buffer.from(Array.from({ length: 8192 + 32 }, (_, i) => (i * 7919 + 13) & 0xff)));
  await refused(random, /^expected sha256 /);
  // Random bytes with a matching trailer (or the check skipped) fail as not a bbolt file.
  const body = random.replace(/$/, ".b");
  const rb = readFileSync(random).subarray(0, 8192);
  writeFileSync(body, Buffer.concat([rb, createHash("sha256").update(rb).digest()]));
  await refused(body, "invalid database");
  await refused(variant("empty", () => Buffer.alloc(0)), "snapshot missing hash but --skip-hash-check=false");
  await refused(variant("empty2", () => Buffer.alloc(0)), "invalid database", { skipHashCheck: true });
  await refused(join(dir, "no-such-file"), `open ${join(dir, "no-such-file")}: no such file or directory`);
  // With the hash check skipped, a damaged page structure is still caught by bbolt's check.
  const structure = variant("structure", (b) => {
    b.writeUInt16LE(0x7f, 2 * 4096 + 8); // page 2's flags: no longer a branch or leaf page
    return b;
  });
  await refused(structure, /^snapshot file integrity check failed\. \d+ errors found\. page 2: [^\n]*$/, { skipHashCheck: true });
  await expect(snapshotStatus(structure)).rejects.toThrow(/^snapshot file integrity check failed/);
  // A damaged page with a matching trailer (made so by whoever wrote the file) is caught as it
  // is read: here revision 4's key says 8, which its KeyValue contradicts (and 8 before 5
  // breaks the key order).
  const resealed = variant("resealed", (b) => {
    const body = b.subarray(0, b.length - 32);
    const at = body.indexOf(Buffer.from([0, 0, 0, 0, 0, 0, 0, 4, 0x5f])); // revision key 4_0
    body.copy(body, at, body.indexOf(Buffer.from([0, 0, 0, 0, 0, 0, 0, 8, 0x5f])), body.indexOf(Buffer.from([0, 0, 0, 0, 0, 0, 0, 8, 0x5f])) + 9);
    createHash("sha256").update(body).digest().copy(b, b.length - 32);
    return b;
  });
  await refused(resealed, "key bucket: revision 8_0: mod_revision 4 does not match");
  await expect(snapshotStatus(join(dir, "no-such-file"))).rejects.toThrow(`stat ${join(dir, "no-such-file")}: no such file or directory`);
  await expect(snapshotStatus(random)).rejects.toThrow("invalid database");
  // The trailer is not status's business (etcdctl's neither).
  expect((await snapshotStatus(variant("trailer2", (b) => ((b[b.length - 1] ^= 1), b)))).revision).toBe(8);
});

test("skip-hash-check restores a db file without a trailer (copied out of a data dir)", async () => {
  const { file } = await sampleSnapshot();
  const raw = `${file}.raw`;
  writeFileSync(raw, readFileSync(file).subarray(0, -32));
  await refused(raw, "snapshot missing hash but --skip-hash-check=false");
  const dataDir = fresh("raw");
  expect((await restoreSnapshot({ snapshotPath: raw, dataDir, skipHashCheck: true })).revision).toBe(8);
});

test("bad options fail like etcdctl's, before anything is written", async () => {
  const { file } = await sampleSnapshot();
  const opts = { snapshotPath: file, dataDir: join(fresh("opts"), "d") };
  await expect(restoreSnapshot({ ...opts, name: "x" })).rejects.toThrow(`couldn't find local name "x" in the initial cluster configuration`);
  await expect(restoreSnapshot({ ...opts, name: "a", initialCluster: "a=http://127.0.0.1:1", initialAdvertisePeerUrls: "http://127.0.0.1:3" })).rejects.toThrow(
    `--initial-cluster has a=http://127.0.0.1:1 but missing from --initial-advertise-peer-urls=http://127.0.0.1:3 (resolved urls: "http://127.0.0.1:3" != "http://127.0.0.1:1")`,
  );
  await expect(restoreSnapshot({ ...opts, name: "a", initialCluster: "a=http://127.0.0.1:1,b=http://127.0.0.1:1", initialAdvertisePeerUrls: "http://127.0.0.1:1" })).rejects.toThrow(
    "initial cluster a=http://127.0.0.1:1,b=http://127.0.0.1:1 has duplicate url",
  );
  await expect(restoreSnapshot({ ...opts, initialCluster: "default=ftp://x" })).rejects.toThrow("URL scheme must be http, https, unix, or unixs: ftp://x");
  const existing = fresh("exists");
  mkdirSync(existing);
  await expect(restoreSnapshot({ ...opts, dataDir: existing })).rejects.toThrow(`data-dir "${existing}" exists`);
  await expect(restoreSnapshot({ ...opts, walDir: existing })).rejects.toThrow(`wal-dir "${existing}" exists`);
  expect(existsSync(opts.dataDir)).toBe(false);
});

test("--wal-dir puts the raft log where the member's --wal-dir will look for it", async () => {
  const { file } = await sampleSnapshot();
  const base = fresh("waldir");
  const r = await restoreSnapshot({ snapshotPath: file, dataDir: join(base, "data"), walDir: join(base, "wal") });
  expect(r.walDir).toBe(join(base, "wal", "wal"));
  expect(readdirSync(join(base, "wal", "wal")).some((f) => f.endsWith(".wal"))).toBe(true);
  expect(existsSync(join(base, "data", "member", "wal"))).toBe(false);
  expect(readdirSync(base).sort()).toEqual(["data", "wal"]);
});

const AUTH: EtcdAuthState = {
  enabled: true,
  enabledKey: true,
  revision: 7,
  users: [
    { name: "root", password: "$2a$10$abcdefghijklmnopqrstuv", roles: ["root"], noPassword: false },
    { name: "u1", password: "", roles: ["r1", "r2"], noPassword: true },
  ],
  roles: [
    { name: "r1", perms: [{ type: 2, key: "/foo", rangeEnd: "/fop" }, { type: 0, key: "/o", rangeEnd: "\0" }] },
    { name: "root", perms: [] },
  ],
};

/** An image of the given buckets plus an empty key bucket and a meta bucket, with its SHA-256. */
async function imageFile(tag: string, buckets: BucketSource[]): Promise<string> {
  const parts: Uint8Array[] = [];
  const all = [listSource(Buckets.key, []), listSource(Buckets.meta, [{ key: MetaKeys.consistentIndex, value: u64be(9) }]), ...buckets];
  for await (const c of writeBolt(all.sort((a, b) => Buffer.compare(a.name, b.name)))) parts.push(c);
  const body = Buffer.concat(parts);
  const file = join(fresh(tag), "auth.db");
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, Buffer.concat([body, createHash("sha256").update(body).digest()]));
  return file;
}

const authKeys = async (state: EtcdAuthState) => {
  const image: Uint8Array[] = [];
  for await (const c of writeBolt(authBucketSources(state))) image.push(c);
  const r = readerOf(new Uint8Array(Buffer.concat(image)));
  return [...r.entries(r.bucket(r.root(), new TextEncoder().encode("auth"))!)].map((e) => [Buffer.from(e.key).toString(), Buffer.from(e.value).toString("hex")]);
};

test("auth buckets parse into the typed value they were written from; authEnabled only once auth was enabled", async () => {
  const image: Uint8Array[] = [];
  for await (const c of writeBolt(authBucketSources(AUTH))) image.push(c);
  const r = readerOf(new Uint8Array(Buffer.concat(image)));
  expect(parseAuthBuckets(r, r.root())).toEqual(AUTH);
  // A fresh etcd's: authRevision 1 and no authEnabled key; after enable → disable: authEnabled 0.
  expect(await authKeys(FRESH_AUTH_STATE)).toEqual([["authRevision", "0000000000000001"]]);
  expect(await authKeys({ ...FRESH_AUTH_STATE, enabledKey: true, revision: 3 })).toEqual([
    ["authEnabled", "00"],
    ["authRevision", "0000000000000003"],
  ]);
  expect(await authKeys({ ...AUTH, enabledKey: undefined })).toEqual([
    ["authEnabled", "01"],
    ["authRevision", "0000000000000007"],
  ]);
});

test("auth tables travel: member state → etcd image → restored state, byte for byte", async () => {
  const state = join(fresh("auth-state"), "state.db");
  mkdirSync(join(state, ".."), { recursive: true });
  const tables = authTableRowsOf(AUTH);
  writeState(state, { rows: ROWS, leases: [{ id: 0x1234n, ttl: 300, remaining: 120 }], revision: 8, compactRevision: 3, auth: tables });
  const file = `${state}.snap`;
  await exportToFile(state, file); // the auth comes from the view, as Maintenance.Snapshot takes it
  const f = SnapshotFile.open(file, "open");
  try {
    const r = f.bolt();
    expect(parseAuthBuckets(r, r.root())).toEqual(AUTH);
  } finally {
    f.close();
  }
  const dataDir = fresh("auth-restored");
  await restoreSnapshot({ snapshotPath: file, dataDir });
  const view = StateReader.open(stateFile(dataDir));
  try {
    expect(view.authRows()).toEqual(tables);
  } finally {
    view.close();
  }
  // A store that never had auth restores as a fresh one: no auth_meta row at all.
  const { file: plain } = await sampleSnapshot();
  const plainDir = fresh("auth-fresh-restored");
  await restoreSnapshot({ snapshotPath: plain, dataDir: plainDir });
  const v2 = StateReader.open(stateFile(plainDir));
  try {
    expect(v2.authRows()).toEqual({ meta: undefined, users: [], roles: [] });
  } finally {
    v2.close();
  }
});

test("malformed auth records are refused with one line naming them, nothing written", async () => {
  const te = new TextEncoder();
  const users = (pairs: { key: Uint8Array; value: Uint8Array }[]) => listSource(Buckets.authUsers, pairs);
  const roles = (pairs: { key: Uint8Array; value: Uint8Array }[]) => listSource(Buckets.authRoles, pairs);
  const good = encodeUser({ name: "alice", password: "", roles: [], noPassword: true });
  await refused(await imageFile("auth-bad-user", [users([{ key: te.encode("bob"), value: Uint8Array.of(0x0a, 0x05, 0x61) }])]), /^authUsers bucket: user "bob": malformed authpb.User \(/);
  await refused(await imageFile("auth-renamed-user", [users([{ key: te.encode("bob"), value: good }])]), 'authUsers bucket: user "bob": holds user "alice"');
  await refused(await imageFile("auth-bad-utf8", [users([{ key: Uint8Array.of(0xff), value: Uint8Array.of(0x0a, 0x01, 0xff) }])]), /^authUsers bucket: user "\u00ff": malformed authpb.User \(/);
  // authpb.Role{name: "r", keyPermission: [{permType: 7, key: "k"}]}
  const badPerm = Uint8Array.of(0x0a, 0x01, 0x72, 0x12, 0x05, 0x08, 0x07, 0x12, 0x01, 0x6b);
  await refused(await imageFile("auth-bad-perm", [roles([{ key: te.encode("r"), value: badPerm }])]), 'authRoles bucket: role "r": malformed authpb.Role (permission type 7 is not READ, WRITE or READWRITE)');
  await refused(await imageFile("auth-bad-flag", [listSource(Buckets.auth, [{ key: te.encode("authEnabled"), value: Uint8Array.of(2) }])]), "auth bucket: authEnabled is not 0 or 1");
  await refused(
    await imageFile("auth-bad-rev", [listSource(Buckets.auth, [{ key: te.encode("authRevision"), value: Uint8Array.of(1, 2) }])]),
    "auth bucket: authRevision: expected 8 bytes, found 2",
  );
});

test("a live key attached to a lease the snapshot lacks is refused", async () => {
  const state = join(fresh("dangling"), "state.db");
  mkdirSync(join(state, ".."), { recursive: true });
  writeState(state, { rows: [put(2, "k", "v", 2, 1, 0x99n)], revision: 2 });
  const file = `${state}.snap`;
  await exportToFile(state, file);
  await refused(file, `key "k" (revision 2) is attached to lease 99, which the snapshot does not have`);
});

test("an etcd image whose compaction was scheduled but not finished restores with that compaction pending", async () => {
  const te = new TextEncoder();
  const kv = (rev: number, key: string, create: number, version: number) => ({
    key: revisionKey(rev, 0),
    value: encodeKeyValue({ key: te.encode(key), createRevision: create, modRevision: rev, version, value: te.encode(`v${rev}`), lease: 0n }),
  });
  const parts: Uint8Array[] = [];
  const buckets = [
    listSource(Buckets.key, [kv(2, "a", 2, 1), kv(3, "a", 2, 2), kv(4, "a", 2, 3), kv(6, "b", 6, 1)]),
    listSource(Buckets.meta, [
      { key: MetaKeys.scheduledCompact, value: revisionKey(4, 0) },
      { key: MetaKeys.finishedCompact, value: revisionKey(2, 0) },
    ]),
  ];
  for await (const c of writeBolt(buckets)) parts.push(c);
  const body = Buffer.concat(parts);
  const file = join(fresh("pending-image"), "p.db");
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, Buffer.concat([body, createHash("sha256").update(body).digest()]));
  const dataDir = fresh("pending-image-restored");
  expect(await restoreSnapshot({ snapshotPath: file, dataDir })).toMatchObject({ revision: 6, compactRevision: 4, historyRows: 4 });
  const view = StateReader.open(stateFile(dataDir));
  try {
    // Conclave's background compaction finishes it when the member starts.
    expect(view.header).toMatchObject({ revision: 6, compactRevision: 4, scheduledCompact: 4 });
  } finally {
    view.close();
  }
});
