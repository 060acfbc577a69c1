// The member's Prometheus families at /metrics, as etcd 3.4 registers them (names, help texts,
// types, labels and bucket bounds from its etcdserver, wal, mvcc, backend, rafthttp and auth
// metrics.go files), so dashboards and alerts written for etcd read Conclave the same way.
// Counters are incremented where their events happen (the raft loop, the store, the transport);
// gauges that mirror state are read from the member's parts when /metrics is scraped.
import type { PeerTransport } from "../transport/types.ts";
import type { KvCounters } from "./kv-counters.ts";
import type { LeaseCounters } from "./lease-counters.ts";
import { exponentialBuckets, type Counter, type Family, type Gauge, type Histogram, Registry } from "./prometheus.ts";
import { readProcessStats } from "./process-stats.ts";
import type { RaftLoop } from "./raft-loop.ts";
import type { StateMachine } from "./state-machine-types.ts";
import type { StepDurations } from "./step-durations.ts";

/** What the scrape-time gauges read; `sm` and `loop` are read anew each time (a snapshot replaces the machine). */
export interface MetricsSource {
  loop(): RaftLoop;
  sm(): StateMachine;
  memberId: bigint;
  isLearner(): boolean;
  transport: Pick<PeerTransport, "connectedFor">;
  quotaBackendBytes(): number;
  walBytesWritten(): number;
  serverVersion: string;
}

/** etcd's disk histograms: 1 ms doubling to 8.192 s. */
const DISK_BUCKETS = exponentialBuckets(0.001, 2, 14);

export class ServerMetrics {
  readonly registry = new Registry();
  // etcdserver/metrics.go
  readonly leaderChanges: Counter;
  readonly heartbeatSendFailures: Counter;
  readonly slowApplies: Counter;
  readonly slowReadIndexes: Counter;
  readonly readIndexesFailed: Counter;
  readonly learnerPromoteSuccesses: Counter;
  readonly learnerPromoteFailures: Family<Counter>;
  readonly snapshotApplyInProgress: Gauge;
  // etcdhttp/metrics.go
  readonly healthSuccess: Counter;
  readonly healthFailures: Counter;
  // wal/metrics.go, mvcc/backend/metrics.go
  readonly walFsync: Histogram;
  readonly backendCommit: Histogram;
  readonly backendDefrag: Histogram;
  readonly backendSnapshot: Histogram;
  readonly defragInflight: Gauge;
  // mvcc/metrics.go
  readonly hashDuration: Histogram;
  readonly hashRevDuration: Histogram;
  // rafthttp/metrics.go
  readonly peerSentBytes: Family<Counter>;
  readonly peerReceivedBytes: Family<Counter>;
  readonly peerRoundTrip: Family<Histogram>;
  private readonly peerSentFailures: Family<Counter>;
  private readonly peerReceivedFailures: Family<Counter>;
  private readonly snapshotReceives: Family<Counter>;
  private readonly snapshotSends: Family<Counter>;
  private readonly snapshotSendFailures: Family<Counter>;
  private readonly sentTo = new Map<bigint, Counter>();
  private readonly receivedFrom = new Map<bigint, Counter>();
  private readonly rttTo = new Map<bigint, Histogram>();
  /** When the last heartbeat went to each follower (performance.now ms), while leader. */
  private readonly lastHeartbeat = new Map<bigint, number>();

  // lease/metrics.go, etcdserver/metrics.go
  readonly leaseRenewed: Counter;
  readonly leaseExpired: Counter;

