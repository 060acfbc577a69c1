// The Maintenance service (etcdserverpb.Maintenance) of the member: alarms, status, defragment,
// hash and hashKV, snapshot, moving the leader, and the health check and /debug/vars beside
// them. Apart from server.ts, which keeps the KV path and the member's lifecycle; like
// lease-ops.ts and cluster-ops.ts it gets what it needs from the server as deps.
import { create } from "@bufbuild/protobuf";
import {
  type AlarmMember,
  AlarmRequest_AlarmAction,
  type AlarmRequest,
  type AlarmResponse,
  AlarmResponseSchema,
  AlarmType,
  type DefragmentResponse,
  DefragmentResponseSchema,
  type HashKVRequest,
  type HashKVResponse,
  HashKVResponseSchema,
  type HashResponse,
  HashResponseSchema,
  type MoveLeaderRequest,
  type MoveLeaderResponse,
  MoveLeaderResponseSchema,
  type ResponseHeader,
  type SnapshotResponse,
  type StatusResponse,
  StatusResponseSchema,
} from "../gen/rpc_pb.ts";
import { Errors } from "../rpctypes/index.ts";
import { renderDebugVars } from "./debug-vars.ts";
import type { RaftLoop } from "./raft-loop.ts";
import type { RequestInit } from "./request-codec.ts";
import type { ServerMetrics } from "./server-metrics.ts";
import type { StateMachine } from "./state-machine-types.ts";
import type { RequestContext } from "./types.ts";

/** The process as /debug/vars shows it (src/runtime reads it; src/member.ts passes it in). */
export interface ProcessInfo {
  /** The command line as started, secrets masked. */
  cmdline(): string[];
  /** RLIMIT_NOFILE (soft), when known. */
  fdLimit(): number | undefined;
}

export interface MaintenanceOpsDeps {
  memberId: bigint;
  loop: RaftLoop;
  /** The server version Status reports. */
  version: string;
  header(revision?: number): ResponseHeader;
  isLearner(): boolean;
  propose<T>(init: RequestInit, ctx?: RequestContext): Promise<T>;
  linearizableRead(): Promise<void>;
  /** The leader's lease checkpoint, run before leadership moves. */
  checkpointLeases(): Promise<void>;
  /** Transfers leadership to `target` (cluster-ops.ts). */
  moveLeader(target: bigint): Promise<void>;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(h: unknown): void;
  /** Defragment, hash and health figures (/metrics). */
  metrics: Pick<ServerMetrics, "defragInflight" | "backendDefrag" | "hashDuration" | "hashRevDuration" | "healthSuccess" | "healthFailures">;
  /** Without it /debug/vars shows an empty command line and no descriptor limit. */
  processInfo?: ProcessInfo;
}

export class MaintenanceOps {
  constructor(private readonly d: MaintenanceOpsDeps) {}

  private get sm(): StateMachine {
    return this.d.loop.sm;
  }

  async alarm(req: AlarmRequest, ctx: RequestContext): Promise<AlarmResponse> {
    if (req.action === AlarmRequest_AlarmAction.GET) {
      await this.d.linearizableRead();
      const alarms = this.sm
        .alarms()
        .filter((a: AlarmMember) => (req.memberID === 0n || a.memberID === req.memberID) && (req.alarm === AlarmType.NONE || a.alarm === req.alarm));
      return create(AlarmResponseSchema, { alarms }); // etcd 3.4 sends no header here
    }
    return this.d.propose<AlarmResponse>({ alarm: req }, ctx);
  }

