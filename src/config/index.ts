// Server configuration with etcd's flag names, env vars and config file.
export { parseServerConfig, type ReadFile } from "./parse-server-config.ts";
export { ConfigError } from "./errors.ts";
export type {
  AuthTokenSpec,
  ClusterState,
  CompactionMode,
  DiscoveryFallback,
  LogLevel,
  Logger,
  ParseResult,
  ProxyMode,
  ServerConfig,
} from "./server-config.ts";
export { type InitialClusterEntry, formatInitialCluster, parseInitialCluster, parseUrlList, toWebUrl, urlString } from "./urls.ts";
export { helpText, versionText, VERSION, API_VERSION } from "./help.ts";
export { FLAGS, flagToEnv, type FlagDef } from "./flags.ts";
export { DEFAULT_QUOTA_BYTES, MAX_ELECTION_MS } from "./build-config.ts";
export { verifyBootstrap, verifyClusterSource } from "./verify-bootstrap.ts";
