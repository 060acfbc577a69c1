// The table of etcd 3.4 server flags: name, value type, default, help group and text.
// Parsing, env mapping, the config file and --help are all driven from this one table so a
// flag cannot exist in one of them and be missing from another.
// How a flag's text becomes its typed value is in flag-values.ts.

import type { GoUrl } from "./urls.ts";

export type FlagType =
  | "string"
  | "bool"
  | "uint"
  | "int"
  | "uint32"
  | "duration" // stored as nanoseconds
  | "urls" // flags.UniqueURLs
  | "strings" // flags.StringsValue: comma list, order kept
  | "unique-strings" // flags.UniqueStringsValue: comma list, sorted, no duplicates
  | "select" // flags.SelectiveStringValue
  | "ignored"; // flags.IgnoredFlag: removed etcd v2 flags, accepted with a warning

export type FlagValue = string | boolean | number | readonly GoUrl[] | readonly string[];

export type HelpGroup =
  | "Member"
  | "Clustering"
  | "Security"
  | "Auth"
  | "Profiling and Monitoring"
  | "Logging"
  | "v2 Proxy (to be deprecated in v4)"
  | "Experimental feature"
  | "Unsafe feature";

/** Where a key lives in the YAML config file. */
export type YamlPlace = "top" | "client-transport-security" | "peer-transport-security" | "none";

export interface FlagDef {
  readonly name: string;
  readonly type: FlagType;
  /** The raw default, written as a user would write the flag value. */
  readonly def: string;
  /** Allowed values of a "select" flag. */
  readonly values?: readonly string[];
  /** Help group; undefined hides the flag from --help (still accepted). */
  readonly group?: HelpGroup;
  /** Default as --help shows it, when it differs from `def`. */
  readonly shownDefault?: string;
  readonly usage?: string;
  readonly yaml: YamlPlace;
  /** The key inside a nested *-transport-security map. */
  readonly yamlKey?: string;
}

const MiB = 1024 * 1024;

function f(
  name: string,
  type: FlagType,
  def: string,
  group: HelpGroup | undefined,
  usage: string,
  extra: Partial<FlagDef> = {},
): FlagDef {
  return { name, type, def, group, usage, yaml: "top", ...extra };
}

const client = (key: string): Partial<FlagDef> => ({ yaml: "client-transport-security", yamlKey: key });
const peer = (key: string): Partial<FlagDef> => ({ yaml: "peer-transport-security", yamlKey: key });

/** Flags etcd 2 had; etcd 3.4 still accepts them and warns. */
export const IGNORED_FLAGS: readonly string[] = [
  "cluster-active-size",
  "cluster-remove-delay",
  "cluster-sync-interval",
  "config",
  "force",
  "max-result-buffer",
  "max-retry-attempts",
  "peer-heartbeat-interval",
  "peer-election-timeout",
  "retry-interval",
  "snapshot",
  "v",
  "vv",
];

