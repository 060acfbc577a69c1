import { expect, test } from "bun:test";
import { flagToEnv } from "../../src/config/index.ts";
import { fails, hrefs, run } from "./helpers.ts";

test("flag names map to ETCD_* names", () => {
  expect(flagToEnv("ETCD", "initial-advertise-peer-urls")).toBe("ETCD_INITIAL_ADVERTISE_PEER_URLS");
  expect(flagToEnv("CONCLAVE", "name")).toBe("CONCLAVE_NAME");
});

test("ETCD_* variables set every kind of flag", () => {
  const { config: c, warnings } = run([], {
    ETCD_NAME: "env-member",
    ETCD_HEARTBEAT_INTERVAL: "200",
    ETCD_ELECTION_TIMEOUT: "2000",
    ETCD_ENABLE_V2: "true",
    ETCD_LISTEN_CLIENT_URLS: "http://127.0.0.1:3379",
    ETCD_ADVERTISE_CLIENT_URLS: "http://127.0.0.1:3379",
    ETCD_GRPC_KEEPALIVE_TIMEOUT: "3s",
    ETCD_CORS: "http://x",
    PATH: "/usr/bin",
  });
  expect(warnings).toEqual([]);
  expect(c.name).toBe("env-member");
  expect(c.dataDir).toBe("env-member.conclave");
  expect([c.heartbeatMs, c.electionMs, c.enableV2]).toEqual([200, 2000, true]);
  expect(hrefs(c.listenClientUrls)).toEqual(["http://127.0.0.1:3379"]);
  expect(c.grpcKeepaliveTimeoutMs).toBe(3000);
  expect(c.corsOrigins).toEqual(["http://x"]);
});

test("CONCLAVE_* variables work the same way and win over ETCD_*", () => {
  expect(run([], { CONCLAVE_NAME: "c" }).config.name).toBe("c");
  const { config, warnings } = run([], { ETCD_NAME: "e", CONCLAVE_NAME: "c" });
  expect(config.name).toBe("c");
  expect(warnings).toEqual(["recognized environment variable ETCD_NAME, but unused: shadowed by CONCLAVE_NAME"]);
});

test("flags win over env, with etcd's warning", () => {
  const { config, warnings } = run(["--name=flag"], { ETCD_NAME: "env", CONCLAVE_SNAPSHOT_COUNT: "5" });
  expect(config.name).toBe("flag");
  expect(config.snapshotCount).toBe(5);
  expect(warnings).toEqual([
    "recognized environment variable ETCD_NAME, but unused: shadowed by corresponding flag",
  ]);
});

test("unknown ETCD_*/CONCLAVE_* variables are warned about; others are not", () => {
  const { warnings } = run([], { ETCD_NAMEE: "x", CONCLAVE_FOO: "1", ETCDCTL_API: "3", HOME: "/root" });
  expect(warnings).toEqual(["unrecognized environment variable ETCD_NAMEE=x", "unrecognized environment variable CONCLAVE_FOO=1"]);
});

test("empty variables are ignored", () => {
  expect(run([], { ETCD_NAME: "" }).config.name).toBe("default");
});

test("bad env values name the variable", () => {
  expect(fails([], { ETCD_HEARTBEAT_INTERVAL: "abc" })).toBe('invalid value "abc" for ETCD_HEARTBEAT_INTERVAL: parse error');
  expect(fails([], { CONCLAVE_ENABLE_V2: "yes" })).toBe('invalid value "yes" for CONCLAVE_ENABLE_V2: parse error');
  expect(fails([], { ETCD_LISTEN_PEER_URLS: "x" })).toBe(
    'invalid value "x" for ETCD_LISTEN_PEER_URLS: URL scheme must be http, https, unix, or unixs: x',
  );
});

test("env-set listen-client-urls counts as set (advertise required)", () => {
  expect(fails([], { ETCD_LISTEN_CLIENT_URLS: "http://127.0.0.1:1" })).toBe(
    "--advertise-client-urls is required when --listen-client-urls is set explicitly",
  );
});
