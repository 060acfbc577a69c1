import { expect, test } from "bun:test";
import { DEFAULT_QUOTA_BYTES, FLAGS, parseServerConfig } from "../../src/config/index.ts";
import { fails, hrefs, run } from "./helpers.ts";

test("defaults match etcd 3.4, with our data dir name", () => {
  const { config: c, warnings } = run([]);
  expect(warnings).toEqual([]);
  expect(c.name).toBe("default");
  expect(c.dataDir).toBe("default.conclave");
  expect(c.walDir).toBe("");
  expect(c.snapshotCount).toBe(100000);
  expect(c.heartbeatMs).toBe(100);
  expect(c.electionMs).toBe(1000);
  expect(c.initialElectionTickAdvance).toBe(true);
  expect(hrefs(c.listenClientUrls)).toEqual(["http://localhost:2379"]);
  expect(hrefs(c.advertiseClientUrls)).toEqual(["http://localhost:2379"]);
  expect(hrefs(c.listenPeerUrls)).toEqual(["http://localhost:2380"]);
  expect(hrefs(c.initialAdvertisePeerUrls)).toEqual(["http://localhost:2380"]);
  expect(c.initialCluster.map((e) => `${e.name}=${e.url.host}`)).toEqual(["default=localhost:2380"]);
  expect(c.initialClusterState).toBe("new");
  expect(c.initialClusterToken).toBe("etcd-cluster");
  expect(c.maxSnapshots).toBe(5);
  expect(c.maxWals).toBe(5);
  expect(c.quotaBackendBytes).toBe(DEFAULT_QUOTA_BYTES);
  expect(c.quotaBackendBytes).toBe(2 * 1024 ** 3);
  expect(c.maxTxnOps).toBe(128);
  expect(c.maxRequestBytes).toBe(1572864);
  expect(c.maxConcurrentStreams).toBe(4294967295);
  expect(c.grpcKeepaliveMinTimeMs).toBe(5000);
  expect(c.grpcKeepaliveIntervalMs).toBe(2 * 3600_000);
  expect(c.grpcKeepaliveTimeoutMs).toBe(20000);
  expect(c.listenMetricsUrls).toEqual([]);
  expect(c.discovery).toBe("");
  expect(c.discoveryFallback).toBe("proxy");
  expect(c.strictReconfigCheck).toBe(true);
  expect(c.preVote).toBe(false);
  expect(c.autoCompactionMode).toBe("periodic");
  expect(c.autoCompactionRetention).toBe(0);
  expect(c.enableV2).toBe(false);
  expect(c.enableGrpcGateway).toBe(true);
  expect(c.clientCertAuth).toBe(false);
  expect(c.autoTls).toBe(false);
  expect(c.corsOrigins).toEqual(["*"]);
  expect(c.hostWhitelist).toEqual(["*"]);
  expect(c.cipherSuites).toEqual([]);
  expect(c.authToken).toBe("simple");
  expect(c.authTokenSpec).toEqual({ type: "simple" });
  expect(c.bcryptCost).toBe(10);
  expect(c.authTokenTtl).toBe(300);
  expect(c.enablePprof).toBe(false);
  expect(c.metrics).toBe("basic");
  expect(c.logger).toBe("capnslog");
  expect(c.logOutputs).toEqual(["default"]);
  expect(c.logLevel).toBe("info");
  expect(c.proxy).toBe("off");
  expect(c.experimentalWatchProgressNotifyIntervalMs).toBe(600_000);
  expect(c.experimentalWarningApplyDurationMs).toBe(100);
  expect(c.experimentalCompactionBatchLimit).toBe(1000);
  expect(c.experimentalBackendBboltFreelistType).toBe("array");
  expect(c.forceNewCluster).toBe(false);
  expect(c.unsafeNoFsync).toBe(false);
  expect(c.configFile).toBe("");
});

