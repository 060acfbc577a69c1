// `snapshot restore`: an etcd (or Conclave) snapshot file → a complete Conclave data dir for
// one member of a new cluster, as `etcdctl snapshot restore` makes an etcd data dir:
//
//   - members and cluster ID come from --initial-cluster and --initial-cluster-token (etcd's
//     IDs), not from the snapshot;
//   - the Raft log starts over: a snapshot marker at index N = number of members, term 1, with
//     every member a voter, and the state database's applied index N (etcd sets its consistent
//     index the same way), so the first leader's entries follow at N+1;
//   - the keyspace keeps every revision, version, create/mod revision, the compaction revision,
//     leases (TTLs restart when the member starts, as etcd's do) and alarms;
//   - auth keeps users (their bcrypt hashes verify on both sides), roles, permissions, the
//     enabled flag and the auth revision.
//
// Nothing is written unless the whole snapshot is good: the SHA-256 (or, when it is not checked,
// bbolt's consistency check) comes first, every page is checked as it is read, and the data dir
// is built under a temporary name and renamed into place last. A
// restore killed midway leaves only that temporary dir, which the next restore of the same dir
// removes.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseInitialCluster, parseUrlList, toWebUrl, urlString, verifyBootstrap } from "../config/index.ts";
import { computeClusterId, computeMemberId, hexId } from "../membership/index.ts";
import { authTableRowsOf } from "../auth/index.ts";
import { openRaftLog, StateWriter } from "../storage/index.ts";
import { asSnapshotError, SnapshotError, SnapshotErrors } from "./errors.ts";
import { importEtcdImage } from "./import-image.ts";
import { SnapshotFile } from "./snapshot-file.ts";

/** etcdctl 3.4's `snapshot restore` flags, with the same defaults. */
export interface RestoreOptions {
  /** The snapshot file (the argument of `snapshot restore`). */
  snapshotPath: string;
  /** --name (default "default"). */
  name?: string;
  /** --initial-cluster (default "default=http://localhost:2380", as etcdctl's). */
  initialCluster?: string;
  /** --initial-cluster-token (default "etcd-cluster"). */
  initialClusterToken?: string;
  /** --initial-advertise-peer-urls, comma-separated (default "http://localhost:2380"). */
  initialAdvertisePeerUrls?: string;
  /** --data-dir (default "<name>.conclave", Conclave's default data dir); must not exist. */
  dataDir?: string;
  /** --wal-dir: where the member's --wal-dir will point (the log goes in <walDir>/wal); must not exist. */
  walDir?: string;
  /** --skip-hash-check: accept a file without (or with a wrong) SHA-256 trailer. */
  skipHashCheck?: boolean;
  /** Progress lines (etcdctl logs "restoring snapshot" and "restored snapshot"). */
  log?: (msg: string, fields: Record<string, string | number>) => void;
  /**
   * A full garbage collection (src/runtime's fullCollector()), called every 16 MiB read: the
   * page buffers read die young, and collecting them on this schedule keeps the peak lower
   * (496 MB snapshot: 120–122 MiB peak with it, 135–140 without).
   */
  collectGarbage?: () => void;
  /**
   * Progress for a display: bytes read so far and the bytes a restore reads in all (the image
   * twice: the hash or consistency pass, then the import). Reads past that estimate are capped.
   */
  progress?: (done: number, total: number) => void;
}

export interface RestoreResult {
  readonly dataDir: string;
  /** The directory holding the Raft log. */
  readonly walDir: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  /** The restored store's revision and compaction revision. */
  readonly revision: number;
  readonly compactRevision: number;
  readonly historyRows: number;
  readonly leases: number;
}

/** What a new raft log starts at: etcd's restore writes its bootstrap entries in term 1. */
const RESTORE_TERM = 1;