  constructor(steps: StepDurations, kv: KvCounters, leases: LeaseCounters) {
    const r = this.registry;
    this.leaderChanges = r.counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen.");
    this.heartbeatSendFailures = r.counter(
      "etcd_server_heartbeat_send_failures_total",
      "The total number of leader heartbeat send failures (likely overloaded from slow disk).",
    );
    this.slowApplies = r.counter("etcd_server_slow_apply_total", "The total number of slow apply requests (likely overloaded from slow disk).");
    this.slowReadIndexes = r.counter(
      "etcd_server_slow_read_indexes_total",
      "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
    );
    this.readIndexesFailed = r.counter("etcd_server_read_indexes_failed_total", "The total number of failed read indexes seen.");
    this.learnerPromoteSuccesses = r.counter(
      "etcd_server_learner_promote_successes",
      "The total number of successful learner promotions while this member is leader.",
    );
    this.learnerPromoteFailures = r.counterVec(
      "etcd_server_learner_promote_failures",
      "The total number of failed learner promotions (likely learner not ready) while this member is leader.",
      ["Reason"],
    );
    this.snapshotApplyInProgress = r.gauge("etcd_server_snapshot_apply_in_progress_total", "1 if the server is applying the incoming snapshot. 0 if none.");
    this.healthSuccess = r.counter("etcd_server_health_success", "The total number of successful health checks");
    this.healthFailures = r.counter("etcd_server_health_failures", "The total number of failed health checks");

    this.walFsync = r.histogram("etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.", DISK_BUCKETS);
    this.backendCommit = r.histogram("etcd_disk_backend_commit_duration_seconds", "The latency distributions of commit called by backend.", DISK_BUCKETS);
    // Bounds as etcd sets them: defrag 0.1 s doubling to 409.6 s, snapshots 0.01 s to 655.36 s,
    // hashes 0.01 s to 163.84 s.
    const b = exponentialBuckets;
    this.backendDefrag = r.histogram("etcd_disk_backend_defrag_duration_seconds", "The latency distribution of backend defragmentation.", b(0.1, 2, 13));
    this.backendSnapshot = r.histogram("etcd_disk_backend_snapshot_duration_seconds", "The latency distribution of backend snapshots.", b(0.01, 2, 17));
    this.hashDuration = r.histogram("etcd_mvcc_hash_duration_seconds", "The latency distribution of storage hash operation.", b(0.01, 2, 15));
    this.hashRevDuration = r.histogram("etcd_mvcc_hash_rev_duration_seconds", "The latency distribution of storage hash by revision operation.", b(0.01, 2, 15));
    this.defragInflight = r.gauge("etcd_disk_defrag_inflight", "Whether or not defrag is active on the member. 1 means active, 0 means not.");

    this.peerSentBytes = r.counterVec("etcd_network_peer_sent_bytes_total", "The total number of bytes sent to peers.", ["To"]);
    this.peerReceivedBytes = r.counterVec("etcd_network_peer_received_bytes_total", "The total number of bytes received from peers.", ["From"]);
    this.snapshotReceives = r.counterVec("etcd_network_snapshot_receive_success", "Total number of successful snapshot receives", ["From"]);
    this.snapshotSends = r.counterVec("etcd_network_snapshot_send_success", "Total number of successful snapshot sends", ["To"]);
    this.snapshotSendFailures = r.counterVec("etcd_network_snapshot_send_failures", "Total number of snapshot send failures", ["To"]);
    this.peerSentFailures = r.counterVec("etcd_network_peer_sent_failures_total", "The total number of send failures from peers.", ["To"]);
    this.peerReceivedFailures = r.counterVec("etcd_network_peer_received_failures_total", "The total number of receive failures from peers.", ["From"]);
    this.peerRoundTrip = r.histogramVec(
      "etcd_network_peer_round_trip_time_seconds",
      "Round-Trip-Time histogram between peers",
      ["To"],
      exponentialBuckets(0.0001, 2, 16),
    );

    // The state file's group commit is the backend's commit; a snapshot copy its snapshot.
    r.register(steps.family);
    steps.onStep = (kind, sec) => {
      if (kind === "commit") this.backendCommit.observe(sec);
      // etcd counts each request applied in 100 ms or more; an apply step is a batch of them.
      else if (kind === "apply" && sec >= 0.1) this.slowApplies.inc();
      else if (kind === "snapshot") this.backendSnapshot.observe(sec);
    };

    r.counterFunc("etcd_debugging_lease_granted_total", "The total number of granted leases.", () => leases.granted.value);
    r.counterFunc("etcd_debugging_lease_revoked_total", "The total number of revoked leases.", () => leases.revoked.value);
    r.register(leases.ttls);
    this.leaseRenewed = r.counter("etcd_debugging_lease_renewed_total", "The number of renewed leases seen by the leader.");
    this.leaseExpired = r.counter("etcd_debugging_server_lease_expired_total", "The total number of expired leases.");

    // mvcc/metrics.go: the 3.4 names and their etcd_debugging_ twins (removed in 3.5).
    for (const ns of ["etcd", "etcd_debugging"]) {
      r.counterFunc(`${ns}_mvcc_range_total`, "Total number of ranges seen by this member.", () => kv.range.value);
      r.counterFunc(`${ns}_mvcc_put_total`, "Total number of puts seen by this member.", () => kv.put.value);
      r.counterFunc(`${ns}_mvcc_delete_total`, "Total number of deletes seen by this member.", () => kv.delete.value);
      r.counterFunc(`${ns}_mvcc_txn_total`, "Total number of txns seen by this member.", () => kv.txn.value);
    }
  }

