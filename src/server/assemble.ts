// Builds one member's server from its parts: durable raft log, state machine, membership,
// RawNode and the peer transport. Effects (clock, timers, randomness, transport) are injected so
// tests assemble whole clusters in one process; src/member.ts passes the real ones.
import { join } from "node:path";
import { MemberTable } from "../membership/members.ts";
import { RawNode } from "../raft/raw-node.ts";
import { openRaftLog } from "../storage/raft-log.ts";
import type { Storage } from "../raft/storage.ts";
import type { ClusterLog } from "./raft-loop.ts";
import type { PeerMember, PeerTransport } from "../transport/types.ts";
import type { BootstrapPlan } from "./bootstrap.ts";
import type { Logger } from "./logger.ts";
import { SERVER_VERSION, Server, type ServerOptions } from "./server.ts";
import { StepDurations } from "./step-durations.ts";
import type { OpenCheckpointer } from "../storage/checkpointer.ts";
import { openStateMachine } from "./state-machine.ts";
import type { StateMachine, StateMachineOptions } from "./state-machine-types.ts";
import { installStateFile } from "./state-image.ts";
import { type FileEffects, hostFiles, hostTimers, type Timers } from "./effects.ts";
import { V2Service } from "./v2-service.ts";
import { WatcherHub } from "../v2store/index.ts";

export interface MemberParts {
  dataDir: string;
  /** "" or undefined keeps the WAL inside the data dir. */
  walDir?: string;
  name: string;
  clientURLs: string[];
  plan: BootstrapPlan;
  transport: PeerTransport;
  clusterToken: string;
  logger: Logger;
  clock: () => number;
  rng: () => number;
  setInterval: (fn: () => void, ms: number) => unknown;
  clearInterval: (h: unknown) => void;
  autoTick?: boolean;
  heartbeatMs: number;
  electionMs: number;
  initialElectionTickAdvance: boolean;
  preVote: boolean;
  snapshotCount: number;
  catchUpEntries?: number;
  strictReconfigCheck: boolean;
  maxRequestBytes: number;
  maxTxnOps: number;
  quotaBackendBytes: number;
  progressNotifyIntervalMs: number;
  compactionBatchLimit?: number;
  unsafeNoFsync?: boolean;
  autoCompaction?: { mode: "periodic" | "revision"; retention: number };
  onRemoved?: () => void;
  /** A disk fault the member cannot wait out (ServerOptions.onFatal). */
  onFatal?: (err: Error) => void;
  /** The data dir's watch (ServerOptions.disk). */
  disk?: ServerOptions["disk"];
  /** Timers besides the intervals above (one-shot waits, the state file's group commit). */
  timers?: Timers;
  /** Snapshot image files. */
  files?: FileEffects;
  /**
   * Monotonic milliseconds for lease deadlines and request deadlines, which a step of the wall
   * clock must not move (etcd uses Go's monotonic clock for both). Default: `clock`.
   */
  monotonic?: () => number;
  /** The durable raft log (default: the WAL in the data dir; the simulator passes its own). */
  openLog?: () => Promise<MemberLog>;
  /** v3 auth: token provider, bcrypt, cost (ServerOptions.auth). */
  auth?: ServerOptions["auth"];
  /** A full garbage collection (see StateMachineOptions.collectGarbage). */
  collectGarbage?: () => void;
  /** See StateMachineOptions.openCheckpointer. */
  openCheckpointer?: OpenCheckpointer;
  /** The process as /debug/vars shows it (ServerOptions.processInfo). */
  processInfo?: ServerOptions["processInfo"];
}

/** The durable raft log as the member uses it (src/storage/raft-log.ts, or the simulator's). */
export type MemberLog = Storage & ClusterLog & { lastIndex(): number; close(): Promise<void> };

export interface AssembledMember {
  server: Server;
  /** The v2 store's side of the member (always running: it expires TTL nodes as leader). */
  v2: V2Service;
  log: MemberLog;
  /** Stops the loop and closes the state machine and the log (not the transport). */
  close(): Promise<void>;
}

/**
 * The state file has applied entries that the log no longer holds (its tail was cut: a torn
 * write, or a disk that lost what it had acknowledged). New entries must not take those
 * indexes again — the state machine would skip them as already applied — so the log restarts
 * at the state's index, as if a snapshot had been taken there. The snapshot's term is the last
 * term the log still knows: never above the lost entry's real term, so this member's log never
 * looks more up to date than it is in an election, and a leader whose entry at that index has
 * a higher term finds no match and sends a snapshot.
 */
async function rebaseLostTail(log: MemberLog, applied: number, members: MemberTable, logger: Logger): Promise<void> {
  const last = log.lastIndex();
  if (applied <= last) return;
  const all = members.list();
  logger.warn(
    `raft log ends at index ${last} but the state has applied up to ${applied}: the log lost its tail; continuing from index ${applied}`,
  );
  log.applySnapshot({
    index: applied,
    term: log.term(last),
    confState: { voters: all.filter((m) => !m.isLearner).map((m) => m.id), learners: all.filter((m) => m.isLearner).map((m) => m.id) },
  });
  await log.sync();
}