export const FLAGS: readonly FlagDef[] = [
  // Member
  f("name", "string", "default", "Member", "Human-readable name for this member."),
  f("data-dir", "string", "", "Member", "Path to the data directory.", { shownDefault: "${name}.conclave" }),
  f("wal-dir", "string", "", "Member", "Path to the dedicated wal directory."),
  f("snapshot-count", "uint", "100000", "Member", "Number of committed transactions to trigger a snapshot to disk."),
  f("heartbeat-interval", "uint", "100", "Member", "Time (in milliseconds) of a heartbeat interval."),
  f(
    "election-timeout",
    "uint",
    "1000",
    "Member",
    "Time (in milliseconds) for an election to timeout. See tuning documentation for details.",
  ),
  f(
    "initial-election-tick-advance",
    "bool",
    "true",
    "Member",
    "Whether to fast-forward initial election ticks on boot for faster election.",
  ),
  f("listen-peer-urls", "urls", "http://localhost:2380", "Member", "List of URLs to listen on for peer traffic."),
  f("listen-client-urls", "urls", "http://localhost:2379", "Member", "List of URLs to listen on for client traffic."),
  f("max-snapshots", "uint", "5", "Member", "Maximum number of snapshot files to retain (0 is unlimited)."),
  f("max-wals", "uint", "5", "Member", "Maximum number of wal files to retain (0 is unlimited)."),
  f(
    "quota-backend-bytes",
    "int",
    "0",
    "Member",
    "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).",
  ),
  f(
    "backend-batch-interval",
    "duration",
    "0s",
    "Member",
    "BackendBatchInterval is the maximum time before commit the backend transaction.",
    { shownDefault: "" },
  ),
  f(
    "backend-batch-limit",
    "int",
    "0",
    "Member",
    "BackendBatchLimit is the maximum operations before commit the backend transaction.",
  ),
  f("max-txn-ops", "uint", "128", "Member", "Maximum number of operations permitted in a transaction."),
  f(
    "max-request-bytes",
    "uint",
    String(1.5 * MiB),
    "Member",
    "Maximum client request size in bytes the server will accept.",
  ),
  f(
    "max-concurrent-streams",
    "uint32",
    "4294967295",
    "Member",
    "Maximum concurrent streams that each client can open at a time.",
    { shownDefault: "math.MaxUint32" },
  ),
  f(
    "grpc-keepalive-min-time",
    "duration",
    "5s",
    "Member",
    "Minimum duration interval that a client should wait before pinging server.",
  ),
  f(
    "grpc-keepalive-interval",
    "duration",
    "2h",
    "Member",
    "Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).",
  ),
  f(
    "grpc-keepalive-timeout",
    "duration",
    "20s",
    "Member",
    "Additional duration of wait before closing a non-responsive connection (0 to disable).",
  ),

  // Clustering
  f(
    "initial-advertise-peer-urls",
    "urls",
    "http://localhost:2380",
    "Clustering",
    "List of this member's peer URLs to advertise to the rest of the cluster.",
  ),
  f("initial-cluster", "string", "", "Clustering", "Initial cluster configuration for bootstrapping.", {
    shownDefault: "default=http://localhost:2380",
  }),
  f("initial-cluster-state", "select", "new", "Clustering", "Initial cluster state ('new' or 'existing').", {
    values: ["new", "existing"],
  }),
  f(
    "initial-cluster-token",
    "string",
    "etcd-cluster",
    "Clustering",
    "Initial cluster token for the etcd cluster during bootstrap.\n" +
      "Specifying this can protect you from unintended cross-cluster interaction when running multiple clusters.",
  ),
  f(
    "advertise-client-urls",
    "urls",
    "http://localhost:2379",
    "Clustering",
    "List of this member's client URLs to advertise to the public.\n" +
      "The client URLs advertised should be accessible to machines that talk to etcd cluster. etcd client libraries parse these URLs to connect to the cluster.",
  ),
  f("discovery", "string", "", "Clustering", "Discovery URL used to bootstrap the cluster."),
  f(
    "discovery-fallback",
    "select",
    "proxy",
    "Clustering",
    "Expected behavior ('exit' or 'proxy') when discovery services fails.\n\"proxy\" supports v2 API only.",
    { values: ["exit", "proxy"] },
  ),
  f("discovery-proxy", "string", "", "Clustering", "HTTP proxy to use for traffic to discovery service."),
  // etcd 3.6's v3 discovery (a 3.6 flag set; 3.4 has only the v2 protocol above).
  f("discovery-endpoints", "unique-strings", "", "Clustering", "V3 discovery: List of gRPC endpoints of the discovery service."),
  f("discovery-token", "string", "", "Clustering", "V3 discovery: discovery token for the etcd cluster to be bootstrapped."),
  f("discovery-dial-timeout", "duration", "2s", "Clustering", "V3 discovery: dial timeout for client connections."),
  f("discovery-request-timeout", "duration", "5s", "Clustering", "V3 discovery: timeout for discovery requests (excluding dial timeout)."),
  f("discovery-keepalive-time", "duration", "2s", "Clustering", "V3 discovery: keepalive time for client connections."),
  f("discovery-keepalive-timeout", "duration", "6s", "Clustering", "V3 discovery: keepalive timeout for client connections."),
  f("discovery-insecure-transport", "bool", "true", "Clustering", "V3 discovery: disable transport security for client connections."),
  f(
    "discovery-insecure-skip-tls-verify",
    "bool",
    "false",
    "Clustering",
    "V3 discovery: skip server certificate verification (CAUTION: this option should be enabled only for testing purposes).",
  ),
  f("discovery-cert", "string", "", "Clustering", "V3 discovery: identify secure client using this TLS certificate file."),
  f("discovery-key", "string", "", "Clustering", "V3 discovery: identify secure client using this TLS key file."),
  f("discovery-cacert", "string", "", "Clustering", "V3 discovery: verify certificates of TLS-enabled secure servers using this CA bundle."),
  f("discovery-user", "string", "", "Clustering", "V3 discovery: username[:password] for authentication (prompt if password is not supplied)."),
  f(
    "discovery-password",
    "string",
    "",
    "Clustering",
    "V3 discovery: password for authentication (if this option is used, --user option shouldn't include password).",
  ),
  f("discovery-srv", "string", "", "Clustering", "DNS srv domain used to bootstrap the cluster."),
  f("discovery-srv-name", "string", "", "Clustering", "Suffix to the dns srv name queried when bootstrapping."),
  f(
    "strict-reconfig-check",
    "bool",
    "true",
    "Clustering",
    "Reject reconfiguration requests that would cause quorum loss.",
  ),
  f("pre-vote", "bool", "false", "Clustering", "Enable to run an additional Raft election phase."),
  f(
    "auto-compaction-retention",
    "string",
    "0",
    "Clustering",
    "Auto compaction retention length. 0 means disable auto compaction.",
  ),
  f(
    "auto-compaction-mode",
    "string",
    "periodic",
    "Clustering",
    "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention.",
  ),
  f("enable-v2", "bool", "false", "Clustering", "Accept etcd V2 client requests."),
  f("enable-grpc-gateway", "bool", "true", undefined, "Enable GRPC gateway."),

  // Security
  f("cert-file", "string", "", "Security", "Path to the client server TLS cert file.", client("cert-file")),
  f("key-file", "string", "", "Security", "Path to the client server TLS key file.", client("key-file")),
  f(
    "client-cert-auth",
    "bool",
    "false",
    "Security",
    "Enable client cert authentication.",
    client("client-cert-auth"),
  ),
  f(
    "client-crl-file",
    "string",
    "",
    "Security",
    "Path to the client certificate revocation list file.",
    client("crl-file"),
  ),
  f(
    "client-cert-allowed-hostname",
    "string",
    "",
    "Security",
    "Allowed TLS hostname for client cert authentication.",
    client("allowed-hostname"),
  ),
  f(
    "trusted-ca-file",
    "string",
    "",
    "Security",
    "Path to the client server TLS trusted CA cert file.",
    client("trusted-ca-file"),
  ),
  f("auto-tls", "bool", "false", "Security", "Client TLS using generated certificates.", client("auto-tls")),
  f("peer-cert-file", "string", "", "Security", "Path to the peer server TLS cert file.", peer("cert-file")),
  f("peer-key-file", "string", "", "Security", "Path to the peer server TLS key file.", peer("key-file")),
  f(
    "peer-client-cert-auth",
    "bool",
    "false",
    "Security",
    "Enable peer client cert authentication.",
    peer("client-cert-auth"),
  ),
  f(
    "peer-trusted-ca-file",
    "string",
    "",
    "Security",
    "Path to the peer server TLS trusted CA file.",
    peer("trusted-ca-file"),
  ),
  f(
    "peer-cert-allowed-cn",
    "string",
    "",
    "Security",
    "Required CN for client certs connecting to the peer endpoint.",
    peer("allowed-cn"),
  ),
  f(
    "peer-cert-allowed-hostname",
    "string",
    "",
    "Security",
    "Allowed TLS hostname for inter peer authentication.",
    peer("allowed-hostname"),
  ),
  f(
    "peer-auto-tls",
    "bool",
    "false",
    "Security",
    "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.",
    peer("auto-tls"),
  ),
  // etcd 3.5's flag (3.4 always made certificates valid for one year).
  f(
    "self-signed-cert-validity",
    "uint",
    "1",
    "Security",
    "The validity period of the client and peer certificates that are automatically generated by etcd when you specify ClientAutoTLS and PeerAutoTLS, the unit is year, and the default is 1.",
  ),
  f(
    "peer-crl-file",
    "string",
    "",
    "Security",
    "Path to the peer certificate revocation list file.",
    peer("crl-file"),
  ),
  f(
    "cipher-suites",
    "strings",
    "",
    "Security",
    "Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).",
  ),
  f(
    "cors",
    "unique-strings",
    "*",
    "Security",
    "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).",
  ),
  f(
    "host-whitelist",
    "unique-strings",
    "*",
    "Security",
    "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all).",
  ),

  // Auth
  f(
    "auth-token",
    "string",
    "simple",
    "Auth",
    "Specify a v3 authentication token type and its options ('simple' or 'jwt').",
  ),
  f(
    "bcrypt-cost",
    "uint",
    "10",
    "Auth",
    "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31.",
  ),
  f("auth-token-ttl", "uint", "300", "Auth", "Time (in seconds) of the auth-token-ttl."),

  // Profiling and Monitoring
  f(
    "enable-pprof",
    "bool",
    "false",
    "Profiling and Monitoring",
    'Enable runtime profiling data via HTTP server. Address is at client URL + "/debug/pprof/"',
  ),
  f(
    "metrics",
    "string",
    "basic",
    "Profiling and Monitoring",
    "Set level of detail for exported metrics, specify 'extensive' to include server side grpc histogram metrics.",
  ),
  f(
    "enable-dashboard",
    "bool",
    "true",
    "Profiling and Monitoring",
    'Serve the web dashboard at client URL + "/ui" (with auth enabled it requires a login).',
  ),
  f(
    "listen-metrics-urls",
    "urls",
    "",
    "Profiling and Monitoring",
    "List of URLs to listen on for the metrics and health endpoints.",
  ),

  // Logging
  f(
    "logger",
    "string",
    "capnslog",
    "Logging",
    "Specify 'zap' for structured logging or 'capnslog'. [WARN] 'capnslog' will be deprecated in v3.5.",
  ),
  f(
    "log-outputs",
    "unique-strings",
    "default",
    "Logging",
    "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets.",
  ),
  f(
    "log-output",
    "unique-strings",
    "default",
    undefined,
    "[TO BE DEPRECATED IN v3.5] use '--log-outputs'.",
  ),
  f(
    "log-level",
    "string",
    "info",
    "Logging",
    "Configures log level. Only supports debug, info, warn, error, panic, or fatal.",
  ),
  f(
    "debug",
    "bool",
    "false",
    "Logging",
    "[TO BE DEPRECATED IN v3.5] Enable debug-level logging for etcd. Use '--log-level=debug' instead.",
  ),
  f(
    "log-package-levels",
    "string",
    "",
    "Logging",
    "[TO BE DEPRECATED IN v3.5] Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG').",
  ),

  // v2 proxy
  f(
    "proxy",
    "select",
    "off",
    "v2 Proxy (to be deprecated in v4)",
    "Proxy mode setting ('off', 'readonly' or 'on').",
    { values: ["off", "readonly", "on"] },
  ),
  f(
    "proxy-failure-wait",
    "uint",
    "5000",
    "v2 Proxy (to be deprecated in v4)",
    "Time (in milliseconds) an endpoint will be held in a failed state.",
  ),
  f(
    "proxy-refresh-interval",
    "uint",
    "30000",
    "v2 Proxy (to be deprecated in v4)",
    "Time (in milliseconds) of the endpoints refresh interval.",
  ),
  f(
    "proxy-dial-timeout",
    "uint",
    "1000",
    "v2 Proxy (to be deprecated in v4)",
    "Time (in milliseconds) for a dial to timeout.",
  ),
  f(
    "proxy-write-timeout",
    "uint",
    "5000",
    "v2 Proxy (to be deprecated in v4)",
    "Time (in milliseconds) for a write to timeout.",
  ),
  f(
    "proxy-read-timeout",
    "uint",
    "0",
    "v2 Proxy (to be deprecated in v4)",
    "Time (in milliseconds) for a read to timeout.",
  ),

  // Experimental
  f(
    "experimental-initial-corrupt-check",
    "bool",
    "false",
    "Experimental feature",
    "Enable to check data corruption before serving any client/peer traffic.",
  ),
  f(
    "experimental-corrupt-check-time",
    "duration",
    "0s",
    "Experimental feature",
    "Duration of time between cluster corruption check passes.",
  ),
  f(
    "experimental-enable-v2v3",
    "string",
    "",
    "Experimental feature",
    "Serve v2 requests through the v3 backend under a given prefix.",
  ),
  f(
    "experimental-backend-bbolt-freelist-type",
    "string",
    "array",
    "Experimental feature",
    "ExperimentalBackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types).",
  ),
  f(
    "experimental-enable-lease-checkpoint",
    "bool",
    "false",
    "Experimental feature",
    "ExperimentalEnableLeaseCheckpoint enables primary lessor to persist lease remainingTTL to prevent indefinite auto-renewal of long lived leases.",
  ),
  f(
    "experimental-enable-lease-checkpoint-persist",
    "bool",
    "false",
    "Experimental feature",
    "Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases. Always enabled in v3.6. Should be used to ensure smooth upgrade from v3.5 clusters with this feature enabled.",
  ),
  f(
    "experimental-compaction-batch-limit",
    "int",
    "1000",
    "Experimental feature",
    "ExperimentalCompactionBatchLimit sets the maximum revisions deleted in each compaction batch.",
  ),
  f(
    "experimental-peer-skip-client-san-verification",
    "bool",
    "false",
    "Experimental feature",
    "Skip verification of SAN field in client certificate for peer connections.",
  ),
  f(
    "experimental-watch-progress-notify-interval",
    "duration",
    "10m",
    "Experimental feature",
    "Duration of periodical watch progress notification.",
  ),
  f(
    "experimental-warning-apply-duration",
    "duration",
    "100ms",
    "Experimental feature",
    "Warning is generated if requests take more than this duration.",
  ),

  // Unsafe
  f("force-new-cluster", "bool", "false", "Unsafe feature", "Force to create a new one-member cluster."),
  f("unsafe-no-fsync", "bool", "false", "Unsafe feature", "Disables fsync, unsafe, will cause data loss."),

  // Handled before everything else; not config-file keys.
  f("config-file", "string", "", undefined, "Path to the server configuration file.", { yaml: "none" }),
  f("version", "bool", "false", undefined, "Print the version and exit.", { yaml: "none" }),

  ...IGNORED_FLAGS.map((name) => f(name, "ignored", "", undefined, "", { yaml: "none" })),
];

export const FLAG_BY_NAME: ReadonlyMap<string, FlagDef> = new Map(FLAGS.map((d) => [d.name, d]));

/** `--foo-bar` → `ETCD_FOO_BAR` (flags.FlagToEnv). */
export function flagToEnv(prefix: string, name: string): string {
  return `${prefix}_${name.toUpperCase().replaceAll("-", "_")}`;
}
