// etcd's snapshot format on both sides of a migration: Conclave state → an etcd image
// (Maintenance.Snapshot streams it), an etcd (or Conclave) snapshot file → Conclave data dirs,
// and the figures `etcdctl snapshot status` prints for a file.
//
// For `conclave ctl snapshot …` (cli/ctl), the two entry points and how etcdctl 3.4 prints
// their results:
//
//   snapshot status <file> [-w simple|json|table]
//     const st = await snapshotStatus(file, await fullCollector());  // src/runtime/heap-governor.ts
//     // st = { hash, revision, totalKey, totalSize }
//     simple: `${st.hash.toString(16)}, ${st.revision}, ${st.totalKey}, ${humanize(st.totalSize)}`
//             (humanize = go-humanize Bytes: SI units, "20 kB", "1.1 GB")
//     json:   {"hash":…,"revision":…,"totalKey":…,"totalSize":…} (numbers, in that order)
//     table:  HASH | REVISION | TOTAL KEYS | TOTAL SIZE, the hash in %x
//
//   snapshot restore <file> [--name] [--data-dir] [--wal-dir] [--initial-cluster]
//                           [--initial-cluster-token] [--initial-advertise-peer-urls]
//                           [--skip-hash-check]
//     await restoreSnapshot({ snapshotPath: file, name, dataDir, walDir, initialCluster,
//       initialClusterToken, initialAdvertisePeerUrls, skipHashCheck,
//       collectGarbage: await fullCollector(),  // keeps a large restore's memory flat
//       log: (msg, fields) => … });   // etcdctl logs "restoring snapshot" / "restored snapshot"
//     Pass flags only when given: the defaults are etcdctl's (name "default", initial cluster
//     "default=http://localhost:2380", token "etcd-cluster", peer URL "http://localhost:2380"),
//     except the data dir, which defaults to Conclave's "<name>.conclave".
//
//   Both throw SnapshotError (and config's errors for malformed URLs) whose message is the
//   line etcdctl prints after "Error: " (exit code 1 in etcdctl 3.4 for both commands).
export { exportEtcdImage, type EtcdImage, type ExportOptions } from "./export-image.ts";
export { authBucketSources, type EtcdAuthState, FRESH_AUTH_STATE, parseAuthBuckets } from "./auth-buckets.ts";
export { SnapshotError } from "./errors.ts";
export { snapshotResponses } from "./snapshot-responses.ts";
export { restoreSnapshot, type RestoreOptions, type RestoreResult } from "./restore.ts";
export { snapshotStatus, type SnapshotStatus } from "./status.ts";
