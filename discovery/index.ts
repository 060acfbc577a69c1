// `conclave discovery`: a self-hosted discovery token service (what discovery.etcd.io was).
// `main(args)` parses the flags, opens the store (embedded database or --etcd cluster),
// serves until SIGTERM/SIGINT and returns the exit code.
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { V3Client } from "../src/bootstrap/index.ts";
import { createApp } from "./app.ts";
import { EtcdStore } from "./etcd-store.ts";
import { type DiscoveryConfig, FlagError, parseDiscoveryArgs, usage } from "./flags.ts";
import { listen } from "./http-server.ts";
import { Metrics } from "./metrics.ts";
import { createRateLimiter } from "./rate-limit.ts";
import { SqliteStore } from "./sqlite-store.ts";
import type { TokenStore } from "./store.ts";

export { createApp } from "./app.ts";
export { parseDiscoveryArgs, type DiscoveryConfig } from "./flags.ts";

const MAX_BODY = 64 * 1024;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function read(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

async function openStore(c: DiscoveryConfig): Promise<TokenStore> {
  if (c.etcd.length > 0) {
    let username: string | undefined;
    let password: string | undefined;
    if (c.etcdUser !== "") {
      const colon = c.etcdUser.indexOf(":");
      username = colon >= 0 ? c.etcdUser.slice(0, colon) : c.etcdUser;
      password = colon >= 0 ? c.etcdUser.slice(colon + 1) : c.etcdPassword;
    }
    const client = new V3Client({
      endpoints: c.etcd,
      tls: {
        ...(c.etcdCacert !== "" ? { ca: read(c.etcdCacert, "--etcd-cacert") } : {}),
        ...(c.etcdCert !== "" ? { cert: read(c.etcdCert, "--etcd-cert") } : {}),
        ...(c.etcdKey !== "" ? { key: read(c.etcdKey, "--etcd-key") } : {}),
        insecureSkipVerify: c.etcdInsecureSkipTlsVerify,
      },
      ...(username !== undefined ? { username, password } : {}),
      dialTimeoutMs: 5000,
      requestTimeoutMs: 5000,
    });
    const store = new EtcdStore(client, c.etcdPrefix, c.minAgeMs);
    // Fail at start, not at the first request, when the cluster cannot be used.
    await store.index();
    return store;
  }
  try {
    accessSync(tmpdir(), constants.W_OK);
  } catch {
    throw new Error(`temporary directory ${tmpdir()} is not writable (set TMPDIR): the embedded SQLite library is unpacked there`);
  }
  try {
    mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
    accessSync(c.dataDir, constants.W_OK | constants.R_OK);
  } catch (e) {
    throw new Error(`cannot access data directory: ${(e as Error).message}`);
  }
  return SqliteStore.open(join(c.dataDir, "tokens.db"), c.minAgeMs);
}

export async function main(args: string[]): Promise<number> {
  let config: DiscoveryConfig;
  try {
    const parsed = parseDiscoveryArgs(args, process.env);
    if (parsed.kind === "help") {
      process.stdout.write(usage());
      return 0;
    }
    config = parsed.config;
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`Error: ${e.message}\n${usage()}`);
      return 2;
    }
    throw e;
  }
  let store: TokenStore;
  let tls: { cert: Uint8Array; key: Uint8Array } | undefined;
  try {
    if (config.certFile !== "") tls = { cert: read(config.certFile, "--cert-file"), key: read(config.keyFile, "--key-file") };
    store = await openStore(config);
  } catch (e) {
    process.stderr.write(`conclave discovery: ${(e as Error).message}\n`);
    return 1;
  }
  const metrics = new Metrics();
  metrics.counter("discovery_tokens_collected_total", "Expired tokens collected.");
  const app = createApp({
    store,
    host: config.host,
    maxSize: config.maxSize,
    limiter: createRateLimiter({ rate: config.newRate, burst: config.newBurst }),
    metrics,
    longPollMs: config.longPollMs,
    clock: () => Date.now(),
    randomBytes: () => randomBytes(16),
    extraNodes: 100,
    maxBodyBytes: MAX_BODY,
    maxWaiters: 10_000,
    log,
  });
  let server;
  try {
    server = await listen(
      { host: config.addr.host, port: config.addr.port, tls, maxBody: MAX_BODY, longPollMs: config.longPollMs },
      (req, env) => app.fetch(req, env),
    );
  } catch (e) {
    process.stderr.write(`conclave discovery: cannot listen on ${config.addr.host}:${config.addr.port}: ${(e as Error).message}\n`);
    await store.close();
    return 1;
  }
  const where = config.etcd.length > 0 ? `cluster ${config.etcd.join(",")} (prefix ${config.etcdPrefix})` : `${join(config.dataDir, "tokens.db")}`;
  process.stderr.write(
    `conclave discovery: listening on ${tls ? "https" : "http"}://${config.addr.host || "0.0.0.0"}:${server.port}, tokens in ${where}\n`,
  );
  // Expired tokens are collected every --gcfreq; one failed round is logged and retried next time.
  const gc = setInterval(() => {
    store
      .collect(Date.now() - config.minAgeMs)
      .then((n) => {
        if (n > 0) {
          metrics.inc("discovery_tokens_collected_total", {}, n);
          process.stderr.write(`conclave discovery: collected ${n} expired token(s)\n`);
        }
      })
      .catch((e: unknown) => process.stderr.write(`conclave discovery: collecting expired tokens failed: ${(e as Error).message}\n`));
  }, config.gcFreqMs);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  clearInterval(gc);
  await server.close();
  await store.close();
  return 0;
}
