// The discovery flags in the member's configuration: etcd 3.6's v3 discovery flags and the
// rules that tie them together and to the other bootstrap sources.
import { expect, test } from "bun:test";
import { fails, run } from "../config/helpers.ts";

test("v3 discovery flags: defaults and values", () => {
  const d = run([]).config.v3Discovery;
  expect(d).toEqual({
    endpoints: [],
    token: "",
    dialTimeoutMs: 2000,
    requestTimeoutMs: 5000,
    keepAliveTimeMs: 2000,
    keepAliveTimeoutMs: 6000,
    insecureTransport: true,
    insecureSkipTlsVerify: false,
    cert: "",
    key: "",
    cacert: "",
    user: "",
    password: "",
  });
  const c = run(["--discovery-endpoints=http://10.0.0.1:2379,10.0.0.2:2379", "--discovery-token=abc", "--discovery-dial-timeout=1s", "--name=n1"]).config;
  expect(c.v3Discovery.endpoints).toEqual(["10.0.0.2:2379", "http://10.0.0.1:2379"]);
  expect(c.v3Discovery.dialTimeoutMs).toBe(1000);
  // The initial cluster is not defaulted to this member alone when discovery finds it.
  expect(c.initialCluster).toEqual([]);
});

test("etcd 3.6's checks: one bootstrap source, token with endpoints, no v2+v3 mix, no empty endpoint", () => {
  const conflict = 'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';
  expect(fails(["--discovery-endpoints=e:1", "--discovery-token=t", "--discovery-srv=example.com"])).toBe(conflict);
  expect(fails(["--discovery-endpoints=e:1", "--discovery-token=t", "--initial-cluster=default=http://localhost:2380"])).toBe(conflict);
  expect(fails(["--discovery-token=t"])).toBe("both --discovery-token and --discovery-endpoints must be set");
  expect(fails(["--discovery-endpoints=e:1"])).toBe("both --discovery-token and --discovery-endpoints must be set");
  expect(fails(["--discovery-endpoints=e:1,,e:2", "--discovery-token=t"])).toBe("--discovery-endpoints must not contain empty endpoints");
  expect(fails(["--discovery-proxy=http://p:3128", "--discovery-token=t", "--discovery-endpoints=e:1"])).toBe(
    "both v2 discovery settings (discovery, discovery-proxy) and v3 discovery settings (discovery-token, discovery-endpoints, discovery-cert, discovery-key, discovery-cacert, discovery-user, discovery-password) are set",
  );
  expect(fails(["--discovery=http://d/x", "--discovery-cacert=ca.pem"])).toContain("both v2 discovery settings");
});
