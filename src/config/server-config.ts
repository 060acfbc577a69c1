// The typed server configuration. Field names are etcd's flag names in camelCase; every
// etcd 3.4 server flag lands in one field. Durations are milliseconds (`...Ms`), sizes bytes.

import type { InitialClusterEntry } from "./urls.ts";

export type ClusterState = "new" | "existing";
export type CompactionMode = "periodic" | "revision";
export type LogLevel = "debug" | "info" | "warn" | "error" | "panic" | "fatal";
export type Logger = "capnslog" | "zap";
export type DiscoveryFallback = "exit" | "proxy";
export type ProxyMode = "off" | "readonly" | "on";

/** --auth-token parsed: `simple`, `jwt,sign-method=RS256,pub-key=...,priv-key=...,ttl=5m`. */
export type AuthTokenSpec =
  | { readonly type: "simple" }
  | { readonly type: "none" }
  | {
      readonly type: "jwt";
      readonly signMethod: string;
      /** Paths of the key files (read by the auth layer, not here). */
      readonly pubKey: string | undefined;
      readonly privKey: string | undefined;
      readonly ttlMs: number;
    };

/** The --discovery-* flags of etcd 3.6's v3 discovery client. */
export interface V3DiscoveryConfig {
  /** Client URLs or host:port of the discovery cluster; empty when not used. */
  readonly endpoints: readonly string[];
  readonly token: string;
  readonly dialTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly insecureTransport: boolean;
  readonly insecureSkipTlsVerify: boolean;
  readonly cert: string;
  readonly key: string;
  readonly cacert: string;
  /** `user` or `user:password`. */
  readonly user: string;
  readonly password: string;
}

export interface ServerConfig {
  /** The --config-file used, "" when flags/env were used. */
  readonly configFile: string;

  // Member
  readonly name: string;
  /** --data-dir; defaults to `${name}.conclave`. */
  readonly dataDir: string;
  /** --wal-dir; "" keeps the log inside dataDir. */
  readonly walDir: string;
  readonly snapshotCount: number;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly initialElectionTickAdvance: boolean;
  readonly listenPeerUrls: readonly URL[];
  readonly listenClientUrls: readonly URL[];
  readonly maxSnapshots: number;
  readonly maxWals: number;
  /** Effective quota: a given 0 becomes 2 GiB; a negative value disables the quota (etcd). */
  readonly quotaBackendBytes: number;
  /** 0 means the backend's own default. */
  readonly backendBatchIntervalMs: number;
  readonly backendBatchLimit: number;
  readonly maxTxnOps: number;
  readonly maxRequestBytes: number;
  readonly maxConcurrentStreams: number;
  readonly grpcKeepaliveMinTimeMs: number;
  readonly grpcKeepaliveIntervalMs: number;
  readonly grpcKeepaliveTimeoutMs: number;
  readonly listenMetricsUrls: readonly URL[];

  // Clustering
  readonly initialAdvertisePeerUrls: readonly URL[];
  /** Empty when bootstrapping through discovery or DNS SRV. */
  readonly initialCluster: readonly InitialClusterEntry[];
  readonly initialClusterState: ClusterState;
  readonly initialClusterToken: string;
  readonly advertiseClientUrls: readonly URL[];
  readonly discovery: string;
  readonly discoveryFallback: DiscoveryFallback;
  readonly discoveryProxy: string;
  readonly discoverySrv: string;
  readonly discoverySrvName: string;
  /** etcd 3.6's v3 discovery (--discovery-endpoints, --discovery-token, ...). */
  readonly v3Discovery: V3DiscoveryConfig;
  readonly strictReconfigCheck: boolean;
  readonly preVote: boolean;
  readonly autoCompactionMode: CompactionMode;
  /** Milliseconds in periodic mode, a revision count in revision mode; 0 disables. */
  readonly autoCompactionRetention: number;
  readonly enableV2: boolean;
  readonly enableGrpcGateway: boolean;

  // Security
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCertAuth: boolean;
  readonly clientCrlFile: string;
  readonly clientCertAllowedHostname: string;
  readonly trustedCaFile: string;
  readonly autoTls: boolean;
  readonly peerCertFile: string;
  readonly peerKeyFile: string;
  readonly peerClientCertAuth: boolean;
  readonly peerTrustedCaFile: string;
  readonly peerCertAllowedCn: string;
  readonly peerCertAllowedHostname: string;
  readonly peerAutoTls: boolean;
  readonly peerCrlFile: string;
  /** Years the --auto-tls / --peer-auto-tls certificates are valid (0 given = 1, as etcd 3.5). */
  readonly selfSignedCertValidity: number;
  /** Go cipher suite names, validated; empty = runtime defaults. */
  readonly cipherSuites: readonly string[];
  /** Allowed CORS origins; empty or containing "*" allows all. */
  readonly corsOrigins: readonly string[];
  /** Allowed Host headers on cleartext listeners; empty or containing "*" allows all. */
  readonly hostWhitelist: readonly string[];

  // Auth
  readonly authToken: string;
  readonly authTokenSpec: AuthTokenSpec;
  readonly bcryptCost: number;
  /** Seconds a simple token lives. */
  readonly authTokenTtl: number;

  // Profiling and monitoring
  readonly enablePprof: boolean;
  readonly metrics: string;
  /** Serve the web dashboard at /ui on the client port (Conclave's own flag; default true). */
  readonly enableDashboard: boolean;

  // Logging
  readonly logger: Logger;
  readonly logOutputs: readonly string[];
  /** --log-level, or "debug" when the deprecated --debug is set. */
  readonly logLevel: LogLevel;
  readonly logPackageLevels: string;

  // v2 proxy (accepted for compatibility; the proxy mode itself is not served)
  readonly proxy: ProxyMode;
  readonly proxyFailureWaitMs: number;
  readonly proxyRefreshIntervalMs: number;
  readonly proxyDialTimeoutMs: number;
  readonly proxyWriteTimeoutMs: number;
  readonly proxyReadTimeoutMs: number;

  // Experimental
  readonly experimentalInitialCorruptCheck: boolean;
  readonly experimentalCorruptCheckTimeMs: number;
  readonly experimentalEnableV2v3: string;
  readonly experimentalBackendBboltFreelistType: string;
  readonly experimentalEnableLeaseCheckpoint: boolean;
  readonly experimentalEnableLeaseCheckpointPersist: boolean;
  readonly experimentalCompactionBatchLimit: number;
  readonly experimentalPeerSkipClientSanVerification: boolean;
  readonly experimentalWatchProgressNotifyIntervalMs: number;
  readonly experimentalWarningApplyDurationMs: number;

  // Unsafe
  readonly forceNewCluster: boolean;
  readonly unsafeNoFsync: boolean;
}

/** What parseServerConfig returns. */
export type ParseResult =
  | { readonly kind: "run"; readonly config: ServerConfig; readonly warnings: readonly string[] }
  | { readonly kind: "version"; readonly text: string }
  | { readonly kind: "help"; readonly text: string };
