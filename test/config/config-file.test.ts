import { expect, test } from "bun:test";
import { fails, hrefs, run } from "./helpers.ts";

const FILE = `
name: 'infra1'
data-dir: /var/lib/infra1
snapshot-count: 10000
heartbeat-interval: 150
election-timeout: 1500
quota-backend-bytes: 4294967296
listen-peer-urls: http://10.0.0.1:2380
listen-client-urls: http://10.0.0.1:2379,http://127.0.0.1:2379
initial-advertise-peer-urls: http://10.0.0.1:2380
advertise-client-urls: http://10.0.0.1:2379
initial-cluster: infra1=http://10.0.0.1:2380,infra2=http://10.0.0.2:2380
initial-cluster-token: 'etcd-cluster-1'
initial-cluster-state: 'new'
strict-reconfig-check: false
enable-v2: true
proxy: 'off'
auto-compaction-mode: revision
auto-compaction-retention: 1000
cors:
cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
log-outputs: [stderr]
logger: zap
grpc-keepalive-min-time: 1000000000
experimental-watch-progress-notify-interval: 2s
unsafe-no-fsync: true
client-transport-security:
  cert-file: /c/server.pem
  key-file: /c/server-key.pem
  client-cert-auth: true
  trusted-ca-file: /c/ca.pem
  auto-tls: false
peer-transport-security:
  cert-file: /c/peer.pem
  key-file: /c/peer-key.pem
  client-cert-auth: true
  trusted-ca-file: /c/peer-ca.pem
  auto-tls: true
  allowed-cn: infra
`;

test("a config file sets values, including nested TLS maps", () => {
  const { config: c, warnings } = run(["--config-file", "/etc/conclave.yml"], {}, { "/etc/conclave.yml": FILE });
  expect(warnings).toEqual([
    'Loading server configuration from "/etc/conclave.yml". Other configuration command line flags and environment variables will be ignored if provided.',
  ]);
  expect(c.configFile).toBe("/etc/conclave.yml");
  expect([c.name, c.dataDir, c.snapshotCount, c.heartbeatMs, c.electionMs]).toEqual([
    "infra1",
    "/var/lib/infra1",
    10000,
    150,
    1500,
  ]);
  expect(c.quotaBackendBytes).toBe(4294967296);
  expect(hrefs(c.listenClientUrls)).toEqual(["http://10.0.0.1:2379", "http://127.0.0.1:2379"]);
  expect(hrefs(c.advertiseClientUrls)).toEqual(["http://10.0.0.1:2379"]);
  expect(c.initialCluster.map((e) => `${e.name}=${e.url.host}`)).toEqual(["infra1=10.0.0.1:2380", "infra2=10.0.0.2:2380"]);
  expect([c.initialClusterToken, c.initialClusterState, c.strictReconfigCheck, c.enableV2]).toEqual([
    "etcd-cluster-1",
    "new",
    false,
    true,
  ]);
  expect([c.autoCompactionMode, c.autoCompactionRetention]).toEqual(["revision", 1000]);
  expect(c.corsOrigins).toEqual(["*"]);
  expect(c.cipherSuites).toEqual(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]);
  expect([c.logger, c.logOutputs]).toEqual(["zap", ["stderr"]]);
  expect(c.grpcKeepaliveMinTimeMs).toBe(1000);
  expect(c.experimentalWatchProgressNotifyIntervalMs).toBe(2000);
  expect(c.unsafeNoFsync).toBe(true);
  expect([c.certFile, c.keyFile, c.clientCertAuth, c.trustedCaFile, c.autoTls]).toEqual([
    "/c/server.pem",
    "/c/server-key.pem",
    true,
    "/c/ca.pem",
    false,
  ]);
  expect([c.peerCertFile, c.peerKeyFile, c.peerClientCertAuth, c.peerTrustedCaFile, c.peerAutoTls]).toEqual([
    "/c/peer.pem",
    "/c/peer-key.pem",
    true,
    "/c/peer-ca.pem",
    true,
  ]);
  expect(c.peerCertAllowedCn).toBe("infra");
});

