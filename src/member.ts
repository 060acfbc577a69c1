// Wires one member from its configuration: identity and bootstrap, peer transport, durable
// log, state machine, Raft loop and the client port. Real effects (clock, timers, disk,
// sockets) are created here.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startClientServer } from "./api/index.ts";
import { type ServerConfig, urlString, verifyBootstrap } from "./config/index.ts";
import { setupMemberTls } from "./member-tls.ts";
import { hexId } from "./membership/ids.ts";
import { JwtTokens, SimpleTokens } from "./auth/index.ts";
import { runtimeHasher } from "./runtime/bcrypt.ts";
import { assembleMember } from "./server/assemble.ts";
import type { Tokens } from "./server/member-auth.ts";
import { type Identity, planBootstrap } from "./server/bootstrap.ts";
import { createLogger, type Logger } from "./server/logger.ts";
import { lockDir } from "./storage/dir-lock.ts";
import { DiskGuard, diskFault, faultMessage } from "./server/disk-guard.ts";
import { hostDiskProbe } from "./runtime/effects.ts";
import type { Server } from "./server/server.ts";
import { createPeerTransport, type PeerHandler, type PeerTransportOptions } from "./transport/index.ts";

export interface RunningMember {
  logger: Logger;
  server: Server;
  /** Resolves when the member was removed from the cluster and stopped itself. */
  removed: Promise<void>;
  /** Resolves once the member stopped itself on an error it cannot go on after (a disk fault). */
  failed: Promise<Error>;
  stop(): Promise<void>;
}

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

export async function startMember(config: ServerConfig): Promise<RunningMember> {
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
    const running = await startLocked(config, logger, memberDir);
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

async function startLocked(config: ServerConfig, logger: Logger, memberDir: string): Promise<RunningMember> {
  const identityFile = join(memberDir, "identity.json");
  const existing = readIdentity(identityFile);
  if (existing) {
    if (config.initialCluster.length > 0) logger.info("data dir exists; ignoring --initial-cluster flags", { "data-dir": config.dataDir });
  } else {
    if (config.initialCluster.length === 0) {
      throw new Error("no initial cluster given: discovery and DNS SRV bootstrap are not available in this build; use --initial-cluster");
    }
    verifyBootstrap(config);
    const self = config.initialAdvertisePeerUrls.map((u) => urlString(u));
    const mine = config.initialCluster.filter((e) => e.name === config.name).map((e) => urlString(e.url));
    if ([...mine].sort().join(",") !== [...self].sort().join(",")) {
      throw new Error(`--initial-cluster has ${config.name}=${mine.join(",")} but missing from --initial-advertise-peer-urls=${self.join(",")}`);
    }
  }

  // The transport starts before the server (bootstrap probes use it); requests that arrive
  // before the server exists are answered as from an empty member.
  let server: Server | undefined;
  let clusterId = existing?.clusterId ?? 0n;
  let memberId = existing?.memberId ?? 0n;
  const handler: PeerHandler = {
    receive: (msgs) => server?.receive(msgs),
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
  const peerTls = memberTls.peer;
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
  });
  // memberId is fixed before any raft message flows; the getter below reads the final value.
  const transportRef: { t?: Awaited<ReturnType<typeof createPeerTransport>> } = {};
  const initial = new Map<string, string[]>();
  for (const e of config.initialCluster) initial.set(e.name, [...(initial.get(e.name) ?? []), urlString(e.url)]);
  const plan = await (async () => {
    // Probing needs a transport; identity (and the transport's member ID) may come from the probe,
    // so a short-lived probe transport is not needed: fetchMembers carries no member ID of ours.
    const { computeClusterId, computeMemberId } = await import("./membership/ids.ts");
    const mine = initial.get(config.name);
    if (!existing && mine) memberId = computeMemberId(mine, config.initialClusterToken);
    if (!existing && config.initialClusterState !== "existing") {
      // Peers probing this one during a simultaneous start see the cluster ID at once.
      clusterId = computeClusterId([...initial.values()].map((urls) => computeMemberId(urls, config.initialClusterToken)));
    }
    transportRef.t = await createPeerTransport(peerOptions(memberId));
    return planBootstrap({
      name: config.name,
      initialCluster: initial,
      initialClusterState: config.initialClusterState === "existing" ? "existing" : "new",
      token: config.initialClusterToken,
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
      clusterToken: config.initialClusterToken,
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
  } catch (err) {
    disk.stop();
    await assembled.close().catch(() => {});
    await peerTransport.close().catch(() => {});
    throw err;
  }
  const client = await startClientServer({
    server: srv,
    listenUrls: [...config.listenClientUrls],
    tls: memberTls.client,
    cors: config.corsOrigins,
    logger,
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
  stopMember = () =>
    (stopping ??= (async () => {
      disk.stop();
      await client.close();
      await assembled.close().catch((err: unknown) => {
        // Closing flushes the log and the state file: on a data dir that failed, it fails too.
        if (!failedOnce) throw err;
      });
      await peerTransport.close();
    })());
  if (removedOnce) void stopMember().finally(resolveRemoved);
  return { logger, server: srv, removed, failed, stop: stopMember };
}