  peerSendFailures(to: bigint, n: number): void {
    this.peerSentFailures.with(to.toString(16)).inc(n);
  }

  /** Labelled by the remote address, as etcd's handlers label a body that does not decode. */
  peerReceiveFailure(remoteAddr: string): void {
    this.peerReceivedFailures.with(remoteAddr).inc();
  }

  /** A snapshot from `from` was received and installed. */
  snapshotReceived(from: bigint): void {
    this.snapshotReceives.with(from.toString(16)).inc();
  }

  /** A snapshot sent to `to` arrived (ok) or did not. */
  snapshotSent(to: bigint, ok: boolean): void {
    (ok ? this.snapshotSends : this.snapshotSendFailures).with(to.toString(16)).inc();
  }

  peerBytesSent(to: bigint, n: number): void {
    let c = this.sentTo.get(to);
    if (c === undefined) this.sentTo.set(to, (c = this.peerSentBytes.with(to.toString(16))));
    c.value += n;
  }

  peerBytesReceived(from: bigint, n: number): void {
    let c = this.receivedFrom.get(from);
    if (c === undefined) this.receivedFrom.set(from, (c = this.peerReceivedBytes.with(from.toString(16))));
    c.value += n;
  }

  /**
   * A heartbeat round trip to a follower. etcd times probes of every peer's HTTP endpoint; here
   * the leader times its raft heartbeats, so only the leader's series move.
   */
  peerRoundTripMs(to: bigint, ms: number): void {
    let h = this.rttTo.get(to);
    if (h === undefined) this.rttTo.set(to, (h = this.peerRoundTrip.with(to.toString(16))));
    h.observe(ms / 1000);
  }

  /**
   * A heartbeat went to `to`: one sent more than two heartbeat intervals after the previous is a
   * send failure (etcd's timeout detector in raft.go: a leader held up, likely by a slow disk).
   */
  heartbeatSent(to: bigint, nowMs: number, heartbeatMs: number): void {
    const last = this.lastHeartbeat.get(to);
    if (last !== undefined && nowMs - last > 2 * heartbeatMs) this.heartbeatSendFailures.inc();
    this.lastHeartbeat.set(to, nowMs);
  }

  /** Leadership changed: heartbeat gaps start over (etcd resets its detector). */
  leadershipChanged(): void {
    this.lastHeartbeat.clear();
  }

