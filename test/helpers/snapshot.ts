// Snapshot helpers for the end-to-end tests: restore a snapshot into the data dirs of a
// cluster about to start, with etcd's tool (etcdctl snapshot restore) or with Conclave's
// (restoreSnapshot, what `conclave ctl snapshot restore` calls), and run Debian's etcd.
import { spawnSync } from "node:child_process";
import { restoreSnapshot } from "../../src/snapshot/index.ts";
import type { PreparedCluster } from "./cluster.ts";
import { type Ctl, ctlEnv, errorLine } from "./etcdctl.ts";
import { ETCDCTL_BIN, isEtcd } from "./target.ts";

/** Debian's etcd, whatever the target (interoperability tests run it beside ours). */
export const ETCD_SERVER_BIN = process.env.ETCD_BIN ?? "/usr/bin/etcd";

/** `etcdctl snapshot restore` into every member's data dir; throws with etcdctl's output. */
export function etcdctlRestore(file: string, c: PreparedCluster): void {
  for (const m of c.members) {
    const r = spawnSync(
      ETCDCTL_BIN,
      [
        "snapshot",
        "restore",
        file,
        "--name",
        m.name,
        "--data-dir",
        m.dataDir,
        "--initial-cluster",
        c.initialCluster,
        "--initial-cluster-token",
        c.token,
        "--initial-advertise-peer-urls",
        m.peerURL,
      ],
      { env: ctlEnv(), encoding: "utf8", timeout: 120_000 },
    );
    if (r.status !== 0) throw new Error(`etcdctl snapshot restore for ${m.name} exited ${r.status}: ${r.stderr}`);
  }
}

/** Conclave's restore into every member's data dir. */
export async function conclaveRestore(file: string, c: PreparedCluster): Promise<void> {
  for (const m of c.members) {
    await restoreSnapshot({
      snapshotPath: file,
      name: m.name,
      dataDir: m.dataDir,
      initialCluster: c.initialCluster,
      initialClusterToken: c.token,
      initialAdvertisePeerUrls: m.peerURL,
    });
  }
}

/** The restore tool of the current target: etcdctl for etcd, Conclave's for Conclave. */
export function restoreForTarget(file: string): (c: PreparedCluster) => Promise<void> {
  return async (c) => (isEtcd() ? etcdctlRestore(file, c) : conclaveRestore(file, c));
}

/** What writeHistory wrote: the store's revision, the lease and the compaction revision. */
export interface History {
  readonly revision: number;
  readonly lease: string;
  readonly compacted: number;
}

/**
 * The same history on any server: overwrites, deletes, a txn of two puts (two sub-revisions),
 * a leased key, a compaction at 3, then more writes above it. Revisions 2..10.
 */
export async function writeHistory(ctl: Ctl, prefix = ""): Promise<History> {
  const k = (s: string) => `${prefix}${s}`;
  await ctl.ok("put", k("a"), "1"); // 2
  await ctl.ok("put", k("a"), "2"); // 3
  await ctl.ok("put", k("b"), "x"); // 4
  await ctl.ok("del", k("b")); // 5
  const lease = /^lease ([0-9a-f]+) granted/.exec(await ctl.ok("lease", "grant", "600"))![1]!;
  await ctl.ok("put", k("lk"), "lv", `--lease=${lease}`); // 6
  const txn = await ctl.runWith({ stdin: `\nput ${k("c")} 3\nput ${k("d")} 4\n\n\n` }, "txn"); // 7
  if (txn.code !== 0 || !txn.stdout.startsWith("SUCCESS")) throw new Error(`txn failed: ${txn.stdout} ${txn.stderr}`);
  await ctl.ok("compaction", "3");
  await ctl.ok("put", k("a"), "3"); // 8
  await ctl.ok("put", k("e"), "1"); // 9
  await ctl.ok("del", k("e")); // 10
  return { revision: 10, lease, compacted: 3 };
}

/**
 * What a reader sees of a store: `get --prefix -w json` at the current revision and at each
 * older revision from 2 (compacted ones give etcd's error line), and the lease's granted TTL
 * and keys. Two stores holding the same history answer with the same text.
 */
export async function observe(ctl: Ctl, h: History): Promise<{ kvs: unknown; byRevision: string[]; lease: string }> {
  const now = JSON.parse(await ctl.ok("get", "", "--prefix", "-w", "json")) as { header: { revision: number }; kvs: unknown };
  if (now.header.revision !== h.revision) throw new Error(`revision ${now.header.revision}, expected ${h.revision}`);
  const byRevision: string[] = [];
  for (let rev = 2; rev <= h.revision; rev++) {
    const r = await ctl.run("get", "", "--prefix", "--rev", String(rev), "-w", "fields");
    byRevision.push(r.code === 0 ? r.stdout.replace(/^"(ClusterID|MemberID|RaftTerm)" : \d+\n/gm, "") : `${r.code} ${errorLine(r)}`);
  }
  const ttl = JSON.parse(await ctl.ok("lease", "timetolive", h.lease, "--keys", "-w", "json")) as { "granted-ttl": number; keys: string[] };
  return { kvs: now.kvs, byRevision, lease: `granted ${ttl["granted-ttl"]} keys ${[...ttl.keys].map((k) => Buffer.from(k, "base64")).sort().join(",")}` };
}
