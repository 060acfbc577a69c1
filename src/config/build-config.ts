// Typed values → ServerConfig, with etcd's derived defaults and validation rules
// (etcdmain configFromCmdLine/configFromFile, embed.Config.Validate and the checks etcd
// makes while starting: compaction retention, initial cluster, auth token, cipher suites).

import { ConfigError } from "./errors.ts";
import { checkExperimental } from "./experimental.ts";
import { FLAG_BY_NAME, type FlagValue } from "./flags.ts";
import { defaultValue } from "./flag-values.ts";
import { ValueError, goAtoi, goQuote, parseGoDuration } from "./go-values.ts";
import type {
  AuthTokenSpec,
  ClusterState,
  CompactionMode,
  DiscoveryFallback,
  LogLevel,
  Logger,
  ProxyMode,
  ServerConfig,
  V3DiscoveryConfig,
} from "./server-config.ts";
import {
  type GoUrl,
  type InitialClusterEntry,
  checkBindUrls,
  checkHostUrls,
  parseInitialCluster,
  toWebUrl,
} from "./urls.ts";

const GiB = 1024 * 1024 * 1024;
/** etcd: DefaultQuotaBytes (used when --quota-backend-bytes is 0) and MaxQuotaBytes. */
export const DEFAULT_QUOTA_BYTES = 2 * GiB;
export const MAX_QUOTA_BYTES = 8 * GiB;
/** etcd: recommendedMaxRequestBytes. */
export const RECOMMENDED_MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** etcd: maxElectionMs. */
export const MAX_ELECTION_MS = 50000;
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;
export const BCRYPT_DEFAULT_COST = 10;

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "panic", "fatal"];

/** Cipher suite names etcd 3.4 accepts (its tlsutil table of Go's suites). */
export const CIPHER_SUITES: readonly string[] = [
  "TLS_RSA_WITH_RC4_128_SHA",
  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
  "TLS_RSA_WITH_AES_128_CBC_SHA",
  "TLS_RSA_WITH_AES_256_CBC_SHA",
  "TLS_RSA_WITH_AES_128_CBC_SHA256",
  "TLS_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
  "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
  "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
  "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
  "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
  "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
  "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
  "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
];

/** JWT signing methods known to etcd's jwt library. */
export const JWT_SIGN_METHODS: readonly string[] = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "HS256",
  "HS384",
  "HS512",
];

export const ErrConflictBootstrapFlags =
  'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';
export const ErrUnsetAdvertiseClientURLsFlag =
  "--advertise-client-urls is required when --listen-client-urls is set explicitly";
export const ErrV2V3DiscoveryFlags =
  "both v2 discovery settings (discovery, discovery-proxy) and v3 discovery settings (discovery-token, discovery-endpoints, discovery-cert, discovery-key, discovery-cacert, discovery-user, discovery-password) are set";
export const ErrInvalidAuthOpts = "auth: invalid auth options";
export const ErrInvalidAuthMethod = "auth: invalid auth signature method";

/** Where the values came from: etcd derives a few defaults differently for each. */
export type Source = "flags" | "file";

/** Typed access to the values given, falling back to each flag's default. */
class Values {
  constructor(private readonly given: ReadonlyMap<string, FlagValue>) {}

  isSet(name: string): boolean {
    return this.given.has(name);
  }

  /** True when the flag's value equals its default (set explicitly or not). */
  isDefault(name: string): boolean {
    const def = FLAG_BY_NAME.get(name);
    if (def === undefined) throw new Error(`unknown flag ${name}`);
    return JSON.stringify(this.get(name)) === JSON.stringify(defaultValue(def));
  }

  private get(name: string): FlagValue {
    const def = FLAG_BY_NAME.get(name);
    if (def === undefined) throw new Error(`unknown flag ${name}`);
    return this.given.get(name) ?? defaultValue(def);
  }