test("with a config file, other flags and env are ignored", () => {
  const files = { "/f.yml": "name: fromfile\n" };
  const a = run(["--config-file=/f.yml", "--name=flag", "--heartbeat-interval=10"], { ETCD_NAME: "env" }, files);
  expect(a.config.name).toBe("fromfile");
  expect(a.config.heartbeatMs).toBe(100);
  expect(a.warnings.some((w) => w.includes("unused"))).toBe(false);
  const b = run([], { ETCD_CONFIG_FILE: "/f.yml", ETCD_NAME: "env" }, files);
  expect(b.config.name).toBe("fromfile");
  expect(b.config.configFile).toBe("/f.yml");
  expect(run([], { CONCLAVE_CONFIG_FILE: "/f.yml" }, files).config.name).toBe("fromfile");
});

test("file defaults: name-derived data dir and initial cluster, discovery clears it", () => {
  const files = {
    "/a.yml": "name: n1\ninitial-advertise-peer-urls: http://10.0.0.1:2380\n",
    "/b.yml": "name: n1\ndiscovery: http://disc.example/t\n",
    "/c.yml": "",
  };
  const a = run(["--config-file=/a.yml"], {}, files).config;
  expect(a.dataDir).toBe("n1.conclave");
  expect(a.initialCluster.map((e) => `${e.name}=${e.url.host}`)).toEqual(["n1=10.0.0.1:2380"]);
  expect(run(["--config-file=/b.yml"], {}, files).config.initialCluster).toEqual([]);
  expect(run(["--config-file=/c.yml"], {}, files).config.name).toBe("default");
});

test("unknown keys and top-level TLS keys produce warnings", () => {
  const { warnings, config } = run(
    ["--config-file=/f.yml"],
    {},
    { "/f.yml": "nmae: x\ncert-file: /a.pem\nclient-transport-security:\n  foo: 1\n" },
  );
  expect(config.certFile).toBe("");
  expect(warnings.slice(1)).toEqual([
    'unknown config file key "nmae" (ignored)',
    'config file key "cert-file" is ignored; set "cert-file" under "client-transport-security"',
    'unknown config file key "client-transport-security.foo" (ignored)',
  ]);
});

test("config file errors are one line in etcd's style", () => {
  const f = (text: string) => fails(["--config-file=/f.yml"], {}, { "/f.yml": text });
  expect(fails(["--config-file=/missing.yml"])).toBe("open /missing.yml: no such file or directory");
  const bad = f("name: a\n  b: c\n");
  expect(bad.startsWith("error converting YAML to JSON: yaml: line ")).toBe(true);
  expect(bad.includes("\n")).toBe(false);
  expect(f("name: [a\n").startsWith("error converting YAML to JSON: yaml:")).toBe(true);
  expect(f("- a\n- b\n")).toBe(
    "error unmarshaling JSON: json: cannot unmarshal array into Go value of type embed.configYAML",
  );
  expect(f("heartbeat-interval: fast\n")).toBe(
    "error unmarshaling JSON: json: cannot unmarshal string into Go struct field configYAML.heartbeat-interval of type uint",
  );
  expect(f("heartbeat-interval: -1\n")).toBe(
    "error unmarshaling JSON: json: cannot unmarshal number -1 into Go struct field configYAML.heartbeat-interval of type uint",
  );
  expect(f("enable-v2: 'maybe'\n")).toBe(
    "error unmarshaling JSON: json: cannot unmarshal string into Go struct field configYAML.enable-v2 of type bool",
  );
  expect(f("client-transport-security: yes\n")).toBe(
    "error unmarshaling JSON: json: cannot unmarshal string into Go struct field configYAML.client-transport-security of type embed.securityConfig",
  );
  expect(f("listen-peer-urls: 10.0.0.1:2380\n")).toBe(
    'unexpected error setting up listen-peer-urls: parse "10.0.0.1:2380": first path segment in URL cannot contain colon',
  );
  expect(f("initial-cluster-state: old\n")).toBe('unexpected clusterState "old"');
  expect(f("discovery-fallback: retry\n")).toBe("unexpected error setting up discovery-fallback flag: invalid value");
  expect(f("proxy: sometimes\n")).toBe("unexpected error setting up proxy flag: invalid value");
  expect(f("election-timeout: 300\n")).toBe(
    "--election-timeout[300ms] should be at least as 5 times as --heartbeat-interval[100ms]",
  );
  expect(f("grpc-keepalive-timeout: 5x\n")).toBe(
    'invalid value for grpc-keepalive-timeout: time: unknown unit "x" in duration "5x"',
  );
});