export async function restoreSnapshot(o: RestoreOptions): Promise<RestoreResult> {
  const name = o.name ?? "default";
  const token = o.initialClusterToken ?? "etcd-cluster";
  const peerUrls = parseUrlList(o.initialAdvertisePeerUrls ?? "http://localhost:2380").map((u) => urlString(toWebUrl(u)));
  const cluster = parseInitialCluster(o.initialCluster ?? "default=http://localhost:2380").map((e) => ({
    name: e.name,
    urls: e.urls.map((u) => urlString(toWebUrl(u))),
  }));
  verifyBootstrap(name, new Map(cluster.map((e) => [e.name, e.urls])));
  const mine = cluster.find((e) => e.name === name)!.urls;
  const sorted = (xs: readonly string[]) => [...xs].sort().join(",");
  if (sorted(mine) !== sorted(peerUrls)) {
    throw new SnapshotError(
      `--initial-cluster has ${name}=${mine.join(",")} but missing from --initial-advertise-peer-urls=${peerUrls.join(",")} (resolved urls: ${JSON.stringify(sorted(peerUrls))} != ${JSON.stringify(sorted(mine))})`,
    );
  }
  const members = cluster.map((e) => ({ id: computeMemberId(e.urls, token), name: e.name, peerURLs: e.urls }));
  const memberId = computeMemberId(mine, token);
  const clusterId = computeClusterId(members.map((m) => m.id));

  const dataDir = o.dataDir || `${name}.conclave`;
  if (existsSync(dataDir)) throw SnapshotErrors.dataDirExists(dataDir);
  if (o.walDir && existsSync(o.walDir)) throw SnapshotErrors.walDirExists(o.walDir);
  const logDir = o.walDir ? join(o.walDir, "wal") : join(dataDir, "member", "wal");
  o.log?.("restoring snapshot", { path: o.snapshotPath, "wal-dir": logDir, "data-dir": dataDir });

  const file = SnapshotFile.open(o.snapshotPath, "open", o.collectGarbage);
  if (o.progress) {
    const report = o.progress;
    const total = 2 * file.imageSize;
    let done = 0;
    file.onRead = (n) => report((done = Math.min(total, done + n)), total);
  }
  removeStaleTemps(dataDir);
  if (o.walDir) removeStaleTemps(o.walDir);
  const tmpData = tempSibling(dataDir);
  const tmpWal = o.walDir ? tempSibling(o.walDir) : undefined;
  let writer: StateWriter | undefined;
  try {
    const hashed = file.verifyHash(o.skipHashCheck ?? false);
    const bolt = file.bolt();
    // A matching SHA-256 proves the file is the one the server sent; without it, bbolt's
    // consistency check goes first. Either way every page read below is checked as it is read.
    if (!hashed) {
      const problems = bolt.check();
      if (problems.length > 0) throw SnapshotErrors.integrity(problems);
    }

    const memberDir = join(tmpData, "member");
    mkdirSync(memberDir, { recursive: true });
    writer = StateWriter.create(join(memberDir, "state.db"));
    const imported = importEtcdImage(bolt, writer);
    // Users, roles, permissions, the enabled flag and the auth revision, as the image has them:
    // a restored member enforces them from its first request, as etcd's does.
    writer.setAuth(authTableRowsOf(imported.auth));
    for (const m of members) writer.addMember({ ...m, clientURLs: [], isLearner: false });
    const appliedIndex = members.length;
    writer.setMeta({
      appliedIndex,
      revision: imported.revision,
      compactRevision: imported.compactRevision,
      scheduledCompact: imported.scheduledCompact,
    });
    writer.finish();
    writer = undefined;

    const log = await openRaftLog(tmpWal ? join(tmpWal, "wal") : join(memberDir, "wal"));
    try {
      const voters = members.map((m) => m.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      log.applySnapshot({ index: appliedIndex, term: RESTORE_TERM, confState: { voters, learners: [] } });
      log.setHardState({ term: RESTORE_TERM, vote: 0n, commit: appliedIndex });
      await log.sync();
    } finally {
      await log.close();
    }
    writeFileSync(join(memberDir, "identity.json"), JSON.stringify({ name, memberId: hexId(memberId), clusterId: hexId(clusterId) }));

    // Into place: the WAL dir first, so a data dir never exists without its log.
    if (tmpWal) renameSync(tmpWal, o.walDir!);
    try {
      renameSync(tmpData, dataDir);
    } catch (e) {
      if (tmpWal) rmSync(o.walDir!, { recursive: true, force: true });
      throw e;
    }
    o.log?.("restored snapshot", { path: o.snapshotPath, "wal-dir": logDir, "data-dir": dataDir });
    return {
      dataDir,
      walDir: logDir,
      memberId,
      clusterId,
      revision: imported.revision,
      compactRevision: imported.compactRevision,
      historyRows: imported.historyRows,
      leases: imported.leases,
    };
  } catch (e) {
    throw asSnapshotError(e);
  } finally {
    writer?.abort();
    file.close();
    rmSync(tmpData, { recursive: true, force: true });
    if (tmpWal) rmSync(tmpWal, { recursive: true, force: true });
  }
}

/** A fresh name beside `path` (same file system, so the final rename is atomic). */
function tempSibling(path: string): string {
  const abs = resolve(path);
  return join(dirname(abs), `${tempPrefix(abs)}${randomBytes(4).toString("hex")}`);
}

const tempPrefix = (abs: string) => `.${basename(abs)}.restore-`;

/** What a restore of the same dir killed midway left behind (it never became the dir). */
function removeStaleTemps(path: string): void {
  const abs = resolve(path);
  let names: string[];
  try {
    names = readdirSync(dirname(abs));
  } catch {
    return; // no parent yet: nothing left behind
  }
  for (const n of names) if (n.startsWith(tempPrefix(abs))) rmSync(join(dirname(abs), n), { recursive: true, force: true });
}