  str(name: string): string {
    const v = this.get(name);
    if (typeof v !== "string") throw new Error(`flag ${name} is not a string`);
    return v;
  }

  bool(name: string): boolean {
    const v = this.get(name);
    if (typeof v !== "boolean") throw new Error(`flag ${name} is not a bool`);
    return v;
  }

  num(name: string): number {
    const v = this.get(name);
    if (typeof v !== "number") throw new Error(`flag ${name} is not a number`);
    return v;
  }

  /** A duration flag, converted from nanoseconds to milliseconds. */
  ms(name: string): number {
    return this.num(name) / 1e6;
  }

  urls(name: string): readonly GoUrl[] {
    const v = this.get(name);
    if (!Array.isArray(v) || !v.every((u) => typeof u === "object")) throw new Error(`flag ${name} is not URLs`);
    return v as readonly GoUrl[];
  }

  list(name: string): readonly string[] {
    const v = this.get(name);
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw new Error(`flag ${name} is not a list`);
    return v as readonly string[];
  }
}

function fail(message: string): never {
  throw new ConfigError(message);
}

/** Runs a check that throws ValueError and reports it as a ConfigError, optionally wrapped. */
function check(f: () => void, wrap: (m: string) => string = (m) => m): void {
  try {
    f();
  } catch (e) {
    if (e instanceof ValueError) fail(wrap(e.message));
    throw e;
  }
}

/** Go's %q of a []string: ["a" "b"]. */
function quoteList(xs: readonly string[]): string {
  return `[${xs.map(goQuote).join(" ")}]`;
}

function logging(v: Values, warnings: string[]): { logger: Logger; logOutputs: readonly string[]; logLevel: LogLevel } {
  let logOutputs = v.list("log-outputs");
  const deprecated = v.list("log-output");
  if (v.isSet("log-output") && !(deprecated.length === 1 && deprecated[0] === "default")) {
    warnings.push(`Deprecated '--log-output' flag is set to ${quoteList(deprecated)}; please use '--log-outputs' flag`);
    logOutputs = deprecated;
  }
  const logger = v.str("logger");
  if (logger === "capnslog") {
    if (logOutputs.length > 1) {
      fail(`--logger=capnslog supports only 1 value in '--log-outputs', got ${quoteList(logOutputs)}`);
    }
    const out = logOutputs[0] ?? "default";
    if (!["default", "stderr", "stdout"].includes(out)) {
      fail(`unknown log-output ${goQuote(out)} (only supports "default", "stderr", "stdout")`);
    }
    if (logOutputs.length === 0) logOutputs = ["default"];
  } else if (logger === "zap") {
    if (logOutputs.length === 0) logOutputs = ["default"];
    if (logOutputs.length > 1 && logOutputs.includes("default")) {
      fail(`multi logoutput for "default" is not supported yet`);
    }
  } else {
    fail(`unknown logger option ${goQuote(logger)}`);
  }
  let level = v.str("log-level");
  if (v.bool("debug")) {
    warnings.push("'--debug' flag is set to true; use '--log-level=debug' instead");
    level = "debug";
  }
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    fail(`unknown log-level ${goQuote(level)} (only supports debug, info, warn, error, panic, or fatal)`);
  }
  return { logger, logOutputs, logLevel: level as LogLevel };
}

/** embed.parseCompactionRetention, in ms (periodic) or revisions. */
export function parseCompactionRetention(mode: CompactionMode, retention: string): number {
  const h = goAtoi(retention);
  if (h !== undefined && h >= 0) return mode === "revision" ? h : h * 3600_000;
  if (mode === "revision") {
    // etcd would read a duration here as that many nanoseconds of revisions; reject instead.
    fail(`error parsing CompactionRetention: revision retention must be a non-negative integer: ${goQuote(retention)}`);
  }
  try {
    return parseGoDuration(retention) / 1e6;
  } catch (e) {
    fail(`error parsing CompactionRetention: ${(e as Error).message}`);
  }
}