// The §10 list of etcd 3.4.23 server flags: each must be accepted.
const ETCD_FLAGS = `name data-dir wal-dir snapshot-count heartbeat-interval election-timeout
initial-election-tick-advance listen-peer-urls listen-client-urls max-snapshots max-wals
quota-backend-bytes backend-batch-interval backend-batch-limit max-txn-ops max-request-bytes
max-concurrent-streams grpc-keepalive-min-time grpc-keepalive-interval grpc-keepalive-timeout
listen-metrics-urls initial-advertise-peer-urls initial-cluster initial-cluster-state
initial-cluster-token advertise-client-urls discovery discovery-fallback discovery-proxy
discovery-srv discovery-srv-name strict-reconfig-check pre-vote auto-compaction-retention
auto-compaction-mode enable-v2 enable-grpc-gateway cert-file key-file client-cert-auth
client-crl-file client-cert-allowed-hostname trusted-ca-file auto-tls peer-cert-file peer-key-file
peer-client-cert-auth peer-trusted-ca-file peer-cert-allowed-cn peer-cert-allowed-hostname
peer-auto-tls peer-crl-file cipher-suites cors host-whitelist auth-token bcrypt-cost auth-token-ttl
enable-pprof metrics logger log-outputs log-level debug log-package-levels log-output proxy
proxy-failure-wait proxy-refresh-interval proxy-dial-timeout proxy-write-timeout proxy-read-timeout
experimental-initial-corrupt-check experimental-corrupt-check-time experimental-enable-v2v3
experimental-backend-bbolt-freelist-type experimental-enable-lease-checkpoint
experimental-enable-lease-checkpoint-persist experimental-compaction-batch-limit
experimental-peer-skip-client-san-verification experimental-watch-progress-notify-interval
experimental-warning-apply-duration force-new-cluster unsafe-no-fsync config-file version`
  .split(/\s+/)
  .filter(Boolean);

test("every etcd 3.4 server flag is in the table", () => {
  const names = new Set(FLAGS.map((d) => d.name));
  expect(ETCD_FLAGS.filter((n) => !names.has(n))).toEqual([]);
});

test("every flag's default is accepted when given explicitly", () => {
  for (const d of FLAGS) {
    if (["version", "config-file", "initial-cluster", "listen-client-urls"].includes(d.name)) continue;
    if (d.type === "ignored") continue;
    const r = parseServerConfig([`--${d.name}=${d.def}`], {}, () => "");
    expect(r.kind).toBe("run");
  }
});

test("Go flag syntax: --flag=value, --flag value, -flag, bare bools", () => {
  expect(run(["--name=a"]).config.name).toBe("a");
  expect(run(["--name", "b"]).config.name).toBe("b");
  expect(run(["-name", "c"]).config.name).toBe("c");
  expect(run(["-name=d"]).config.name).toBe("d");
  expect(run(["--name", "a", "--name", "e"]).config.name).toBe("e");
  expect(run(["--enable-v2"]).config.enableV2).toBe(true);
  expect(run(["-enable-v2"]).config.enableV2).toBe(true);
  expect(run(["--enable-v2=false"]).config.enableV2).toBe(false);
  expect(run(["--strict-reconfig-check=0"]).config.strictReconfigCheck).toBe(false);
  // A bool flag never consumes the next argument: "false" is then a stray argument.
  expect(fails(["--enable-v2", "false"])).toBe("'false' is not a valid flag");
  // "--" ends flags; what follows is a stray argument.
  expect(fails(["--", "--name=x"])).toBe("'--name=x' is not a valid flag");
  // A value may start with a dash when given as the next argument.
  expect(run(["--wal-dir", "-w"]).config.walDir).toBe("-w");
});

test("flag syntax errors carry Go's texts", () => {
  expect(fails(["--foo"])).toBe("flag provided but not defined: -foo");
  expect(fails(["-foo=1"])).toBe("flag provided but not defined: -foo");
  expect(fails(["--name"])).toBe("flag needs an argument: -name");
  expect(fails(["---name=x"])).toBe("bad flag syntax: ---name=x");
  expect(fails(["-=x"])).toBe("bad flag syntax: -=x");
  expect(fails(["--enable-v2=yes"])).toBe('invalid boolean value "yes" for -enable-v2: parse error');
  expect(fails(["serve"])).toBe("'serve' is not a valid flag");
});

