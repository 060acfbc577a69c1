// Server-side SRV lookup rules (etcd's srv.GetCluster / GetDNSClusterNames) with a scripted
// resolver: self-matching by resolved address and port, "0", "1", … for the others (counted
// per record type), merged https + http lists, skipped unresolvable targets, error texts.
import { expect, test } from "bun:test";
import { type Resolver, srvClusterNames, type SrvRecord } from "../../src/bootstrap/index.ts";

function resolver(records: Record<string, SrvRecord[]>, hosts: Record<string, string>): Resolver {
  return {
    async srv(service, domain) {
      const name = `_${service}._tcp.${domain}`;
      const r = records[name];
      if (r === undefined) throw new Error(`lookup ${name}: no such host`);
      return r;
    },
    async address(host) {
      if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return host;
      const a = hosts[host];
      if (a === undefined) throw new Error(`lookup ${host}: no such host`);
      return a;
    },
  };
}

const rec = (name: string, port: number): SrvRecord => ({ name, port, priority: 0, weight: 0 });
const silent = { info() {}, warn() {}, error() {} };
const hosts = { "a.ex.test": "10.0.0.1", "b.ex.test": "10.0.0.2", "c.ex.test": "10.0.0.3" };

test("this member is found by address and port; the others are numbered per record type", async () => {
  const r = await srvClusterNames({
    name: "me",
    domain: "ex.test",
    serviceName: "",
    advertisePeerUrls: ["http://10.0.0.2:2380"],
    resolver: resolver(
      {
        "_etcd-server._tcp.ex.test": [rec("a.ex.test", 2380), rec("b.ex.test", 2380), rec("b.ex.test", 2381), rec("c.ex.test", 2380)],
        "_etcd-server-ssl._tcp.ex.test": [rec("c.ex.test", 2390)],
      },
      hosts,
    ),
    logger: silent,
  });
  expect(r.pairs).toEqual([
    "0=https://c.ex.test:2390",
    "0=http://a.ex.test:2380",
    "me=http://b.ex.test:2380",
    "1=http://b.ex.test:2381",
    "2=http://c.ex.test:2380",
  ]);
  expect(r.hasHttps).toBe(true);
});

test("a suffix names _etcd-server-<name>; unresolvable targets are skipped; trailing dots dropped", async () => {
  const r = await srvClusterNames({
    name: "me",
    domain: "ex.test",
    serviceName: "blue",
    advertisePeerUrls: ["http://a.ex.test:2380"],
    resolver: resolver({ "_etcd-server-blue._tcp.ex.test": [rec("gone.ex.test", 2380), rec("a.ex.test.", 2380)] }, { ...hosts, "a.ex.test.": "10.0.0.1" }),
    logger: silent,
  });
  expect(r.pairs).toEqual(["me=http://a.ex.test:2380"]);
  expect(r.hasHttps).toBe(false);
});

test("errors: nothing found, a scheme mismatch for this member, an unresolvable own URL", async () => {
  const run = (records: Record<string, SrvRecord[]>, ap = "http://10.0.0.1:2380") =>
    srvClusterNames({ name: "me", domain: "ex.test", serviceName: "", advertisePeerUrls: [ap], resolver: resolver(records, hosts), logger: silent }).catch((e: Error) => e.message);
  expect(await run({})).toBe(
    "error querying DNS SRV records for _etcd-server-ssl lookup _etcd-server-ssl._tcp.ex.test: no such host; " +
      "error querying DNS SRV records for _etcd-server lookup _etcd-server._tcp.ex.test: no such host",
  );
  expect(await run({ "_etcd-server-ssl._tcp.ex.test": [rec("a.ex.test", 2380)] })).toContain(
    "bootstrap at https://a.ex.test:2380 from DNS for etcd-server-ssl has scheme mismatch with expected peer http://10.0.0.1:2380",
  );
  expect(await run({ "_etcd-server._tcp.ex.test": [rec("a.ex.test", 2380)] }, "http://nowhere.ex.test:2380")).toContain("lookup nowhere.ex.test: no such host");
});