/** auth.NewTokenProvider's option parsing (decomposeOpts + jwtOptions). */
export function parseAuthToken(spec: string): AuthTokenSpec {
  const [type = "", ...rest] = spec.split(",");
  const opts = new Map<string, string>();
  for (const o of rest) {
    const pair = o.split("=");
    if (pair.length !== 2) fail(ErrInvalidAuthOpts);
    const [k, val] = pair as [string, string];
    if (opts.has(k)) fail(ErrInvalidAuthOpts);
    opts.set(k, val);
  }
  if (type === "simple") return { type: "simple" };
  // etcd's nop provider: no tokens at all (certificate CNs only).
  if (type === "") return { type: "none" };
  if (type !== "jwt") fail(ErrInvalidAuthOpts);
  let ttlMs = 5 * 60_000;
  const ttl = opts.get("ttl");
  if (ttl !== undefined && ttl !== "") {
    try {
      ttlMs = parseGoDuration(ttl) / 1e6;
    } catch {
      fail(ErrInvalidAuthOpts);
    }
  }
  const signMethod = opts.get("sign-method") ?? "";
  if (!JWT_SIGN_METHODS.includes(signMethod)) fail(ErrInvalidAuthMethod);
  const pubKey = opts.get("pub-key") || undefined;
  const privKey = opts.get("priv-key") || undefined;
  if (pubKey === undefined && privKey === undefined) fail(ErrInvalidAuthOpts);
  return { type: "jwt", signMethod, pubKey, privKey, ttlMs };
}

function toEntries(s: string): InitialClusterEntry[] {
  let parsed: { name: string; urls: GoUrl[] }[] = [];
  check(() => {
    parsed = parseInitialCluster(s);
  });
  return parsed.flatMap(({ name, urls }) => toUrls(urls).map((url) => ({ name, url })));
}

function toUrls(us: readonly GoUrl[]): URL[] {
  const out: URL[] = [];
  check(() => {
    for (const u of us) out.push(toWebUrl(u));
  });
  return out;
}

/**
 * Builds and validates the configuration. `given` holds the values the user supplied (from
 * flags+env, or from the config file); anything absent takes etcd's default.
 */