  /** The gauges read from the member's state at scrape time. */
  bind(s: MetricsSource): void {
    const r = this.registry;
    r.gaugeFunc("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", () => (s.loop().leader() === 0n ? 0 : 1));
    r.gaugeFunc("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", () => (s.loop().isLeader() ? 1 : 0));
    r.gaugeFunc("etcd_server_is_learner", "Whether or not this member is a learner. 1 if is, 0 otherwise.", () => (s.isLearner() ? 1 : 0));
    r.gaugeFunc("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.", () => s.loop().proposalsCommitted);
    r.gaugeFunc("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.", () => s.loop().proposalsApplied);
    r.gaugeFunc("etcd_server_proposals_pending", "The current number of pending proposals to commit.", () => s.loop().pendingProposals);
    r.counterFunc("etcd_server_proposals_failed_total", "The total number of failed proposals seen.", () => s.loop().proposalsFailed);
    r.gaugeFunc("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.", () => s.quotaBackendBytes());
    r.gaugeVec("etcd_server_version", "Which version is running. 1 for 'server_version' label with current version.", ["server_version"])
      .with(s.serverVersion)
      .set(1);
    r.gaugeVec("etcd_server_id", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.", ["server_id"])
      .with(s.memberId.toString(16))
      .set(1);
    // Every member runs this version, so the cluster's is its major.minor (etcd's decideClusterVersion).
    r.gaugeVec("etcd_cluster_version", "Which version is running. 1 for 'cluster_version' label with current cluster version", ["cluster_version"])
      .with(s.serverVersion.split(".").slice(0, 2).join("."))
      .set(1);

    // etcd's wal/metrics.go declares this "total" as a gauge.
    r.gaugeFunc("etcd_disk_wal_write_bytes_total", "Total number of bytes written in WAL.", () => s.walBytesWritten());
    r.gaugeFunc("etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.", () => s.sm().dbSize());
    r.gaugeFunc("etcd_debugging_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.", () => s.sm().dbSize());
    r.gaugeFunc("etcd_mvcc_db_total_size_in_use_in_bytes", "Total size of the underlying database logically in use in bytes.", () => s.sm().dbSizeInUse());
    r.gaugeFunc("etcd_debugging_mvcc_keys_total", "Total number of keys.", () => s.sm().keyCount());
    r.gaugeFunc("etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams.", () => s.sm().watchCounts().streams);
    r.gaugeFunc("etcd_debugging_mvcc_watcher_total", "Total number of watchers.", () => s.sm().watchCounts().watchers);
    r.gaugeFunc("etcd_debugging_mvcc_current_revision", "The current revision of store.", () => s.sm().revision);
    r.gaugeFunc("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction in store.", () => s.sm().compactRevision);
    r.gaugeFunc("etcd_debugging_auth_revision", "The current revision of auth store.", () => s.sm().auth.revision);

    // etcd's rafthttp gauge: 1 while the message stream to a peer is up. Operators (and the
    // strict reconfiguration check's 5 s of connection) read it per Remote.
    const active = r.gaugeVec("etcd_network_active_peers", "The current number of active peer connections.", ["Local", "Remote"]);
    const local = s.memberId.toString(16);
    r.onCollect(() => {
      active.reset();
      for (const m of s.loop().members.list()) {
        if (m.id === s.memberId) continue;
        active.with(local, m.id.toString(16)).set(s.transport.connectedFor(m.id) === undefined ? 0 : 1);
      }
    });

    // Prometheus' process collector (Go's client exports it for etcd; `etcdctl check datascale`
    // reads the resident memory), and etcd's own fd gauges.
    let proc = readProcessStats();
    r.onCollect(() => (proc = readProcessStats()));
    r.counterFunc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", () => proc.cpuSeconds);
    r.gaugeFunc("process_max_fds", "Maximum number of open file descriptors.", () => proc.maxFds);
    r.gaugeFunc("process_open_fds", "Number of open file descriptors.", () => proc.openFds);
    r.gaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", () => proc.residentBytes);
    r.gaugeFunc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", () => proc.startTimeSeconds);
    r.gaugeFunc("process_virtual_memory_bytes", "Virtual memory size in bytes.", () => proc.virtualBytes);
    r.gaugeFunc("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", () => proc.virtualMaxBytes);
    r.gaugeFunc("os_fd_used", "The number of used file descriptors.", () => proc.openFds);
    r.gaugeFunc("os_fd_limit", "The file descriptor limit.", () => proc.maxFds);
  }

  render(): string {
    return this.registry.render();
  }
}
