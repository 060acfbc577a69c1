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
  V3DiscoveryConfig,
} from "./server-config.ts";
export { type InitialClusterEntry, formatInitialCluster, parseInitialCluster, parseUrlList, toWebUrl, urlString } from "./urls.ts";
export { parseGoBool, parseGoDuration, ValueError } from "./go-values.ts";
export { helpText, versionText, VERSION, API_VERSION } from "./help.ts";
export { FLAGS, flagToEnv, type FlagDef } from "./flags.ts";
export { DEFAULT_QUOTA_BYTES, MAX_ELECTION_MS } from "./build-config.ts";
export { formatUrlsMap, hasDuplicateUrl, type UrlsMap, verifyBootstrap } from "./verify-bootstrap.ts";
