// etcd's snapshot format on both sides of a migration: Conclave state → an etcd image
// (Maintenance.Snapshot), an etcd (or Conclave) image → Conclave data dirs, and the
// status etcdctl prints for an image.
export { exportEtcdImage, type EtcdImage, type ExportOptions } from "./export-image.ts";
export { type EtcdAuthState, type EtcdPermission, type EtcdRole, type EtcdUser, FRESH_AUTH_STATE, parseAuthBuckets, authBucketSources } from "./auth-buckets.ts";
export { SnapshotError } from "./errors.ts";
export { restoreSnapshot, type RestoreOptions, type RestoreResult } from "./restore.ts";
export { snapshotStatus, type SnapshotStatus } from "./status.ts";
