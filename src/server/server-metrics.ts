// The member's Prometheus text at /metrics: etcd's names, help texts and types for the gauges
// and counters that operators, `etcdctl check datascale` and the strict reconfiguration check
// read. Pure: it renders what the member's parts report.
import type { PeerTransport } from "../transport/types.ts";
import type { RaftLoop } from "./raft-loop.ts";
import type { StateMachine } from "./state-machine.ts";

export interface MetricsSource {
  loop: RaftLoop;
  sm: StateMachine;
  memberId: bigint;
  isLearner: boolean;
  transport: Pick<PeerTransport, "connectedFor">;
  rss: number;
}

export function renderServerMetrics(s: MetricsSource): string {
  const { loop: l, sm } = s;
  const lines = [
    ["etcd_server_has_leader", "gauge", "Whether or not a leader exists. 1 is existence, 0 is not.", l.leader() === 0n ? 0 : 1],
    ["etcd_server_is_leader", "gauge", "Whether or not this member is a leader. 1 if is, 0 otherwise.", l.isLeader() ? 1 : 0],
    ["etcd_server_is_learner", "gauge", "Whether or not this member is a learner. 1 if is, 0 otherwise.", s.isLearner ? 1 : 0],
    ["etcd_server_proposals_committed_total", "gauge", "The total number of consensus proposals committed.", l.proposalsCommitted],
    ["etcd_server_proposals_applied_total", "gauge", "The total number of consensus proposals applied.", l.proposalsApplied],
    ["etcd_server_proposals_pending", "gauge", "The current number of pending proposals to commit.", l.pendingProposals],
    ["etcd_server_proposals_failed_total", "counter", "The total number of failed proposals seen.", l.proposalsFailed],
    ["etcd_network_snapshot_receive_success", "counter", "Total number of successful snapshot receives", l.snapshotsReceived],
    ["etcd_network_snapshot_send_success", "counter", "Total number of successful snapshot sends", l.snapshotsSent],
    ["etcd_network_snapshot_send_failures", "counter", "Total number of snapshot send failures", l.snapshotsSendFailed],
    ["etcd_mvcc_db_total_size_in_bytes", "gauge", "Total size of the underlying database physically allocated in bytes.", sm.dbSize()],
    ["etcd_mvcc_db_total_size_in_use_in_bytes", "gauge", "Total size of the underlying database logically in use in bytes.", sm.dbSizeInUse()],
    ["etcd_debugging_mvcc_current_revision", "gauge", "The current revision of store.", sm.revision],
    ["etcd_debugging_mvcc_compact_revision", "gauge", "The revision of the last compaction in store.", sm.compactRevision],
    ["etcd_debugging_auth_revision", "gauge", "The current revision of auth store.", sm.auth.revision],
  ] as const;
  let out = "";
  for (const [name, type, help, value] of lines) out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
  // Prometheus' process collector (Go's client exports it for etcd): `etcdctl check datascale`
  // reads the resident memory before and after its writes.
  out += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n";
  out += `process_resident_memory_bytes ${s.rss}\n`;
  // etcd's rafthttp gauge: 1 while the message stream to a peer is up. Operators (and the
  // strict reconfiguration check's 5 s of connection) read it per Remote.
  out += "# HELP etcd_network_active_peers The current number of active peer connections.\n# TYPE etcd_network_active_peers gauge\n";
  const local = s.memberId.toString(16);
  for (const m of l.members.list()) {
    if (m.id === s.memberId) continue;
    const up = s.transport.connectedFor(m.id) === undefined ? 0 : 1;
    out += `etcd_network_active_peers{Local="${local}",Remote="${m.id.toString(16)}"} ${up}\n`;
  }
  out += "# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.\n";
  out += "# TYPE etcd_disk_wal_fsync_duration_seconds summary\n";
  out += `etcd_disk_wal_fsync_duration_seconds_sum ${l.fsyncSeconds}\netcd_disk_wal_fsync_duration_seconds_count ${l.fsyncCount}\n`;
  out += sm.steps.render();
  return out;
}
