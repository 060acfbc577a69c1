// Wires one member from its configuration: durable log, state machine, consensus node, server
// loop and the client port. Real effects (clock, timers, disk, sockets) are created here.
import { existsSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { startClientServer } from "./api/index.ts";
import { type ServerConfig, urlString, verifyBootstrap } from "./config/index.ts";
import { computeClusterId, computeMemberId, hexId } from "./membership/ids.ts";
import { openRaftLog } from "./storage/index.ts";
import { createLogger, type Logger } from "./server/logger.ts";
import { memberOf, SERVER_VERSION, Server } from "./server/server.ts";
import { SoloNode } from "./server/solo-node.ts";
import { openStateMachine } from "./server/state-machine.ts";

export interface RunningMember {
  logger: Logger;
  server: Server;
  stop(): Promise<void>;
}

interface Identity {
  name: string;
  memberId: string;
  clusterId: string;
}

/**
 * The member's identity is fixed when its data dir is first created; later starts read it back
 * and ignore the --initial-* flags, as etcd does with an existing data dir.
 */
function loadOrCreateIdentity(config: ServerConfig, logger: Logger): { memberId: bigint; clusterId: bigint } {
  const file = join(config.dataDir, "member", "identity.json");
  if (existsSync(file)) {
    let id: Identity;
    try {
      id = JSON.parse(readFileSync(file, "utf8")) as Identity;
    } catch (err) {
      throw new Error(`cannot read member identity ${file}: ${(err as Error).message}`);
    }
    if (config.initialCluster.length > 0) {
      logger.info("data dir exists; ignoring --initial-cluster flags", { "data-dir": config.dataDir });
    }
    return { memberId: BigInt(`0x${id.memberId}`), clusterId: BigInt(`0x${id.clusterId}`) };
  }
  const token = config.initialClusterToken;
  const self = config.initialAdvertisePeerUrls.map((u) => urlString(u));
  const members = new Map<string, string[]>();
  for (const e of config.initialCluster) {
    const list = members.get(e.name) ?? [];
    list.push(urlString(e.url));
    members.set(e.name, list);
  }
  verifyBootstrap(config);
  const mine = [...members.get(config.name)!].sort().join(",");
  if (mine !== [...self].sort().join(",")) {
    throw new Error(
      `--initial-cluster has ${config.name}=${members.get(config.name)!.join(",")} but missing from --initial-advertise-peer-urls=${self.join(",")}`,
    );
  }
  const ids = [...members.values()].map((urls) => computeMemberId(urls, token));
  const memberId = computeMemberId(members.get(config.name)!, token);
  const clusterId = computeClusterId(ids);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ name: config.name, memberId: hexId(memberId), clusterId: hexId(clusterId) }));
  renameSync(tmp, file);
  return { memberId, clusterId };
}

export async function startMember(config: ServerConfig): Promise<RunningMember> {
  const logger = createLogger({
    level: config.logLevel,
    format: config.logger === "zap" ? "zap" : "capnslog",
    now: () => new Date(),
    write: (line) => process.stderr.write(line),
  });
  if (config.initialCluster.length > 1) {
    throw new Error("multi-member clusters are not supported by this build yet (single member only)");
  }
  const { memberId, clusterId } = loadOrCreateIdentity(config, logger);
  const memberDir = join(config.dataDir, "member");
  const log = await openRaftLog(join(config.walDir || memberDir, "wal"), {
    unsafeNoFsync: config.unsafeNoFsync,
    warn: (msg: string) => logger.warn(msg),
  });
  const header = (revision: number) => server.header(revision);
  const sm = await openStateMachine({
    path: join(memberDir, "state.db"),
    clock: () => Date.now(),
    header,
    memberId,
    // etcd: minTTL = ceil(3 * electionTicks / 2 * heartbeat), 2 s at the defaults.
    minLeaseTtl: Math.ceil((3 * config.electionMs) / 2 / 1000),
    quotaBackendBytes: config.quotaBackendBytes,
    maxRequestBytes: config.maxRequestBytes,
    progressNotifyIntervalMs: config.experimentalWatchProgressNotifyIntervalMs,
    compactionBatchLimit: config.experimentalCompactionBatchLimit,
    unsafeNoFsync: config.unsafeNoFsync,
  });
  const init = log.initialState();
  const node = new SoloNode(
    memberId,
    init.hardState,
    log.lastIndex(),
    (lo, hi) => log.entries(lo, hi),
    sm.appliedIndex,
  );
  const self = memberOf(
    memberId,
    config.name,
    config.initialAdvertisePeerUrls.map((u) => urlString(u)),
    config.advertiseClientUrls.map((u) => urlString(u)),
  );
  const server: Server = new Server({
    clusterId,
    memberId,
    name: config.name,
    members: () => [self],
    node,
    log,
    sm,
    logger,
    clock: () => Date.now(),
    maxRequestBytes: config.maxRequestBytes,
    maxTxnOps: config.maxTxnOps,
    version: SERVER_VERSION,
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
    autoCompaction:
      config.autoCompactionRetention > 0
        ? { mode: config.autoCompactionMode, retention: config.autoCompactionRetention }
        : undefined,
  });
  await server.start();
  const client = await startClientServer({
    server,
    listenUrls: [...config.listenClientUrls],
    tls: config.certFile
      ? {
          cert: readFileSync(config.certFile),
          key: readFileSync(config.keyFile),
          ca: config.trustedCaFile ? readFileSync(config.trustedCaFile) : undefined,
          clientCertAuth: config.clientCertAuth,
        }
      : undefined,
    cors: config.corsOrigins,
    logger,
  });
  logger.info("ready to serve client requests", {
    "member-id": hexId(memberId),
    "cluster-id": hexId(clusterId),
    "listen-client-urls": config.listenClientUrls.map(String),
  });
  return {
    logger,
    server,
    async stop() {
      await client.close();
      await server.stop();
      await sm.close();
      await log.close();
    },
  };
}
