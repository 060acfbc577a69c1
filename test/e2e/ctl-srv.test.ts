// `conclave ctl -d/--discovery-srv`, `--discovery-srv-name`, `--insecure-discovery` against a
// real dnsmasq in a network namespace (test/helpers/srv-lab.ts), compared with Debian's etcdctl
// run with the same arguments in the same namespace: endpoints from `_etcd-client._tcp`, the
// https records of a named service checked against the domain (a certificate naming only the
// domain, not the host), http records dropped with etcdctl's line under
// --insecure-discovery=false, a domain without records, and ETCDCTL_DISCOVERY_SRV.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { BootMember, dataDirIn } from "../helpers/bootstrap.ts";
import { CONCLAVE_CTL_BIN, normalize, runProgram } from "../helpers/conclave-ctl.ts";
import { ETCDCTL_BIN, makeTempDir, memberBinary, removeDir } from "../helpers/index.ts";
import { makeCertificates, SrvLab } from "../helpers/srv-lab.ts";

const DOMAIN = "ctl.test";
let lab: SrvLab;
let root: string;
let certs: ReturnType<typeof makeCertificates>;
const members: BootMember[] = [];

const host = (i: number) => `m${i + 1}.${DOMAIN}`;

beforeAll(async () => {
  const why = SrvLab.available();
  if (why !== undefined) throw new Error(`SRV tests ${why}`);
  lab = SrvLab.create(2);
  root = makeTempDir("e2e-ctl-srv");
  // The TLS member's certificate names the domain and its address, not its host name: only a
  // client that checks it against the domain (--insecure-discovery=false) accepts it.
  certs = makeCertificates(`${root}/certs`, DOMAIN, [{ name: host(1), ip: lab.addresses[1]! }], true);
  await lab.serve(DOMAIN, { [host(0)]: lab.addresses[0]!, [host(1)]: lab.addresses[1]! }, [
    { name: `_etcd-client._tcp.${DOMAIN}`, target: host(0), port: 2379 },
    { name: `_etcd-client-ssl-blue._tcp.${DOMAIN}`, target: host(1), port: 2379 },
  ]);
  const plain = await BootMember.create({
    name: "plain",
    bootstrap: ["--initial-cluster", `plain=http://${lab.addresses[0]}:2380`],
    dataDir: dataDirIn(root, "plain"),
    bin: memberBinary(),
    clientHost: lab.addresses[0]!,
    peerHost: lab.addresses[0]!,
    wrap: lab.wrap,
    ports: { client: 2379, peer: 2380 },
  });
  const secure = await BootMember.create({
    name: "secure",
    bootstrap: ["--initial-cluster", `secure=http://${lab.addresses[1]}:2380`],
    dataDir: dataDirIn(root, "secure"),
    bin: memberBinary(),
    clientHost: lab.addresses[1]!,
    peerHost: lab.addresses[1]!,
    wrap: lab.wrap,
    scheme: "https",
    peerScheme: "http",
    ports: { client: 2379, peer: 2380 },
    extraArgs: ["--cert-file", certs.cert(host(1)), "--key-file", certs.key(host(1))],
  });
  members.push(plain, secure);
  for (const m of members) m.spawn();
  // The test process reaches the namespace's addresses over the veth link.
  await plain.waitHealthy(40_000);
  const ca = readFileSync(certs.ca, "utf8");
  await secure.waitHealthy(40_000, async () => (await fetch(`${secure.clientURL}/health`, { signal: AbortSignal.timeout(2000), tls: { ca, checkServerIdentity: () => undefined } } as RequestInit)).text());
}, 90_000);

afterAll(async () => {
  await Promise.all(members.map((m) => m.kill()));
  lab?.cleanup();
  if (root) removeDir(root);
});

/** Runs etcdctl and conclave ctl inside the namespace with the same arguments. */
async function both(args: string[], env: Record<string, string> = {}) {
  const inNs = (bin: string[]) => runProgram("ip", ["netns", "exec", lab.ns, ...bin, ...args], { env, timeoutMs: 30_000 });
  const a = await inNs([ETCDCTL_BIN]);
  const b = await inNs([CONCLAVE_CTL_BIN, "ctl"]);
  return { etcdctl: a, ours: b };
}

