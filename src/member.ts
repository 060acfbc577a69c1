// Wires one member from its configuration: identity and bootstrap, peer transport, durable
// log, state machine, Raft loop and the client port. Real effects (clock, timers, disk,
// sockets) are created here.
import type { OpenCheckpointer } from "./storage/checkpointer.ts";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { MoveLeaderRequestSchema } from "./gen/rpc_pb.ts";
import { join } from "node:path";
import {
  connectionCap,
  DEFAULT_VERSION,
  dashboardRoute,
  type DialMaterial,
  keepaliveFromFlags,
  memberFetch,
  Pipeline,
  startClientServer,
  v2Route,
} from "./api/index.ts";
import {
  bootstrapSource,
  DiscoveryError,
  discoveryFailure,
  type ResolvedBootstrap,
  resolveInitialCluster,
  systemResolver,
  verifyInitialCluster,
} from "./bootstrap/index.ts";
import { type ServerConfig, urlString } from "./config/index.ts";
import { computeClusterId, computeMemberId, hexId } from "./membership/ids.ts";
import { setupMemberTls } from "./member-tls.ts";
import { JwtTokens, SimpleTokens } from "./auth/index.ts";
import { runtimeHasher } from "./runtime/bcrypt.ts";
import { assembleMember } from "./server/assemble.ts";
import type { Tokens } from "./server/member-auth.ts";
import { type Identity, planBootstrap } from "./server/bootstrap.ts";
import { createLogger, type Logger } from "./server/logger.ts";
import { openFilesLimit } from "./runtime/fd-limit.ts";
import { processCmdline } from "./runtime/cmdline.ts";
import { lockDir } from "./storage/dir-lock.ts";
import { DiskGuard, diskFault, faultMessage } from "./server/disk-guard.ts";
import { hostDiskProbe } from "./runtime/effects.ts";
import type { Server } from "./server/server.ts";
import { createPeerTransport, peerLimitsFor, type PeerHandler, type PeerTransport, type PeerTransportOptions } from "./transport/index.ts";

export interface RunningMember {
  logger: Logger;
  server: Server;
  /** Resolves when the member was removed from the cluster and stopped itself. */
  removed: Promise<void>;
  /** Resolves once the member stopped itself on an error it cannot go on after (a disk fault). */
  failed: Promise<Error>;
  /**
   * Resolves once the member serves: its client port is open, it has a leader and a read
   * through raft commits (what etcd's ReadyNotify waits for: the member is published).
   */
  ready: Promise<void>;
  /**
   * Stops as etcd does on SIGTERM: clients are told GOAWAY and given a moment to finish, a
   * leader hands leadership to the peer connected longest, then everything closes.
   */
  stop(): Promise<void>;
}

/** How long in-flight client requests get to finish when the member stops. */
const CLIENT_GRACE_MS = 1000;
/** How often readiness is probed until the member serves. */
const READY_POLL_MS = 50;

interface IdentityJson {
  name: string;
  memberId: string;
  clusterId: string;
}

function readIdentity(file: string): Identity | undefined {
  if (!existsSync(file)) return undefined;
  let id: IdentityJson;
  try {
    id = JSON.parse(readFileSync(file, "utf8")) as IdentityJson;
  } catch (err) {
    throw new Error(`cannot read member identity ${file}: ${(err as Error).message}`);
  }
  return { name: id.name, memberId: BigInt(`0x${id.memberId}`), clusterId: BigInt(`0x${id.clusterId}`) };
}

function writeIdentity(file: string, id: Identity): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ name: id.name, memberId: hexId(id.memberId), clusterId: hexId(id.clusterId) }));
  renameSync(tmp, file);
}

