import { expect, test } from "bun:test";
import { fails, run } from "./helpers.ts";

test("heartbeat and election timeout rules", () => {
  expect(fails(["--heartbeat-interval=0"])).toBe("--heartbeat-interval must be >0 (set to 0ms)");
  expect(fails(["--election-timeout=0"])).toBe("--election-timeout must be >0 (set to 0ms)");
  expect(fails(["--election-timeout=499"])).toBe(
    "--election-timeout[499ms] should be at least as 5 times as --heartbeat-interval[100ms]",
  );
  expect(run(["--election-timeout=500"]).config.electionMs).toBe(500);
  expect(fails(["--heartbeat-interval=10000", "--election-timeout=50001"])).toBe(
    "--election-timeout[50001ms] is too long, and should be set less than 50000ms",
  );
  expect(run(["--heartbeat-interval=10000", "--election-timeout=50000"]).config.heartbeatMs).toBe(10000);
});

test("URL checks", () => {
  expect(fails(["--listen-peer-urls=http://example.com:2380"])).toBe(
    "expected IP in URL for binding (http://example.com:2380)",
  );
  expect(fails(["--listen-metrics-urls=http://metrics.local:1"])).toBe(
    "expected IP in URL for binding (http://metrics.local:1)",
  );
  expect(fails(["--initial-advertise-peer-urls=http://:2380"])).toBe(
    '--initial-advertise-peer-urls "http://:2380" must be "host:port" (unexpected empty host (http://:2380))',
  );
  expect(fails(["--advertise-client-urls=http://:2379"])).toBe(
    '--advertise-client-urls "http://:2379" must be "host:port" (unexpected empty host (http://:2379))',
  );
  expect(fails(["--listen-client-urls=http://127.0.0.1:1"])).toBe(
    "--advertise-client-urls is required when --listen-client-urls is set explicitly",
  );
  // In proxy mode etcd keeps the default advertise URL.
  expect(
    run(["--listen-client-urls=http://127.0.0.1:1", "--proxy=on"]).config.advertiseClientUrls.map((u) => u.host),
  ).toEqual(["localhost:2379"]);
  expect(fails(["--advertise-client-urls=unix://a"])).toBe(
    'invalid value "unix://a" for flag -advertise-client-urls: URL address does not have the form "host:port": unix://a',
  );
});

test("bootstrap flags conflict", () => {
  const msg =
    'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';
  expect(fails(["--discovery=http://d/x", "--initial-cluster=default=http://localhost:2380"])).toBe(msg);
  expect(fails(["--discovery=http://d/x", "--discovery-srv=example.com"])).toBe(msg);
});

test("initial cluster state, compaction mode and retention", () => {
  expect(fails(["--initial-cluster-state=old"])).toBe('invalid value "old" for flag -initial-cluster-state: invalid value');
  expect(fails(["--auto-compaction-mode=hourly"])).toBe('unknown auto-compaction-mode "hourly"');
  expect(run(["--auto-compaction-retention=1"]).config.autoCompactionRetention).toBe(3600_000);
  expect(run(["--auto-compaction-retention=30m"]).config.autoCompactionRetention).toBe(1800_000);
  expect(run(["--auto-compaction-retention=1.5h"]).config.autoCompactionRetention).toBe(5400_000);
  expect(
    run(["--auto-compaction-mode=revision", "--auto-compaction-retention=1000"]).config.autoCompactionRetention,
  ).toBe(1000);
  expect(fails(["--auto-compaction-retention=soon"])).toBe('error parsing CompactionRetention: time: invalid duration "soon"');
  expect(fails(["--auto-compaction-retention=-1"])).toBe(
    'error parsing CompactionRetention: time: missing unit in duration "-1"',
  );
  expect(fails(["--auto-compaction-mode=revision", "--auto-compaction-retention=1h"])).toBe(
    'error parsing CompactionRetention: revision retention must be a non-negative integer: "1h"',
  );
});

test("logging options", () => {
  expect(fails(["--logger=glog"])).toBe('unknown logger option "glog"');
  expect(fails(["--log-level=trace"])).toBe(
    'unknown log-level "trace" (only supports debug, info, warn, error, panic, or fatal)',
  );
  for (const l of ["debug", "info", "warn", "error", "panic", "fatal"] as const) {
    expect(run([`--log-level=${l}`]).config.logLevel).toBe(l);
  }
  expect(fails(["--log-outputs=stdout,stderr"])).toBe(
    `--logger=capnslog supports only 1 value in '--log-outputs', got ["stderr" "stdout"]`,
  );
  expect(fails(["--log-outputs=/var/log/x"])).toBe(
    'unknown log-output "/var/log/x" (only supports "default", "stderr", "stdout")',
  );
  expect(run(["--logger=zap", "--log-outputs=stderr,/var/log/x"]).config.logOutputs).toEqual(["/var/log/x", "stderr"]);
  expect(fails(["--logger=zap", "--log-outputs=default,stderr"])).toBe(`multi logoutput for "default" is not supported yet`);
  const dbg = run(["--debug"]);
  expect(dbg.config.logLevel).toBe("debug");
  expect(dbg.warnings).toEqual(["'--debug' flag is set to true; use '--log-level=debug' instead"]);
  const old = run(["--log-output=stderr"]);
  expect(old.config.logOutputs).toEqual(["stderr"]);
  expect(old.warnings.length).toBe(1);
});