function expectSame(r: Awaited<ReturnType<typeof both>>, label: string): void {
  const view = (x: { stdout: string; stderr: string; code: number }) => ({ label, stdout: normalize(x.stdout), stderr: normalize(x.stderr), code: x.code });
  expect(view(r.ours)).toEqual(view(r.etcdctl));
}

test("-d <domain>: endpoints from _etcd-client._tcp; put and get as etcdctl", async () => {
  const put = await both(["-d", DOMAIN, "put", "srv/k", "v1"]);
  expectSame(put, "put");
  expect(put.ours.stdout).toBe("OK\n");
  const get = await both(["--discovery-srv", DOMAIN, "get", "srv/k"]);
  expectSame(get, "get");
  expect(get.ours.stdout).toBe("srv/k\nv1\n");
  // The variable works as the flag does.
  const viaEnv = await both(["get", "srv/k", "--print-value-only"], { ETCDCTL_DISCOVERY_SRV: DOMAIN });
  expectSame(viaEnv, "env");
  expect(viaEnv.ours.stdout).toBe("v1\n");
}, 60_000);

test("--discovery-srv-name with --insecure-discovery=false: https records, the certificate checked against the domain", async () => {
  const ca = `--cacert=${certs.ca}`;
  const put = await both(["-d", DOMAIN, "--discovery-srv-name", "blue", "--insecure-discovery=false", ca, "put", "srv/tls", "yes"]);
  expectSame(put, "put over TLS");
  expect(put.ours.stdout).toBe("OK\n");
  const get = await both(["-d", DOMAIN, "--discovery-srv-name=blue", "--insecure-discovery=false", ca, "get", "srv/tls", "--print-value-only"]);
  expect(get.ours.stdout).toBe("yes\n");
  expectSame(get, "get over TLS");
  // With --insecure-discovery (the default) the host name is checked, which the certificate
  // does not hold: both refuse (the handshake error texts are each TLS library's own).
  const byHost = await both(["-d", DOMAIN, "--discovery-srv-name=blue", ca, "--dial-timeout=1s", "--command-timeout=2s", "get", "srv/tls"]);
  expect(byHost.ours.code).toBe(byHost.etcdctl.code);
  expect(byHost.ours.code).not.toBe(0);
}, 60_000);

test("--insecure-discovery=false drops http records with etcdctl's line; with none left, --endpoints, still checked against the domain", async () => {
  const r = await both(["-d", DOMAIN, "--insecure-discovery=false", `--cacert=${certs.ca}`, "--endpoints", `${lab.addresses[1]}:2379`, "get", "srv/tls", "--print-value-only"]);
  expectSame(r, "fallback");
  expect(r.ours.stderr).toBe(`ignoring discovered insecure endpoint "http://${host(0)}.:2379"\n`);
  expect(r.ours.stdout).toBe("yes\n");
  // The domain is the name checked even for a listed endpoint: the plain member's cleartext
  // port does not speak TLS, so both fail the same way.
  const plain = await both(["-d", DOMAIN, "--insecure-discovery=false", "--endpoints", `${lab.addresses[0]}:2379`, "--dial-timeout=500ms", "--command-timeout=1s", "get", "srv/k"]);
  expect({ code: plain.ours.code, err: normalize(plain.ours.stderr) }).toEqual({ code: plain.etcdctl.code, err: normalize(plain.etcdctl.stderr) });
  expect(plain.ours.code).not.toBe(0);
}, 60_000);

test("a domain without records: etcdctl's 'dns lookup errors' line and exit code", async () => {
  const r = await both(["-d", "nothing.ctl.test", "get", "k"]);
  // Go names the DNS server that answered ("lookup X on 127.0.0.1:53: no such host"); node:dns
  // does not say which server answered, so the library leaves it out.
  r.etcdctl.stderr = r.etcdctl.stderr.replace(/ on 127\.0\.0\.1:53:/g, ":");
  expectSame(r, "no records");
  expect(r.ours.code).toBe(1);
  expect(r.ours.stderr).toMatch(/^Error: dns lookup errors: lookup _etcd-client-ssl\._tcp\.nothing\.ctl\.test.* and lookup _etcd-client\._tcp\.nothing\.ctl\.test/);
}, 60_000);