export function buildServerConfig(
  given: ReadonlyMap<string, FlagValue>,
  source: Source,
  configFile: string,
  warnings: string[],
): ServerConfig {
  const v = new Values(given);
  const name = v.str("name");
  const lpUrls = v.urls("listen-peer-urls");
  const lcUrls = v.urls("listen-client-urls");
  const metricsUrls = v.urls("listen-metrics-urls");
  const apUrls = v.urls("initial-advertise-peer-urls");
  let acUrls: readonly GoUrl[] | undefined = v.urls("advertise-client-urls");

  const proxyMode = v.str("proxy");
  const fallback = v.str("discovery-fallback");
  const discovery = v.str("discovery");
  const discoverySrv = v.str("discovery-srv");
  const discoverySrvName = v.str("discovery-srv-name");
  const mayBeProxy = proxyMode !== "off" || (discovery !== "" && fallback === "proxy");

  // Flags only: listening on explicit client URLs without advertising any is an error
  // below, rather than silently advertising localhost.
  if (source === "flags" && v.isSet("listen-client-urls") && !v.isSet("advertise-client-urls") && !mayBeProxy) {
    acUrls = undefined;
  }

  // The initial cluster defaults to this member alone; not when discovery finds the members.
  let initialCluster = v.str("initial-cluster");
  if (!v.isSet("initial-cluster")) {
    initialCluster =
      discovery !== "" ||
      discoverySrv !== "" ||
      v.str("discovery-token") !== "" ||
      v.list("discovery-endpoints").some((e) => e !== "") ||
      (source === "flags" && discoverySrvName !== "")
        ? ""
        : apUrls.map((u) => `${name}=${u.text}`).join(",");
  }

  // embed.Config.Validate, in etcd's order.
  const log = logging(v, warnings);
  checkExperimental((n) => v.isSet(n), (n) => v.isDefault(n), warnings);
  check(() => checkBindUrls(lpUrls));
  check(() => checkBindUrls(lcUrls));
  check(() => checkBindUrls(metricsUrls));
  check(
    () => checkHostUrls(apUrls),
    (m) => `--initial-advertise-peer-urls ${goQuote(apUrls.map((u) => u.text).join(","))} must be "host:port" (${m})`,
  );
  if (acUrls !== undefined) {
    const ac = acUrls;
    check(
      () => checkHostUrls(ac),
      (m) => `--advertise-client-urls ${goQuote(ac.map((u) => u.text).join(","))} must be "host:port" (${m})`,
    );
  }
  const clusterState = v.str("initial-cluster-state");
  if (clusterState !== "new" && clusterState !== "existing") fail(`unexpected clusterState ${goQuote(clusterState)}`);
  const discoveryEndpoints = v.list("discovery-endpoints");
  const v3Endpoints = discoveryEndpoints.length === 1 && discoveryEndpoints[0] === "" ? [] : discoveryEndpoints;
  const bootstrapFlags = [discovery !== "", initialCluster !== "", discoverySrv !== "", v3Endpoints.length > 0].filter(Boolean).length;
  if (bootstrapFlags > 1) fail(ErrConflictBootstrapFlags);
  const v3Discovery = v3DiscoveryConfig(v, v3Endpoints);
  // etcd 3.6: v2 discovery settings and v3 ones exclude each other; token and endpoints go together.
  const v3FlagsSet =
    v3Endpoints.length > 0 ||
    v3Discovery.token !== "" ||
    v3Discovery.cert !== "" ||
    v3Discovery.key !== "" ||
    v3Discovery.cacert !== "" ||
    v3Discovery.user !== "" ||
    v3Discovery.password !== "";
  if ((discovery !== "" || v.str("discovery-proxy") !== "") && v3FlagsSet) fail(ErrV2V3DiscoveryFlags);
  if ((v3Discovery.token !== "") !== (v3Endpoints.length > 0)) fail("both --discovery-token and --discovery-endpoints must be set");
  if (v3Endpoints.some((e) => e.trim() === "")) fail("--discovery-endpoints must not contain empty endpoints");

  const heartbeatMs = v.num("heartbeat-interval");
  const electionMs = v.num("election-timeout");
  if (heartbeatMs <= 0) fail(`--heartbeat-interval must be >0 (set to ${heartbeatMs}ms)`);
  if (electionMs <= 0) fail(`--election-timeout must be >0 (set to ${electionMs}ms)`);
  if (5 * heartbeatMs > electionMs) {
    fail(`--election-timeout[${electionMs}ms] should be at least as 5 times as --heartbeat-interval[${heartbeatMs}ms]`);
  }
  if (electionMs > MAX_ELECTION_MS) {
    fail(`--election-timeout[${electionMs}ms] is too long, and should be set less than ${MAX_ELECTION_MS}ms`);
  }
  if (acUrls === undefined && !mayBeProxy) fail(ErrUnsetAdvertiseClientURLsFlag);

  const compactionMode = v.str("auto-compaction-mode");
  if (compactionMode !== "periodic" && compactionMode !== "revision") {
    fail(`unknown auto-compaction-mode ${goQuote(compactionMode)}`);
  }
  if (source === "file") {
    if (fallback !== "exit" && fallback !== "proxy") {
      fail("unexpected error setting up discovery-fallback flag: invalid value");
    }
    if (!["off", "readonly", "on"].includes(proxyMode)) fail("unexpected error setting up proxy flag: invalid value");
  }

  // Checks etcd makes while starting the server.
  const autoCompactionRetention = parseCompactionRetention(compactionMode, v.str("auto-compaction-retention"));
  const initialClusterEntries = toEntries(initialCluster);
  const authToken = v.str("auth-token");
  const authTokenSpec = parseAuthToken(authToken);
  const cipherSuites = v.list("cipher-suites");
  for (const cs of cipherSuites) {
    if (!CIPHER_SUITES.includes(cs)) fail(`unexpected TLS cipher suite ${goQuote(cs)}`);
  }

  let bcryptCost = v.num("bcrypt-cost");
  if (bcryptCost < BCRYPT_MIN_COST || bcryptCost > BCRYPT_MAX_COST) {
    warnings.push(`Use default bcrypt-cost ${BCRYPT_DEFAULT_COST} instead of the invalid value ${bcryptCost}`);
    bcryptCost = BCRYPT_DEFAULT_COST;
  }
  let quotaBackendBytes = v.num("quota-backend-bytes");
  if (quotaBackendBytes === 0) quotaBackendBytes = DEFAULT_QUOTA_BYTES;
  else if (quotaBackendBytes < 0) warnings.push("disabling backend quota");
  else if (quotaBackendBytes > MAX_QUOTA_BYTES) {
    warnings.push(`backend quota ${quotaBackendBytes} exceeds maximum recommended quota ${MAX_QUOTA_BYTES}`);
  }
  const maxRequestBytes = v.num("max-request-bytes");
  if (maxRequestBytes > RECOMMENDED_MAX_REQUEST_BYTES) {
    warnings.push(
      `MaxRequestBytes ${maxRequestBytes} exceeds maximum recommended size ${RECOMMENDED_MAX_REQUEST_BYTES}`,
    );
  }

  const dataDir = v.str("data-dir");
  return {
    configFile,
    name,
    dataDir: dataDir === "" ? `${name}.conclave` : dataDir,
    walDir: v.str("wal-dir"),
    snapshotCount: v.num("snapshot-count"),
    heartbeatMs,
    electionMs,
    initialElectionTickAdvance: v.bool("initial-election-tick-advance"),
    listenPeerUrls: toUrls(lpUrls),
    listenClientUrls: toUrls(lcUrls),
    maxSnapshots: v.num("max-snapshots"),
    maxWals: v.num("max-wals"),
    quotaBackendBytes,
    backendBatchIntervalMs: v.ms("backend-batch-interval"),
    backendBatchLimit: v.num("backend-batch-limit"),
    maxTxnOps: v.num("max-txn-ops"),
    maxRequestBytes,
    maxConcurrentStreams: v.num("max-concurrent-streams"),
    grpcKeepaliveMinTimeMs: v.ms("grpc-keepalive-min-time"),
    grpcKeepaliveIntervalMs: v.ms("grpc-keepalive-interval"),
    grpcKeepaliveTimeoutMs: v.ms("grpc-keepalive-timeout"),
    listenMetricsUrls: toUrls(metricsUrls),

    initialAdvertisePeerUrls: toUrls(apUrls),
    initialCluster: initialClusterEntries,
    initialClusterState: clusterState as ClusterState,
    initialClusterToken: v.str("initial-cluster-token"),
    advertiseClientUrls: toUrls(acUrls ?? []),
    discovery,
    discoveryFallback: fallback as DiscoveryFallback,
    discoveryProxy: v.str("discovery-proxy"),
    discoverySrv,
    discoverySrvName,
    v3Discovery,
    strictReconfigCheck: v.bool("strict-reconfig-check"),
    preVote: v.bool("pre-vote"),
    autoCompactionMode: compactionMode,
    autoCompactionRetention,
    enableV2: v.bool("enable-v2"),
    enableGrpcGateway: v.bool("enable-grpc-gateway"),

    certFile: v.str("cert-file"),
    keyFile: v.str("key-file"),
    clientCertAuth: v.bool("client-cert-auth"),
    clientCrlFile: v.str("client-crl-file"),
    clientCertAllowedHostname: v.str("client-cert-allowed-hostname"),
    trustedCaFile: v.str("trusted-ca-file"),
    autoTls: v.bool("auto-tls"),
    peerCertFile: v.str("peer-cert-file"),
    peerKeyFile: v.str("peer-key-file"),
    peerClientCertAuth: v.bool("peer-client-cert-auth"),
    peerTrustedCaFile: v.str("peer-trusted-ca-file"),
    peerCertAllowedCn: v.str("peer-cert-allowed-cn"),
    peerCertAllowedHostname: v.str("peer-cert-allowed-hostname"),
    peerAutoTls: v.bool("peer-auto-tls"),
    peerCrlFile: v.str("peer-crl-file"),
    selfSignedCertValidity: v.num("self-signed-cert-validity") || 1,
    cipherSuites,
    corsOrigins: v.list("cors").filter((s) => s !== ""),
    hostWhitelist: v.list("host-whitelist").filter((s) => s !== ""),

    authToken,
    authTokenSpec,
    bcryptCost,
    authTokenTtl: v.num("auth-token-ttl"),

    enablePprof: v.bool("enable-pprof"),
    metrics: v.str("metrics"),
    enableDashboard: v.bool("enable-dashboard"),

    ...log,
    logPackageLevels: v.str("log-package-levels"),

    proxy: proxyMode as ProxyMode,
    proxyFailureWaitMs: v.num("proxy-failure-wait"),
    proxyRefreshIntervalMs: v.num("proxy-refresh-interval"),
    proxyDialTimeoutMs: v.num("proxy-dial-timeout"),
    proxyWriteTimeoutMs: v.num("proxy-write-timeout"),
    proxyReadTimeoutMs: v.num("proxy-read-timeout"),

    experimentalInitialCorruptCheck: v.bool("experimental-initial-corrupt-check"),
    experimentalCorruptCheckTimeMs: v.ms("experimental-corrupt-check-time"),
    experimentalEnableV2v3: v.str("experimental-enable-v2v3"),
    experimentalBackendBboltFreelistType: v.str("experimental-backend-bbolt-freelist-type"),
    experimentalEnableLeaseCheckpoint: v.bool("experimental-enable-lease-checkpoint"),
    experimentalEnableLeaseCheckpointPersist: v.bool("experimental-enable-lease-checkpoint-persist"),
    experimentalCompactionBatchLimit: v.num("experimental-compaction-batch-limit"),
    experimentalPeerSkipClientSanVerification: v.bool("experimental-peer-skip-client-san-verification"),
    experimentalWatchProgressNotifyIntervalMs: v.ms("experimental-watch-progress-notify-interval"),
    experimentalWarningApplyDurationMs: v.ms("experimental-warning-apply-duration"),

    forceNewCluster: v.bool("force-new-cluster"),
    unsafeNoFsync: v.bool("unsafe-no-fsync"),
  };
}

/** etcd 3.6's v3 discovery client settings (DiscoveryCfg). */
function v3DiscoveryConfig(v: Values, endpoints: readonly string[]): V3DiscoveryConfig {
  return {
    endpoints,
    token: v.str("discovery-token"),
    dialTimeoutMs: v.ms("discovery-dial-timeout"),
    requestTimeoutMs: v.ms("discovery-request-timeout"),
    keepAliveTimeMs: v.ms("discovery-keepalive-time"),
    keepAliveTimeoutMs: v.ms("discovery-keepalive-timeout"),
    insecureTransport: v.bool("discovery-insecure-transport"),
    insecureSkipTlsVerify: v.bool("discovery-insecure-skip-tls-verify"),
    cert: v.str("discovery-cert"),
    key: v.str("discovery-key"),
    cacert: v.str("discovery-cacert"),
    user: v.str("discovery-user"),
    password: v.str("discovery-password"),
  };
}