/** The --auth-token provider; JWT key files are read here (a bad one stops the start). */
function makeTokens(config: ServerConfig, logger: Logger): Tokens {
  const spec = config.authTokenSpec;
  if (spec.type === "none") return { kind: "none" };
  if (spec.type === "simple") {
    logger.warn("simple token is not cryptographically signed");
    const timers = { setInterval: (fn: () => void, ms: number) => setInterval(fn, ms), clearInterval: (h: unknown) => clearInterval(h as ReturnType<typeof setInterval>) };
    return { kind: "simple", simple: new SimpleTokens(config.authTokenTtl * 1000, () => Date.now(), timers) };
  }
  const read = (path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`auth: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const jwt = JwtTokens.create(
    { signMethod: spec.signMethod, publicKey: read(spec.pubKey), privateKey: read(spec.privKey), ttlMs: spec.ttlMs },
    () => Date.now(),
  );
  return { kind: "jwt", jwt };
}

/**
 * The InitialCluster of a member without data, from whichever source the flags name, checked
 * the same way for all. A failed discovery join logs etcd's advice and throws its exit error.
 */
async function bootstrapInitialCluster(config: ServerConfig, logger: Logger): Promise<ResolvedBootstrap> {
  try {
    const ic = await resolveInitialCluster(config, {
      resolver: systemResolver,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      logger,
      readFile: (p) => readFileSync(p),
      memberId: computeMemberId,
    });
    await verifyInitialCluster(ic, config, systemResolver);
    return ic;
  } catch (e) {
    if (e instanceof DiscoveryError) throw discoveryFailure(e, config, logger);
    throw e;
  }
}

/**
 * The TLS material the dashboard's member calls dial other members' client ports with: the
 * client side's CA (it signed their server certificates) and, as the client certificate, the
 * peer certificate when there is one (peer certificates carry client auth; server certificates
 * often do not, and --client-cert-auth refuses them), else the server certificate.
 */
function dashboardDial(t: Awaited<ReturnType<typeof setupMemberTls>>): (() => DialMaterial) | undefined {
  const client = t.client;
  if (client === undefined) return undefined;
  const peer = t.peer;
  return () => {
    const c = client.dial();
    if (peer === undefined) return c;
    const p = peer.dial();
    return { ...c, cert: p.cert, key: p.key };
  };
}

/** Effects of the runtime the member may use (src/runtime builds them). */
export interface MemberEffects {
  /** A full garbage collection: streaming a snapshot asks for one every few MiB sent. */
  collectGarbage?: () => void;
  /** The state file's WAL checkpointer on a thread of its own (storage/checkpointer.ts). */
  openCheckpointer?: OpenCheckpointer;
}

export async function startMember(config: ServerConfig, effects: MemberEffects = {}): Promise<RunningMember> {
  const logger = createLogger({
    level: config.logLevel,
    format: config.logger === "zap" ? "zap" : "capnslog",
    now: () => new Date(),
    write: (line) => process.stderr.write(line),
  });
  const memberDir = join(config.dataDir, "member");
  mkdirSync(memberDir, { recursive: true });
  // Before anything in the data dir is read or written: one process per data dir (and WAL dir).
  const locks = [lockDir(memberDir, config.dataDir)];
  try {
    if (config.walDir) {
      mkdirSync(config.walDir, { recursive: true, mode: 0o700 });
      locks.push(lockDir(config.walDir));
    }
    const running = await startLocked(config, logger, memberDir, effects);
    const stop = running.stop;
    return {
      ...running,
      stop: () =>
        stop().finally(() => {
          for (const l of locks) l.release();
        }),
    };
  } catch (err) {
    for (const l of locks) l.release();
    throw err;
  }
}

async function startLocked(config: ServerConfig, logger: Logger, memberDir: string, effects: MemberEffects): Promise<RunningMember> {
  const identityFile = join(memberDir, "identity.json");
  const existing = readIdentity(identityFile);
  // Static flags, discovery (v2, v3) and DNS SRV all end in one InitialCluster; everything
  // after this block is the same whichever produced it. A data dir overrides all of them.
  let bootstrap: ResolvedBootstrap | undefined;
  if (existing) {
    const source = bootstrapSource(config);
    if (source === "discovery" || source === "v3-discovery") {
      logger.warn(`discovery token ignored since a cluster has already been initialized. Valid log found at ${JSON.stringify(memberDir)}`);
    } else if (source === "srv") {
      logger.info("data dir exists; ignoring --discovery-srv", { "data-dir": config.dataDir });
    } else if (config.initialCluster.length > 0) {
      logger.info("data dir exists; ignoring --initial-cluster flags", { "data-dir": config.dataDir });
    }
  } else {
    bootstrap = await bootstrapInitialCluster(config, logger);
  }

  // The transport starts before the server (bootstrap probes use it); requests that arrive
  // before the server exists are answered as from an empty member.
  let server: Server | undefined;
  let clusterId = existing?.clusterId ?? 0n;
  let memberId = existing?.memberId ?? 0n;
  const handler: PeerHandler = {
    receive: (msgs) => server?.receive(msgs),
    peerBytesReceived: (from, n) => server?.peerBytesReceived(from, n),
    peerBytesSent: (to, n) => server?.peerBytesSent(to, n),
    peerSendFailures: (to, n) => server?.prom.peerSendFailures(to, n),
    peerReceiveFailure: (from) => server?.prom.peerReceiveFailure(from),
    receiveSnapshot: (m, path) => (server ? server.receiveSnapshot(m, path) : Promise.reject(new Error("member is starting"))),
    isRemoved: (id) => server?.isRemoved(id) ?? false,
    members: () => server?.members() ?? [],
    raftStatus: () => server?.raftStatus() ?? { term: 0, commit: 0, applied: 0, leader: 0n },
    leaseRenew: (id) => (server ? server.leaseRenew(id) : Promise.reject(new Error("member is starting"))),
    leaseRemaining: (id) => (server ? server.leaseRemaining(id) : Promise.reject(new Error("member is starting"))),
    promoteMember: (id) => (server ? server.promoteMember(id) : Promise.reject(new Error("member is starting"))),
  };
  let resolveRemoved!: () => void;
  const removed = new Promise<void>((r) => (resolveRemoved = r));
  let resolveFailed!: (err: Error) => void;
  const failed = new Promise<Error>((r) => (resolveFailed = r));
  let stopMember: (() => Promise<void>) | undefined;
  let failedOnce = false;
  // A disk fault the member cannot wait out (disk-guard.ts), or any other fatal error of the
  // loop: say what happened, stop serving, and let the process exit non-zero.
  const onFatal = (err: Error) => {
    if (failedOnce) return;
    failedOnce = true;
    const fault = diskFault(err);
    logger.error(fault === undefined ? `stopping the member after a fatal error: ${err.message}` : faultMessage(fault, config.dataDir, err));
    setTimeout(() => {
      void (stopMember?.() ?? Promise.resolve()).catch(() => {}).finally(() => resolveFailed(err));
    }, 0);
  };
  // Free space and the member dir itself, watched every second (disk-guard.ts). The reserve
  // keeps room for what is already accepted: twice the largest request, and at least 8 MiB.
  const disk = new DiskGuard({
    probe: hostDiskProbe(memberDir),
    reserveBytes: Math.max(8 * 1024 * 1024, 2 * config.maxRequestBytes),
    everyMs: 1000,
    timers: { setInterval: (fn, ms) => setInterval(fn, ms), clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>) },
    onFatal,
    logger,
  });
  let removedOnce = false;
  const onRemoved = () => {
    if (removedOnce) return;
    removedOnce = true;
    logger.warn("this member has been removed from the cluster; stopping");
    // Outside the apply loop that noticed it: stopping waits for that loop to finish.
    setTimeout(() => {
      void (stopMember?.() ?? Promise.resolve()).catch(() => {}).finally(resolveRemoved);
    }, 0);
  };
  const memberTls = await setupMemberTls(config, logger, () => new Date());
  // DNS SRV with https peers and no peer CA: peers' certificates must name the SRV domain (etcd).
  const srvName = bootstrap?.peerServerName;
  const basePeerTls = memberTls.peer;
  const peerTls =
    basePeerTls !== undefined && srvName !== undefined
      ? { server: basePeerTls.server.bind(basePeerTls), dial: () => ({ ...basePeerTls.dial(), serverName: srvName }) }
      : basePeerTls;
  // The transport is built once with the configured identity and again if the cluster
  // assigned this member another ID (join after `member add`).
  const peerOptions = (id: bigint): PeerTransportOptions => ({
    clusterId: () => clusterId,
    memberId: id,
    listenUrls: [...config.listenPeerUrls],
    handler,
    onUnreachable: (peer) => server?.loop.reportUnreachable(peer),
    onSnapshotStatus: (peer, ok) => server?.loop.reportSnapshot(peer, ok),
    onRemoved,
    logger,
    tls: peerTls,
    tmpDir: memberDir,
    limits: peerLimitsFor(config.maxRequestBytes),
    ...(effects.collectGarbage ? { collectGarbage: effects.collectGarbage } : {}),
  });
  // memberId is fixed before any raft message flows; the getter below reads the final value.
  const transportRef: { t?: Awaited<ReturnType<typeof createPeerTransport>> } = {};
  const initial = new Map<string, string[]>([...(bootstrap?.members ?? new Map<string, readonly string[]>())].map(([n, u]) => [n, [...u]]));
  const clusterToken = bootstrap?.token ?? config.initialClusterToken;
  const plan = await (async () => {
    // Probing needs a transport; identity (and the transport's member ID) may come from the probe,
    // so a short-lived probe transport is not needed: fetchMembers carries no member ID of ours.
    const mine = initial.get(config.name);
    if (!existing && mine) memberId = computeMemberId(mine, clusterToken);
    if (!existing && config.initialClusterState !== "existing") {
      // Peers probing this one during a simultaneous start see the cluster ID at once.
      clusterId = computeClusterId([...initial.values()].map((urls) => computeMemberId(urls, clusterToken)));
    }
    transportRef.t = await createPeerTransport(peerOptions(memberId));
    return planBootstrap({
      name: config.name,
      initialCluster: initial,
      initialClusterState: config.initialClusterState === "existing" ? "existing" : "new",
      token: clusterToken,
      existing,
      fetchMembers: (urls) => transportRef.t!.fetchMembers(urls),
    });
  })().catch(async (err: unknown) => {
    await transportRef.t?.close().catch(() => {});
    throw err;
  });
  const transport = transportRef.t!;
  clusterId = plan.identity.clusterId;
  if (plan.identity.memberId !== memberId) {
    // Joined under an ID the cluster assigned (member add): restart the transport with it.
    await transport.close();
    memberId = plan.identity.memberId;
    transportRef.t = await createPeerTransport(peerOptions(memberId));
  }
  const peerTransport = transportRef.t!;
  if (!existing) writeIdentity(identityFile, plan.identity);

  let assembled;
  try {
    assembled = await assembleMember({
      dataDir: config.dataDir,
      walDir: config.walDir,
      name: config.name,
      clientURLs: config.advertiseClientUrls.map((u) => urlString(u)),
      plan,
      transport: peerTransport,
      clusterToken,
      logger,
      clock: () => Date.now(),
      // Lease and request deadlines must not move when the wall clock is stepped.
      monotonic: () => performance.now(),
      rng: Math.random,
      setInterval: (fn, ms) => setInterval(fn, ms),
      clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
      heartbeatMs: config.heartbeatMs,
      electionMs: config.electionMs,
      initialElectionTickAdvance: config.initialElectionTickAdvance,
      preVote: config.preVote,
      snapshotCount: config.snapshotCount,
      strictReconfigCheck: config.strictReconfigCheck,
      maxRequestBytes: config.maxRequestBytes,
      maxTxnOps: config.maxTxnOps,
      quotaBackendBytes: config.quotaBackendBytes,
      progressNotifyIntervalMs: config.experimentalWatchProgressNotifyIntervalMs,
      compactionBatchLimit: config.experimentalCompactionBatchLimit,
      unsafeNoFsync: config.unsafeNoFsync,
      autoCompaction:
        config.autoCompactionRetention > 0 ? { mode: config.autoCompactionMode, retention: config.autoCompactionRetention } : undefined,
      onRemoved,
      onFatal,
      disk,
      auth: { tokens: makeTokens(config, logger), hasher: runtimeHasher(), bcryptCost: config.bcryptCost },
      collectGarbage: effects.collectGarbage,
      openCheckpointer: effects.openCheckpointer,
      processInfo: { cmdline: () => processCmdline(), fdLimit: () => openFilesLimit() },
    });
  } catch (err) {
    await peerTransport.close().catch(() => {});
    throw err;
  }
  server = assembled.server;
  const srv = assembled.server;
  try {
    await disk.start();
    await srv.start();
    assembled.v2.start();
  } catch (err) {
    disk.stop();
    await assembled.close().catch(() => {});
    await peerTransport.close().catch(() => {});
    throw err;
  }
  // One pipeline for gRPC, the gateway and the dashboard's routes.
  const pipeline = new Pipeline(srv, logger);
  const routes = config.enableDashboard
    ? [dashboardRoute({ pipeline, logger, name: config.name, version: DEFAULT_VERSION.etcdserver, fetch: memberFetch(dashboardDial(memberTls)) })]
    : [];
  const client = await startClientServer({
    server: srv,
    pipeline,
    listenUrls: [...config.listenClientUrls],
    tls: memberTls.client,
    cors: config.corsOrigins,
    logger,
    limits: {
      maxConcurrentStreams: config.maxConcurrentStreams,
      keepalive: keepaliveFromFlags(config.grpcKeepaliveMinTimeMs, config.grpcKeepaliveIntervalMs, config.grpcKeepaliveTimeoutMs),
      maxConnections: connectionCap(openFilesLimit()),
    },
    // etcd 3.4 serves the v2 API only with --enable-v2 (then /v2/* is 404 "404 page not found").
    routes: config.enableV2
      ? [...routes, v2Route({ server: srv, svc: assembled.v2, logger, clock: () => Date.now(), clientCertAuth: config.clientCertAuth })]
      : routes,
  }).catch(async (err: unknown) => {
    disk.stop();
    await assembled.close().catch(() => {});
    await peerTransport.close().catch(() => {});
    throw err;
  });
  logger.info("ready to serve client requests", {
    "member-id": hexId(memberId),
    "cluster-id": hexId(clusterId),
    "listen-client-urls": config.listenClientUrls.map(String),
  });
  let stopping: Promise<void> | undefined;
  let stopped = false;
  stopMember = () =>
    (stopping ??= (async () => {
      stopped = true;
      disk.stop();
      await client.shutdown(CLIENT_GRACE_MS);
      // A member that failed (a disk fault) has nothing to hand over: it stops as it is.
      if (!removedOnce && !failedOnce) await handOverLeadership(srv, peerTransport, logger, memberId);
      await assembled.close().catch((err: unknown) => {
        // Closing flushes the log and the state file: on a data dir that failed, it fails too.
        if (!failedOnce) throw err;
      });
      await peerTransport.close();
    })());
  if (removedOnce) void stopMember().finally(resolveRemoved);
  const ready = (async () => {
    while (!stopped && !(await srv.checkHealth([]).catch(() => ({ health: false }))).health) {
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  })();
  return { logger, server: srv, removed, failed, ready, stop: stopMember };
}

/**
 * etcd's TransferLeadership on stop: a leader with other voters hands leadership to the voter
 * connected longest (ours: one whose message stream is open, else the one heard from last) and
 * waits for it to take over, so the cluster does not sit out an election timeout.
 */
async function handOverLeadership(srv: Server, transport: PeerTransport, logger: Logger, self: bigint): Promise<void> {
  if (!srv.loop.isLeader()) {
    logger.info("skipped leadership transfer for stopping non-leader member");
    return;
  }
  const voters = srv.members().filter((m) => !m.isLearner && m.id !== self);
  if (voters.length === 0) {
    logger.info("skipped leadership transfer for single voting member cluster");
    return;
  }
  let best: { id: bigint; since: number } | undefined;
  for (const v of voters) {
    const since = transport.activeSince(v.id);
    if (since !== undefined && (best === undefined || since < best.since)) best = { id: v.id, since };
  }
  if (best === undefined) {
    logger.warn("failed to transfer leadership", { "local-member-id": hexId(self), error: "etcdserver: unhealthy cluster" });
    return;
  }
  const t0 = Date.now();
  logger.info("leadership transfer starting", { "local-member-id": hexId(self), "transferee-member-id": hexId(best.id) });
  try {
    await srv.moveLeader(create(MoveLeaderRequestSchema, { targetID: best.id }), {});
    logger.info("leadership transfer finished", {
      "local-member-id": hexId(self), "transferee-member-id": hexId(best.id), took: `${Date.now() - t0}ms`,
    });
  } catch (err) {
    logger.warn("failed to transfer leadership", { "local-member-id": hexId(self), error: err instanceof Error ? err.message : String(err) });
  }
}
