// /metrics carries etcd 3.4's Prometheus families with etcd's names, types, help texts, labels
// and bucket bounds, so dashboards and alerts written for etcd (histogram_quantile over
// etcd_disk_wal_fsync_duration_seconds_bucket, grpc_server_handled_total{grpc_code!="OK"}, ...)
// read a member the same way. After puts, ranges, a txn, a delete, a failing compaction and a
// gateway put, the whole text must parse strictly, every histogram must be well formed, and the
// counters must have moved by at least what was done. Runs against etcd too (E2E_TARGET=etcd).
import { expect, test } from "bun:test";
import { checkHistogram, isEtcd, parseExposition, pollUntil, type PromFamily, sampleValue, useMember } from "../helpers/index.ts";

const env = useMember();

async function scrape(): Promise<Map<string, PromFamily>> {
  const r = await fetch(`${env().member.clientURL}/metrics`);
  expect(r.status).toBe(200);
  return parseExposition(await r.text());
}

/** Families every member exports from its start, with etcd 3.4.23's type and help text. */
const FAMILIES: [string, string, string][] = [
  ["etcd_server_has_leader", "gauge", "Whether or not a leader exists. 1 is existence, 0 is not."],
  ["etcd_server_is_leader", "gauge", "Whether or not this member is a leader. 1 if is, 0 otherwise."],
  ["etcd_server_is_learner", "gauge", "Whether or not this member is a learner. 1 if is, 0 otherwise."],
  ["etcd_server_leader_changes_seen_total", "counter", "The number of leader changes seen."],
  ["etcd_server_proposals_committed_total", "gauge", "The total number of consensus proposals committed."],
  ["etcd_server_proposals_applied_total", "gauge", "The total number of consensus proposals applied."],
  ["etcd_server_proposals_pending", "gauge", "The current number of pending proposals to commit."],
  ["etcd_server_proposals_failed_total", "counter", "The total number of failed proposals seen."],
  ["etcd_server_heartbeat_send_failures_total", "counter", "The total number of leader heartbeat send failures (likely overloaded from slow disk)."],
  ["etcd_server_slow_apply_total", "counter", "The total number of slow apply requests (likely overloaded from slow disk)."],
  ["etcd_server_slow_read_indexes_total", "counter", "The total number of pending read indexes not in sync with leader's or timed out read index requests."],
  ["etcd_server_read_indexes_failed_total", "counter", "The total number of failed read indexes seen."],
  ["etcd_server_quota_backend_bytes", "gauge", "Current backend storage quota size in bytes."],
  ["etcd_server_version", "gauge", "Which version is running. 1 for 'server_version' label with current version."],
  ["etcd_server_id", "gauge", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID."],
  ["etcd_server_health_success", "counter", "The total number of successful health checks"],
  ["etcd_server_health_failures", "counter", "The total number of failed health checks"],
  ["etcd_server_learner_promote_successes", "counter", "The total number of successful learner promotions while this member is leader."],
  ["etcd_server_snapshot_apply_in_progress_total", "gauge", "1 if the server is applying the incoming snapshot. 0 if none."],
  ["etcd_cluster_version", "gauge", "Which version is running. 1 for 'cluster_version' label with current cluster version"],
  ["etcd_disk_wal_fsync_duration_seconds", "histogram", "The latency distributions of fsync called by WAL."],
  ["etcd_disk_backend_commit_duration_seconds", "histogram", "The latency distributions of commit called by backend."],
  ["etcd_disk_backend_defrag_duration_seconds", "histogram", "The latency distribution of backend defragmentation."],
  ["etcd_disk_backend_snapshot_duration_seconds", "histogram", "The latency distribution of backend snapshots."],
  ["etcd_disk_wal_write_bytes_total", "gauge", "Total number of bytes written in WAL."],
  ["etcd_disk_defrag_inflight", "gauge", "Whether or not defrag is active on the member. 1 means active, 0 means not."],
  ["etcd_mvcc_db_total_size_in_bytes", "gauge", "Total size of the underlying database physically allocated in bytes."],
  ["etcd_mvcc_db_total_size_in_use_in_bytes", "gauge", "Total size of the underlying database logically in use in bytes."],
  ["etcd_mvcc_put_total", "counter", "Total number of puts seen by this member."],
  ["etcd_mvcc_delete_total", "counter", "Total number of deletes seen by this member."],
  ["etcd_mvcc_range_total", "counter", "Total number of ranges seen by this member."],
  ["etcd_mvcc_txn_total", "counter", "Total number of txns seen by this member."],
  ["etcd_debugging_mvcc_put_total", "counter", "Total number of puts seen by this member."],
  ["etcd_debugging_mvcc_keys_total", "gauge", "Total number of keys."],
  ["etcd_debugging_mvcc_current_revision", "gauge", "The current revision of store."],
  ["etcd_debugging_mvcc_compact_revision", "gauge", "The revision of the last compaction in store."],
  ["etcd_debugging_mvcc_db_total_size_in_bytes", "gauge", "Total size of the underlying database physically allocated in bytes."],
  ["etcd_debugging_auth_revision", "gauge", "The current revision of auth store."],
  ["etcd_network_client_grpc_received_bytes_total", "counter", "The total number of bytes received from grpc clients."],
  ["etcd_network_client_grpc_sent_bytes_total", "counter", "The total number of bytes sent to grpc clients."],
  ["grpc_server_started_total", "counter", "Total number of RPCs started on the server."],
  ["grpc_server_handled_total", "counter", "Total number of RPCs completed on the server, regardless of success or failure."],
  ["grpc_server_msg_received_total", "counter", "Total number of RPC stream messages received on the server."],
  ["grpc_server_msg_sent_total", "counter", "Total number of gRPC stream messages sent by the server."],
  ["process_resident_memory_bytes", "gauge", "Resident memory size in bytes."],
  ["process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."],
  ["process_open_fds", "gauge", "Number of open file descriptors."],
  ["process_max_fds", "gauge", "Maximum number of open file descriptors."],
  ["process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."],
  ["process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds."],
  ["os_fd_used", "gauge", "The number of used file descriptors."],
  ["os_fd_limit", "gauge", "The file descriptor limit."],
];

/** prometheus.ExponentialBuckets(start, 2, n) as Go prints the le labels. */
const DISK_LE = ["0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512", "1.024", "2.048", "4.096", "8.192", "+Inf"];
const DEFRAG_LE = ["0.1", "0.2", "0.4", "0.8", "1.6", "3.2", "6.4", "12.8", "25.6", "51.2", "102.4", "204.8", "409.6", "+Inf"];
const SNAPSHOT_LE = ["0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "10.24", "20.48", "40.96", "81.92", "163.84", "327.68", "655.36", "+Inf"];

/** The methods etcd 3.4 registers before go-grpc-prometheus initializes its series. */
const INITIALIZED = [
  ...["Range", "Put", "DeleteRange", "Txn", "Compact"].map((m) => `etcdserverpb.KV/${m}/unary`),
  "etcdserverpb.Watch/Watch/bidi_stream",
  ...["LeaseGrant", "LeaseRevoke", "LeaseTimeToLive", "LeaseLeases"].map((m) => `etcdserverpb.Lease/${m}/unary`),
  "etcdserverpb.Lease/LeaseKeepAlive/bidi_stream",
  ...["MemberAdd", "MemberRemove", "MemberUpdate", "MemberList", "MemberPromote"].map((m) => `etcdserverpb.Cluster/${m}/unary`),
  ...["Alarm", "Status", "Defragment", "Hash", "HashKV", "MoveLeader"].map((m) => `etcdserverpb.Maintenance/${m}/unary`),
  "etcdserverpb.Maintenance/Snapshot/server_stream",
  ...[
    "AuthEnable", "AuthDisable", "Authenticate", "UserAdd", "UserGet", "UserList", "UserDelete", "UserChangePassword", "UserGrantRole",
    "UserRevokeRole", "RoleAdd", "RoleGet", "RoleList", "RoleDelete", "RoleGrantPermission", "RoleRevokePermission",
  ].map((m) => `etcdserverpb.Auth/${m}/unary`),
  "grpc.health.v1.Health/Check/unary",
  "grpc.health.v1.Health/Watch/server_stream",
].sort();

const CODES = [
  "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
  "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
];

const kvCall = (method: string, code?: string) => ({
  grpc_service: "etcdserverpb.KV",
  grpc_method: method,
  grpc_type: "unary",
  ...(code === undefined ? {} : { grpc_code: code }),
});

function value(f: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const v = sampleValue(f, name, labels);
  if (v === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return v;
}

test("families, types and help texts as etcd 3.4 exports them; go-grpc-prometheus' pre-initialized series", async () => {
  const f = await scrape();
  for (const [name, type, help] of FAMILIES) {
    expect(`${name}: ${f.get(name)?.type} ${f.get(name)?.help}`).toBe(`${name}: ${type} ${help}`);
  }
  // The fsync latency is a histogram (a summary would break histogram_quantile dashboards).
  expect(f.get("etcd_disk_wal_fsync_duration_seconds")!.samples.some((s) => s.name.endsWith("_bucket"))).toBe(true);
  // Every method registered before InitializeMetrics has a series per code, at zero or more.
  const started = f.get("grpc_server_started_total")!.samples.map((s) => `${s.labels.grpc_service}/${s.labels.grpc_method}/${s.labels.grpc_type}`);
  expect(started.filter((k) => !k.startsWith("v3lockpb.") && !k.startsWith("v3electionpb.")).sort()).toEqual(INITIALIZED);
  const handled = f.get("grpc_server_handled_total")!.samples;
  for (const code of CODES) expect(handled.some((s) => s.labels.grpc_method === "Compact" && s.labels.grpc_code === code)).toBe(true);
  // Label-valued gauges.
  expect(value(f, "etcd_server_version", { server_version: "3.4.23" })).toBe(1);
  expect(value(f, "etcd_cluster_version", { cluster_version: "3.4" })).toBe(1);
  const id = f.get("etcd_server_id")!.samples;
  expect(id.length).toBe(1);
  expect(id[0]!.labels.server_id).toMatch(/^[0-9a-f]+$/);
  expect(value(f, "etcd_server_has_leader")).toBe(1);
  expect(value(f, "etcd_server_is_leader")).toBe(1);
  expect(value(f, "etcd_server_leader_changes_seen_total")).toBeGreaterThanOrEqual(1);
  expect(value(f, "etcd_server_quota_backend_bytes")).toBe(2 * 1024 * 1024 * 1024);
  expect(value(f, "process_open_fds")).toBeGreaterThan(0);
  expect(value(f, "process_max_fds")).toBeGreaterThan(value(f, "process_open_fds"));
  expect(value(f, "process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
  const start = value(f, "process_start_time_seconds");
  expect(start).toBeGreaterThan(Date.now() / 1000 - 3600);
  expect(start).toBeLessThanOrEqual(Date.now() / 1000 + 1);
});

test("counters move with the work done through etcdctl and the gateway; histograms are well formed", async () => {
  const { ctl, gw } = env();
  const before = await scrape();
  const PUTS = 5;
  for (let i = 0; i < PUTS; i++) expect(await ctl.ok("put", `metrics/k${i}`, `v${i}`)).toBe("OK\n");
  expect(await ctl.ok("get", "metrics/k0", "--print-value-only")).toBe("v0\n");
  expect(await ctl.ok("get", "metrics/", "--prefix", "--keys-only")).toContain("metrics/k4");
  const txn = await ctl.runWith({ stdin: 'value("metrics/k0") = "v0"\n\nput metrics/t 1\nget metrics/k1\n\nput metrics/f 2\n\n' }, "txn");
  expect(txn.stdout).toBe("SUCCESS\n\nOK\n\nmetrics/k1\nv1\n");
  expect(await ctl.ok("del", "metrics/k4")).toBe("1\n");
  // A compaction to a future revision fails with OutOfRange.
  const bad = await ctl.run("compact", "999999");
  expect(bad.code).not.toBe(0);
  // A gateway call is a KV Put to go-grpc-prometheus (etcd's gateway is a gRPC client of its port).
  await gw.ok("/v3/kv/put", { key: btoa("metrics/gw"), value: btoa("g") });
  expect((await fetch(`${env().member.clientURL}/health`)).status).toBe(200);

  // The backend commits on its own schedule after the writes: wait for one to be counted.
  const commits = (f: Map<string, PromFamily>) => value(f, "etcd_disk_backend_commit_duration_seconds_count");
  const base = commits(before);
  const after = await pollUntil(async () => {
    const f = await scrape();
    return commits(f) > base ? f : undefined;
  }, 10_000, "a backend commit counted after the writes");

  const grew = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
  // Puts: 5 by etcdctl, 1 in the txn, 1 by the gateway.
  expect(grew("etcd_mvcc_put_total")).toBeGreaterThanOrEqual(PUTS + 2);
  expect(grew("etcd_debugging_mvcc_put_total")).toBe(grew("etcd_mvcc_put_total"));
  expect(grew("etcd_mvcc_range_total")).toBeGreaterThanOrEqual(3);
  expect(grew("etcd_mvcc_delete_total")).toBeGreaterThanOrEqual(1);
  expect(grew("grpc_server_started_total", kvCall("Put"))).toBeGreaterThanOrEqual(PUTS + 1);
  expect(grew("grpc_server_handled_total", kvCall("Put", "OK"))).toBeGreaterThanOrEqual(PUTS + 1);
  expect(grew("grpc_server_msg_received_total", kvCall("Put"))).toBeGreaterThanOrEqual(PUTS + 1);
  expect(grew("grpc_server_msg_sent_total", kvCall("Put"))).toBeGreaterThanOrEqual(PUTS + 1);
  expect(grew("grpc_server_handled_total", kvCall("Range", "OK"))).toBeGreaterThanOrEqual(2);
  expect(grew("grpc_server_handled_total", kvCall("Txn", "OK"))).toBeGreaterThanOrEqual(1);
  expect(grew("grpc_server_handled_total", kvCall("DeleteRange", "OK"))).toBeGreaterThanOrEqual(1);
  expect(grew("grpc_server_handled_total", kvCall("Compact", "OutOfRange"))).toBe(1);
  expect(grew("grpc_server_handled_total", kvCall("Compact", "OK"))).toBe(0);
  expect(grew("etcd_network_client_grpc_received_bytes_total")).toBeGreaterThan(PUTS * "metrics/kN".length);
  expect(grew("etcd_network_client_grpc_sent_bytes_total")).toBeGreaterThan(0);
  expect(grew("etcd_server_health_success")).toBe(1);
  expect(grew("etcd_server_health_failures")).toBe(0);
  // etcdctl's clientv3 sends client-api-version 3.4; the gateway's calls carry none.
  const requests = after.get("etcd_server_client_requests_total")!;
  expect(`${requests.type} ${requests.help}`).toBe("counter The total number of client requests per client version.");
  const byVersion = (f: Map<string, PromFamily>, v: string) => sampleValue(f, "etcd_server_client_requests_total", { type: "unary", client_api_version: v }) ?? 0;
  expect(byVersion(after, "3.4") - byVersion(before, "3.4")).toBeGreaterThanOrEqual(PUTS + 5);
  expect(byVersion(after, "unknown") - byVersion(before, "unknown")).toBeGreaterThanOrEqual(1);
  expect(grew("etcd_disk_wal_fsync_duration_seconds_count")).toBeGreaterThan(0);
  expect(grew("etcd_disk_wal_fsync_duration_seconds_sum")).toBeGreaterThan(0);
  // Each put's entry holds at least its key and value.
  expect(grew("etcd_disk_wal_write_bytes_total")).toBeGreaterThan(PUTS * "metrics/kNvN".length);
  // k0..k4 less the deleted one, the txn's and the gateway's.
  expect(value(after, "etcd_debugging_mvcc_keys_total")).toBeGreaterThanOrEqual(PUTS - 1 + 2);

  // Every histogram: ascending le ending in +Inf, cumulative counts, _count = the +Inf bucket.
  for (const fam of after.values()) if (fam.type === "histogram") checkHistogram(fam);
  expect(checkHistogram(after.get("etcd_disk_wal_fsync_duration_seconds")!)).toEqual([DISK_LE]);
  expect(checkHistogram(after.get("etcd_disk_backend_commit_duration_seconds")!)).toEqual([DISK_LE]);
  expect(checkHistogram(after.get("etcd_disk_backend_defrag_duration_seconds")!)).toEqual([DEFRAG_LE]);
  expect(checkHistogram(after.get("etcd_disk_backend_snapshot_duration_seconds")!)).toEqual([SNAPSHOT_LE]);
});

test("a defragmentation is timed in etcd_disk_backend_defrag_duration_seconds", async () => {
  const before = await scrape();
  expect(await env().ctl.ok("defrag")).toMatch(/^Finished defragmenting etcd member/);
  const after = await scrape();
  const n = (f: Map<string, PromFamily>) => value(f, "etcd_disk_backend_defrag_duration_seconds_count");
  expect(n(after) - n(before)).toBe(1);
  expect(value(after, "etcd_disk_defrag_inflight")).toBe(0);
  expect(value(after, "grpc_server_handled_total", { grpc_method: "Defragment", grpc_code: "OK" })).toBeGreaterThanOrEqual(1);
});

test("the text a strict exposition-format reader accepts, on both targets", async () => {
  // scrape() parses strictly; here the checker itself is shown to refuse what it must.
  const text = await (await fetch(`${env().member.clientURL}/metrics`)).text();
  expect(parseExposition(text).size).toBeGreaterThan(FAMILIES.length);
  const lines = text.split("\n");
  const firstSample = lines.findIndex((l) => l !== "" && !l.startsWith("#"));
  expect(() => parseExposition(`${lines.slice(0, firstSample + 1).join("\n")}\n${lines[firstSample]}\n`)).toThrow(/duplicate series/);
  expect(() => parseExposition("undeclared_metric 1\n")).toThrow(/outside a declared family/);
  expect(isEtcd() || text.includes("etcd_debugging_server_apply_step_duration_seconds_bucket")).toBe(true);
});

test("hash and hashkv are timed; a watch stream and its watcher are counted while open, handled once closed", async () => {
  const { ctl } = env();
  const before = await scrape();
  expect(await ctl.ok("endpoint", "hashkv")).toContain(", ");
  let f = await scrape();
  const n = (m: Map<string, PromFamily>, name: string) => value(m, `${name}_count`);
  expect(n(f, "etcd_mvcc_hash_rev_duration_seconds") - n(before, "etcd_mvcc_hash_rev_duration_seconds")).toBe(1);
  expect(checkHistogram(f.get("etcd_mvcc_hash_rev_duration_seconds")!)[0]!.slice(0, 3)).toEqual(["0.01", "0.02", "0.04"]);

  const watchCalls = (m: Map<string, PromFamily>) =>
    m.get("grpc_server_handled_total")!.samples.filter((s) => s.labels.grpc_service === "etcdserverpb.Watch").reduce((a, s) => a + s.value, 0);
  const handledBefore = watchCalls(f);
  const startedBefore = value(f, "grpc_server_started_total", { grpc_service: "etcdserverpb.Watch", grpc_method: "Watch" });
  const w = ctl.spawn("watch", "metrics/watched");
  try {
    f = await pollUntil(async () => {
      const m = await scrape();
      return value(m, "etcd_debugging_mvcc_watcher_total") >= 1 ? m : undefined;
    }, 10_000, "the watcher counted");
    expect(value(f, "etcd_debugging_mvcc_watch_stream_total")).toBeGreaterThanOrEqual(1);
    expect(value(f, "grpc_server_started_total", { grpc_service: "etcdserverpb.Watch", grpc_method: "Watch", grpc_type: "bidi_stream" })).toBe(startedBefore + 1);
    // The create request was one message in.
    expect(value(f, "grpc_server_msg_received_total", { grpc_service: "etcdserverpb.Watch", grpc_method: "Watch" })).toBeGreaterThanOrEqual(1);
  } finally {
    await w.kill();
  }
  // The client is gone: the stream is handled as Canceled (what grpc-go reports for a client
  // that left) and no longer counted.
  f = await pollUntil(async () => {
    const m = await scrape();
    return watchCalls(m) === handledBefore + 1 && value(m, "etcd_debugging_mvcc_watcher_total") === 0 ? m : undefined;
  }, 10_000, "the watch stream handled and its watcher gone");
  expect(value(f, "etcd_debugging_mvcc_watch_stream_total")).toBe(0);
  const canceled = { grpc_service: "etcdserverpb.Watch", grpc_method: "Watch", grpc_code: "Canceled" };
  expect(value(f, "grpc_server_handled_total", canceled) - (sampleValue(before, "grpc_server_handled_total", canceled) ?? 0)).toBe(1);
});

test("leases: granted with their TTL, renewed by the leader, revoked, expired", async () => {
  const { ctl } = env();
  const before = await scrape();
  const id = /^lease ([0-9a-f]{16}) granted/.exec(await ctl.ok("lease", "grant", "60"))![1]!;
  expect(await ctl.ok("lease", "keep-alive", "--once", id)).toContain("keepalived with TTL(60)");
  expect(await ctl.ok("lease", "revoke", id)).toContain("revoked");
  // The shortest TTL etcd grants (2 s): the leader revokes it once it has expired.
  await ctl.ok("lease", "grant", "1");
  const grew = (f: Map<string, PromFamily>, name: string) => value(f, name) - value(before, name);
  const f = await pollUntil(async () => {
    const m = await scrape();
    return grew(m, "etcd_debugging_server_lease_expired_total") >= 1 ? m : undefined;
  }, 15_000, "the short lease expired and counted");
  expect(grew(f, "etcd_debugging_lease_granted_total")).toBe(2);
  expect(grew(f, "etcd_debugging_lease_renewed_total")).toBe(1);
  expect(grew(f, "etcd_debugging_lease_revoked_total")).toBe(2);
  expect(grew(f, "etcd_debugging_lease_ttl_total_count")).toBe(2);
  expect(grew(f, "etcd_debugging_lease_ttl_total_sum")).toBe(62);
  const ttl = f.get("etcd_debugging_lease_ttl_total")!;
  expect(`${ttl.type} ${ttl.help}`).toBe("histogram Bucketed histogram of lease TTLs.");
  const les = checkHistogram(ttl)[0]!;
  expect(les.length).toBe(25);
  expect(les.slice(-4)).toEqual(["2.097152e+06", "4.194304e+06", "8.388608e+06", "+Inf"]);
});