  async status(_ctx: RequestContext): Promise<StatusResponse> {
    // etcd's maintenance server: "no leader" first, then each alarm's text.
    const errors = this.d.loop.leader() === 0n ? [Errors.noLeader.message] : [];
    for (const a of this.sm.alarms()) errors.push(`memberID:${a.memberID} alarm:${AlarmType[a.alarm]} `);
    return create(StatusResponseSchema, {
      header: this.d.header(),
      version: this.d.version,
      dbSize: BigInt(this.sm.dbSize()),
      dbSizeInUse: BigInt(this.sm.dbSizeInUse()),
      leader: this.d.loop.leader(),
      raftIndex: BigInt(this.d.loop.commitIndex()),
      raftTerm: BigInt(this.d.loop.appliedTerm()),
      raftAppliedIndex: BigInt(this.sm.appliedIndex),
      errors,
      isLearner: this.d.isLearner(),
    });
  }

  async defragment(_ctx: RequestContext): Promise<DefragmentResponse> {
    const t0 = performance.now();
    this.d.metrics.defragInflight.set(1);
    try {
      await this.sm.defragment();
    } finally {
      this.d.metrics.defragInflight.set(0);
    }
    this.d.metrics.backendDefrag.observe((performance.now() - t0) / 1000);
    return create(DefragmentResponseSchema, {});
  }

  // Hash and HashKV read this member's own store, as etcd's do: no quorum needed, so an
  // operator can compare members while the cluster has no leader.
  async hash(_ctx: RequestContext): Promise<HashResponse> {
    const t0 = performance.now();
    const hash = await this.sm.hash();
    this.d.metrics.hashDuration.observe((performance.now() - t0) / 1000);
    return create(HashResponseSchema, { header: this.d.header(), hash });
  }

  async hashKV(req: HashKVRequest, _ctx: RequestContext): Promise<HashKVResponse> {
    const t0 = performance.now();
    const r = await this.sm.hashKV(Number(req.revision));
    this.d.metrics.hashRevDuration.observe((performance.now() - t0) / 1000);
    return create(HashKVResponseSchema, { header: this.d.header(r.revision), hash: r.hash, compactRevision: BigInt(r.compactRevision) });
  }

  snapshot(_ctx: RequestContext): AsyncIterable<SnapshotResponse> {
    return this.sm.etcdSnapshot();
  }

  async moveLeader(req: MoveLeaderRequest, _ctx: RequestContext): Promise<MoveLeaderResponse> {
    if (this.d.loop.isLeader() && req.targetID !== this.d.memberId) {
      // Hand the lease deadlines over as they are before leadership moves.
      await this.d.checkpointLeases();
    }
    await this.d.moveLeader(req.targetID);
    return create(MoveLeaderResponseSchema, { header: this.d.header() });
  }

  /** `/health`, counted in etcd_server_health_success / health_failures as etcd counts it. */
  async health(exclude: string[]): Promise<{ health: boolean; reason?: string }> {
    const h = await this.checkHealth(exclude);
    if (h.health) this.d.metrics.healthSuccess.inc();
    else this.d.metrics.healthFailures.inc();
    return h;
  }

  /** The health check alone (the member's own readiness poll; not counted). */
  async checkHealth(exclude: string[]): Promise<{ health: boolean; reason?: string }> {
    const active = this.sm.alarms().filter((a) => !exclude.includes(AlarmType[a.alarm]));
    if (active.length > 0) return { health: false, reason: `ALARM ${AlarmType[active[0]!.alarm]}` };
    if (this.d.loop.leader() === 0n) return { health: false, reason: "RAFT NO LEADER" };
    let timer: unknown;
    const timeout = new Promise<"timeout">((r) => {
      timer = this.d.setTimer(() => r("timeout"), 1000);
    });
    const ok = await Promise.race([this.d.linearizableRead().then(() => "ok" as const), timeout]).catch(() => "error" as const);
    this.d.clearTimer(timer);
    return ok === "ok" ? { health: true } : { health: false, reason: "RAFT QGET FAILED" };
  }

  debugVars(): string {
    const p = this.d.processInfo;
    return renderDebugVars({ cmdline: p?.cmdline() ?? [], fdLimit: p?.fdLimit(), memory: process.memoryUsage(), raft: this.d.loop.node.status() });
  }
}