export async function assembleMember(p: MemberParts): Promise<AssembledMember> {
  const memberDir = join(p.dataDir, "member");
  const { memberId, clusterId } = p.plan.identity;
  const log: MemberLog = p.openLog
    ? await p.openLog()
    : await openRaftLog(join(p.walDir || memberDir, "wal"), {
        unsafeNoFsync: p.unsafeNoFsync,
        warn: (msg: string) => p.logger.warn(msg),
      });
  const timers = p.timers ?? hostTimers;
  const files = p.files ?? hostFiles;
  let server: Server | undefined;
  let v2: V2Service | undefined;
  // One hub for the v2 watchers of every state machine this member opens (snapshot installs).
  const v2Hub = new WatcherHub();
  const smPath = join(memberDir, "state.db");
  const smOpts: StateMachineOptions = {
    path: smPath,
    clock: p.monotonic ?? p.clock,
    wallClock: p.clock,
    timers,
    files,
    header: (revision: number) => server!.header(revision),
    memberId,
    // etcd: minTTL = ceil(3 * electionTicks / 2 * heartbeat), 2 s at the defaults.
    minLeaseTtl: Math.ceil((3 * p.electionMs) / 2 / 1000),
    quotaBackendBytes: p.quotaBackendBytes,
    maxRequestBytes: p.maxRequestBytes,
    progressNotifyIntervalMs: p.progressNotifyIntervalMs,
    compactionBatchLimit: p.compactionBatchLimit,
    unsafeNoFsync: p.unsafeNoFsync,
    onMemberAttrs: (m, out) => server!.loop.members.applyAttributes(m.ID, m.name, m.clientURLs, out),
    // Token bookkeeping follows the applied auth changes on every member.
    authEvents: {
      userInvalidated: (name) => server?.auth.userInvalidated(name),
      enabledChanged: (on) => server?.auth.enabledChanged(on),
      tokenIssued: (token, user) => server?.auth.tokenIssued(token, user),
    },
    collectGarbage: p.collectGarbage,
    // One histogram for every state machine this member opens (snapshot installs).
    steps: new StepDurations(),
    // A checkpointer that fails to start leaves SQLite's own checkpoint in place: say so.
    openCheckpointer:
      p.openCheckpointer === undefined
        ? undefined
        : (path: string) =>
            p.openCheckpointer!(path).catch((e: unknown) => {
              p.logger.warn("state file checkpointer did not start; checkpoints stay in commits", { error: String(e) });
              throw e;
            }),
    v2Hub,
    onEmptyEntry: () => v2?.leaderEntryApplied(),
  };
  let sm: StateMachine = await openStateMachine(smOpts);
  const members = MemberTable.fromRows(await sm.members());
  await rebaseLostTail(log, sm.appliedIndex, members, p.logger);
  const electionTick = Math.max(2, Math.round(p.electionMs / p.heartbeatMs));
  const node = new RawNode({
    id: memberId,
    electionTick,
    heartbeatTick: 1,
    storage: log,
    // Entries after the snapshot are re-emitted on restart: conf changes must reach the core
    // again; the state machine skips normal entries it already applied.
    applied: log.snapshotMeta().index,
    checkQuorum: true,
    preVote: p.preVote,
    rng: p.rng,
    logger: {
      debug: (m) => p.logger.debug(m),
      info: (m) => p.logger.info(m),
      warn: (m) => p.logger.warn(m),
    },
  });
  if (p.plan.kind === "new") {
    if (log.lastIndex() !== 0) throw new Error("data dir holds a raft log but no member identity; refusing to bootstrap over it");
    node.bootstrap(p.plan.peers);
  }
  if (p.plan.kind === "join") {
    // Until the log arrives from the leader the member knows its peers only from the probe.
    for (const m of p.plan.members as PeerMember[]) if (m.id !== memberId) p.transport.addPeer(m.id, m.peerURLs);
  }
  server = new Server({
    clusterId,
    memberId,
    name: p.name,
    clientURLs: p.clientURLs,
    node,
    log,
    sm,
    reopenSm: async (imagePath) => {
      const authRevision = sm.auth.revision;
      await sm.close();
      await installStateFile(smPath, imagePath, files);
      sm = await openStateMachine(smOpts);
      // The image carries the auth tables; tokens live outside them (member-auth.ts).
      if (sm.auth.revision !== authRevision) server?.auth.authReplaced();
      return sm;
    },
    reloadSm: async () => {
      // The machine is broken (a failed write): close() commits nothing more.
      await sm.close();
      sm = await openStateMachine(smOpts);
      return sm;
    },
    members,
    transport: p.transport,
    logger: p.logger,
    clock: p.clock,
    monotonic: p.monotonic,
    rng: p.rng,
    maxRequestBytes: p.maxRequestBytes,
    maxTxnOps: p.maxTxnOps,
    version: SERVER_VERSION,
    heartbeatMs: p.heartbeatMs,
    electionMs: p.electionMs,
    initialElectionTickAdvance: p.initialElectionTickAdvance,
    snapshotCount: p.snapshotCount,
    catchUpEntries: p.catchUpEntries,
    clusterToken: p.clusterToken,
    strictReconfigCheck: p.strictReconfigCheck,
    setInterval: p.setInterval,
    clearInterval: p.clearInterval,
    setTimeout: (fn, ms) => timers.setTimeout(fn, ms),
    clearTimeout: (h) => timers.clearTimeout(h),
    setImmediate: (fn) => timers.setImmediate(fn),
    disk: p.disk,
    onFatal: p.onFatal,
    autoTick: p.autoTick,
    autoCompaction: p.autoCompaction,
    removeFile: (path) => files.remove(path),
    onRemoved: p.onRemoved,
    auth: p.auth,
    processInfo: p.processInfo,
  });
  const s = server;
  v2 = new V2Service({
    server: s,
    clock: p.clock,
    setInterval: p.setInterval,
    clearInterval: p.clearInterval,
    logger: p.logger,
    hub: v2Hub,
  });
  const v2s = v2;
  return {
    server: s,
    v2: v2s,
    log,
    async close() {
      v2s.stop();
      await s.stop();
      await sm.close();
      await log.close();
    },
  };
}