test("each value type parses and rejects like Go", () => {
  // uint
  expect(run(["--snapshot-count=0x100"]).config.snapshotCount).toBe(256);
  expect(fails(["--heartbeat-interval", "abc"])).toBe('invalid value "abc" for flag -heartbeat-interval: parse error');
  expect(fails(["--max-txn-ops=-1"])).toBe('invalid value "-1" for flag -max-txn-ops: parse error');
  // int (signed)
  expect(run(["--backend-batch-limit=-1"]).config.backendBatchLimit).toBe(-1);
  expect(run(["--quota-backend-bytes=1024"]).config.quotaBackendBytes).toBe(1024);
  // uint32
  expect(run(["--max-concurrent-streams=10"]).config.maxConcurrentStreams).toBe(10);
  expect(fails(["--max-concurrent-streams=4294967296"])).toBe(
    'invalid value "4294967296" for flag -max-concurrent-streams: strconv.ParseUint: parsing "4294967296": value out of range',
  );
  // duration
  expect(run(["--grpc-keepalive-min-time=1m30s"]).config.grpcKeepaliveMinTimeMs).toBe(90_000);
  expect(run(["--experimental-watch-progress-notify-interval=250ms"]).config.experimentalWatchProgressNotifyIntervalMs).toBe(250);
  expect(run(["--backend-batch-interval=10ms"]).config.backendBatchIntervalMs).toBe(10);
  expect(fails(["--grpc-keepalive-timeout=5"])).toBe('invalid value "5" for flag -grpc-keepalive-timeout: parse error');
  // bool
  expect(run(["--unsafe-no-fsync"]).config.unsafeNoFsync).toBe(true);
  expect(run(["--force-new-cluster=true"]).config.forceNewCluster).toBe(true);
  expect(run(["--pre-vote"]).config.preVote).toBe(true);
  // URL lists: sorted, duplicates dropped, empty allowed
  const c = run([
    "--listen-client-urls=http://127.0.0.2:2379,http://127.0.0.1:2379,http://127.0.0.1:2379",
    "--advertise-client-urls=http://b.example:2379,https://a.example:2379",
    "--listen-metrics-urls=http://127.0.0.1:9000",
  ]).config;
  expect(hrefs(c.listenClientUrls)).toEqual(["http://127.0.0.1:2379", "http://127.0.0.2:2379"]);
  expect(hrefs(c.advertiseClientUrls)).toEqual(["http://b.example:2379", "https://a.example:2379"]);
  expect(hrefs(c.listenMetricsUrls)).toEqual(["http://127.0.0.1:9000"]);
  expect(run(["--advertise-client-urls="]).config.advertiseClientUrls).toEqual([]);
  expect(fails(["--listen-peer-urls=ftp://127.0.0.1:1"])).toBe(
    'invalid value "ftp://127.0.0.1:1" for flag -listen-peer-urls: URL scheme must be http, https, unix, or unixs: ftp://127.0.0.1:1',
  );
  // comma lists
  expect(run(["--cors=http://b,http://a,http://a"]).config.corsOrigins).toEqual(["http://a", "http://b"]);
  expect(run(["--host-whitelist="]).config.hostWhitelist).toEqual([]);
  expect(run(["--log-outputs=stderr"]).config.logOutputs).toEqual(["stderr"]);
  expect(
    run(["--cipher-suites=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]).config
      .cipherSuites,
  ).toEqual(["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]);
  // select
  expect(run(["--initial-cluster-state=existing"]).config.initialClusterState).toBe("existing");
  expect(run(["--discovery-fallback=exit"]).config.discoveryFallback).toBe("exit");
  expect(fails(["--proxy=maybe"])).toBe('invalid value "maybe" for flag -proxy: invalid value');
  // plain strings
  const s = run([
    "--cert-file=c.pem",
    "--key-file=k.pem",
    "--trusted-ca-file=ca.pem",
    "--client-cert-auth",
    "--peer-cert-file=pc.pem",
    "--peer-key-file=pk.pem",
    "--peer-trusted-ca-file=pca.pem",
    "--peer-client-cert-auth",
    "--peer-auto-tls",
    "--auto-tls",
    "--peer-cert-allowed-cn=member",
    "--client-crl-file=crl",
    "--initial-cluster-token=tok",
    "--wal-dir=/w",
    "--data-dir=/d",
    "--discovery-proxy=http://proxy:1",
    "--metrics=extensive",
    "--experimental-backend-bbolt-freelist-type=map",
  ]).config;
  expect([s.certFile, s.keyFile, s.trustedCaFile, s.clientCertAuth]).toEqual(["c.pem", "k.pem", "ca.pem", true]);
  expect([s.peerCertFile, s.peerKeyFile, s.peerTrustedCaFile, s.peerClientCertAuth]).toEqual([
    "pc.pem",
    "pk.pem",
    "pca.pem",
    true,
  ]);
  expect([s.peerAutoTls, s.autoTls, s.peerCertAllowedCn, s.clientCrlFile]).toEqual([true, true, "member", "crl"]);
  expect([s.initialClusterToken, s.walDir, s.dataDir, s.discoveryProxy]).toEqual(["tok", "/w", "/d", "http://proxy:1"]);
  expect([s.metrics, s.experimentalBackendBboltFreelistType]).toEqual(["extensive", "map"]);
});

test("etcd 3.4's experimental flags: accepted with their effect, always on, warned about, or refused", () => {
  const c = run(["--experimental-watch-progress-notify-interval=2s", "--experimental-compaction-batch-limit=10"]);
  expect(c.warnings).toEqual([]);
  expect([c.config.experimentalWatchProgressNotifyIntervalMs, c.config.experimentalCompactionBatchLimit]).toEqual([2000, 10]);
  expect(run(["--experimental-enable-lease-checkpoint", "--experimental-enable-lease-checkpoint-persist"]).warnings).toEqual([]);
  // Set to their defaults, the flags without effect say nothing.
  expect(run(["--experimental-initial-corrupt-check=false", "--experimental-warning-apply-duration=100ms"]).warnings).toEqual([]);
  expect(run(["--experimental-initial-corrupt-check", "--experimental-corrupt-check-time=5m"]).warnings).toEqual([
    "--experimental-initial-corrupt-check has no effect: the cross-member hash check at start is not built (WAL records are CRC-checked when read)",
    "--experimental-corrupt-check-time has no effect: the periodic cross-member hash check is not built",
  ]);
  expect(run(["--experimental-warning-apply-duration=1s"]).warnings[0]).toStartWith("--experimental-warning-apply-duration has no effect");
  expect(fails(["--experimental-enable-v2v3=/v2"])).toBe("--experimental-enable-v2v3 is not supported: the v2 API is not available in this build");
});

test("removed etcd 2 flags are accepted with a warning", () => {
  const { warnings } = run(["-peer-heartbeat-interval", "--name=x"]);
  expect(warnings).toEqual(['flag "-peer-heartbeat-interval" is no longer supported - ignoring.']);
});

test("derived defaults: data dir and initial cluster follow the name and peer URLs", () => {
  const c = run([
    "--name=n1",
    "--initial-advertise-peer-urls=http://10.0.0.2:2380,http://10.0.0.1:2380",
  ]).config;
  expect(c.dataDir).toBe("n1.conclave");
  expect(c.initialCluster.map((e) => `${e.name}=${e.url.host}`)).toEqual(["n1=10.0.0.1:2380", "n1=10.0.0.2:2380"]);
  // An explicit --data-dir "" still means the default, as in etcd.
  expect(run(["--name=n2", "--data-dir="]).config.dataDir).toBe("n2.conclave");
  // Discovery replaces the default initial cluster.
  expect(run(["--discovery=http://disc.example/abc"]).config.initialCluster).toEqual([]);
  expect(run(["--discovery-srv=example.com"]).config.initialCluster).toEqual([]);
});

test("an explicit initial cluster is parsed; a name may have several URLs", () => {
  const c = run([
    "--name=a",
    "--initial-cluster=a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,a=http://10.0.0.9:2380",
  ]).config;
  expect(c.initialCluster.map((e) => `${e.name}=${e.url.host}`)).toEqual([
    "a=10.0.0.1:2380",
    "a=10.0.0.9:2380",
    "b=10.0.0.2:2380",
  ]);
  expect(fails(["--initial-cluster=a=10.0.0.1:2380"])).toBe(
    'parse "10.0.0.1:2380": first path segment in URL cannot contain colon',
  );
});

// etcd 3.5's flag (3.4 has none): years the auto-TLS certificates are valid; 0 means 1 as in 3.5.
test("--self-signed-cert-validity: default 1, 0 taken as 1, a negative number refused", () => {
  expect(run([]).config.selfSignedCertValidity).toBe(1);
  expect(run(["--self-signed-cert-validity=0"]).config.selfSignedCertValidity).toBe(1);
  expect(run(["--self-signed-cert-validity", "3"]).config.selfSignedCertValidity).toBe(3);
  expect(fails(["--self-signed-cert-validity=-1"])).toBe('invalid value "-1" for flag -self-signed-cert-validity: parse error');
});