test("quota, request size, txn ops, snapshot count", () => {
  expect(run(["--quota-backend-bytes=0"]).config.quotaBackendBytes).toBe(2 * 1024 ** 3);
  expect(run(["--quota-backend-bytes=1048576"]).config.quotaBackendBytes).toBe(1048576);
  const big = run([`--quota-backend-bytes=${9 * 1024 ** 3}`]);
  expect(big.warnings).toEqual([`backend quota ${9 * 1024 ** 3} exceeds maximum recommended quota ${8 * 1024 ** 3}`]);
  const neg = run(["--quota-backend-bytes=-1"]);
  expect([neg.config.quotaBackendBytes, neg.warnings]).toEqual([-1, ["disabling backend quota"]]);
  expect(fails(["--quota-backend-bytes=1GB"])).toBe('invalid value "1GB" for flag -quota-backend-bytes: parse error');
  expect(run(["--max-request-bytes=1048576"]).config.maxRequestBytes).toBe(1048576);
  expect(run(["--max-request-bytes=20971520"]).warnings).toEqual([
    "MaxRequestBytes 20971520 exceeds maximum recommended size 10485760",
  ]);
  expect(fails(["--max-request-bytes=big"])).toBe('invalid value "big" for flag -max-request-bytes: parse error');
  expect(run(["--max-txn-ops=64"]).config.maxTxnOps).toBe(64);
  expect(fails(["--max-txn-ops=1.5"])).toBe('invalid value "1.5" for flag -max-txn-ops: parse error');
  expect(run(["--snapshot-count=5000"]).config.snapshotCount).toBe(5000);
  expect(fails(["--snapshot-count=lots"])).toBe('invalid value "lots" for flag -snapshot-count: parse error');
});

test("auth token and bcrypt cost", () => {
  expect(run(["--auth-token=simple"]).config.authTokenSpec).toEqual({ type: "simple" });
  expect(
    run(["--auth-token=jwt,pub-key=/k.pub,priv-key=/k,sign-method=RS256,ttl=10m"]).config.authTokenSpec,
  ).toEqual({ type: "jwt", signMethod: "RS256", pubKey: "/k.pub", privKey: "/k", ttlMs: 600_000 });
  expect(run(["--auth-token=jwt,priv-key=/k,sign-method=HS256"]).config.authTokenSpec).toEqual({
    type: "jwt",
    signMethod: "HS256",
    pubKey: undefined,
    privKey: "/k",
    ttlMs: 300_000,
  });
  expect(fails(["--auth-token=oauth"])).toBe("auth: invalid auth options");
  expect(fails(["--auth-token=jwt,sign-method"])).toBe("auth: invalid auth options");
  expect(fails(["--auth-token=jwt,priv-key=/k,priv-key=/j,sign-method=RS256"])).toBe("auth: invalid auth options");
  expect(fails(["--auth-token=jwt,priv-key=/k,sign-method=RS256,ttl=forever"])).toBe("auth: invalid auth options");
  expect(fails(["--auth-token=jwt,priv-key=/k,sign-method=XX1"])).toBe("auth: invalid auth signature method");
  expect(fails(["--auth-token=jwt,sign-method=RS256"])).toBe("auth: invalid auth options");
  expect(run(["--bcrypt-cost=4"]).config.bcryptCost).toBe(4);
  expect(run(["--bcrypt-cost=31"]).config.bcryptCost).toBe(31);
  for (const bad of ["3", "32"]) {
    const r = run([`--bcrypt-cost=${bad}`]);
    expect(r.config.bcryptCost).toBe(10);
    expect(r.warnings).toEqual([`Use default bcrypt-cost 10 instead of the invalid value ${bad}`]);
  }
  expect(run(["--auth-token-ttl=60"]).config.authTokenTtl).toBe(60);
});

test("cipher suites must be known to etcd", () => {
  expect(fails(["--cipher-suites=TLS_FAKE"])).toBe('unexpected TLS cipher suite "TLS_FAKE"');
});

test("enable-v2 and our extras", () => {
  expect(run(["--enable-v2=true"]).config.enableV2).toBe(true);
  expect(run(["--enable-v2=false"]).config.enableV2).toBe(false);
  expect(run(["--unsafe-no-fsync"]).config.unsafeNoFsync).toBe(true);
  expect(fails(["--experimental-watch-progress-notify-interval=often"])).toBe(
    'invalid value "often" for flag -experimental-watch-progress-notify-interval: parse error',
  );
});
