// The options around discovery that carry security or routing: a discovery cluster with TLS
// and auth on (real etcd 3.4 serving https, a root user, auth enabled), used as the `--etcd`
// store of `conclave discovery` and as the cluster of v3 discovery; and --discovery-proxy,
// the HTTP proxy a member's discovery traffic goes through.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BootMember, dataDirIn, DiscoveryService, ETCD_BIN, listPublished } from "../helpers/bootstrap.ts";
import { computeMemberId, freePorts, hexId, isEtcd, LineProcess, makeTempDir, memberBinary, pollUntil, removeDir, runEtcdctl } from "../helpers/index.ts";
import { makeCertificates } from "../helpers/srv-lab.ts";

let root: string;
let etcd: LineProcess | undefined;
let endpoint = "";
let certs: ReturnType<typeof makeCertificates>;
const PASSWORD = "s3cret-pw";

/** etcdctl over TLS as root. */
const ctl = (...args: string[]) => runEtcdctl(endpoint, ["--cacert", certs.ca, "--user", `root:${PASSWORD}`, ...args]);

beforeAll(async () => {
  root = makeTempDir("e2e-discsec");
  certs = makeCertificates(`${root}/certs`, "localhost", [{ name: "localhost", ip: "127.0.0.1" }]);
  const [client, peer] = await freePorts(2);
  endpoint = `https://127.0.0.1:${client}`;
  etcd = new LineProcess(ETCD_BIN, [
    "--data-dir", `${root}/etcd.data`,
    "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
    "--listen-peer-urls", `http://127.0.0.1:${peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peer}`,
    "--initial-cluster", `default=http://127.0.0.1:${peer}`,
    "--cert-file", certs.cert("localhost"), "--key-file", certs.key("localhost"),
  ]);
  await pollUntil(async () => ((await runEtcdctl(endpoint, ["--cacert", certs.ca, "endpoint", "health"])).code === 0 ? true : undefined), 20_000, "etcd over TLS healthy", 100);
  for (const args of [["user", "add", `root:${PASSWORD}`], ["auth", "enable"]]) {
    const r = await runEtcdctl(endpoint, ["--cacert", certs.ca, ...args]);
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(" ")}: ${r.stderr}`);
  }
}, 40_000);

afterAll(async () => {
  await etcd?.kill();
  if (root) removeDir(root);
});

async function single(name: string, bootstrap: string[], bin = memberBinary()): Promise<BootMember> {
  const m = await BootMember.create({ name, bootstrap, dataDir: dataDirIn(root, name), bin });
  m.spawn();
  try {
    await m.waitHealthy(30_000);
  } catch (e) {
    await m.kill();
    throw e;
  }
  return m;
}

test.skipIf(isEtcd())("conclave discovery keeps its tokens in an etcd cluster over TLS with auth (--etcd-cacert, --etcd-user)", async () => {
  // the service is ours; the backing cluster is etcd on both targets
  const noAuth = await DiscoveryService.start(dataDirIn(root, "noauth"), ["--etcd", endpoint, "--etcd-cacert", certs.ca]).catch((e: Error) => e);
  // Without credentials the store is refused at start: one clear line, not a crash later.
  expect(noAuth).toBeInstanceOf(Error);
  expect((noAuth as Error).message).toMatch(/conclave discovery: .*user name is empty/);

  const svc = await DiscoveryService.start(dataDirIn(root, "auth"), ["--etcd", endpoint, "--etcd-cacert", certs.ca, "--etcd-user", `root:${PASSWORD}`]);
  try {
    const token = await svc.newToken(1);
    const m = await single("sec1", ["--discovery", token]);
    try {
      const [listed] = await listPublished(m.endpoint, 1);
      expect(hexId(listed!.id)).toBe(hexId(computeMemberId([m.peerURL], token)));
      // The registration is in etcd, readable only with the credentials.
      const path = new URL(token).pathname;
      const got = await ctl("get", `/conclave-discovery/tokens${path}/${hexId(listed!.id)}`, "--print-value-only");
      expect([got.code, got.stdout]).toEqual([0, `sec1=${m.peerURL}\n`]);
      const anon = await runEtcdctl(endpoint, ["--cacert", certs.ca, "get", `/conclave-discovery/tokens${path}/_config/size`]);
      expect(anon.stderr).toContain("user name is empty");
    } finally {
      await m.kill();
    }
  } finally {
    await svc.kill();
  }
}, 60_000);

test.skipIf(isEtcd())("v3 discovery against an etcd cluster over TLS with auth (--discovery-cacert, --discovery-user)", async () => {
  // etcd 3.4 members have no v3 discovery
  const token = "secure-v3-token";
  expect((await ctl("put", `/_etcd/registry/${token}/_config/size`, "1")).code).toBe(0);
  const flags = ["--discovery-endpoints", endpoint, "--discovery-token", token, "--discovery-cacert", certs.ca, "--discovery-insecure-transport=false"];
  // A wrong password: the member keeps retrying with backoff and says why, once per attempt.
  const wrong = await BootMember.create({ name: "v3bad", bootstrap: [...flags, "--discovery-user", "root:nope"], dataDir: dataDirIn(root, "v3bad") });
  wrong.spawn();
  try {
    await wrong.process.lineMatching(/retry connecting to discovery service: cluster status check, retrying in 2s \(.*authentication failed/, 20_000);
  } finally {
    await wrong.kill();
  }
  const m = await single("v3sec", [...flags, "--discovery-user", "root", "--discovery-password", PASSWORD]);
  try {
    const [listed] = await listPublished(m.endpoint, 1);
    expect(hexId(listed!.id)).toBe(hexId(computeMemberId([m.peerURL], token)));
    const got = await ctl("get", `/_etcd/registry/${token}/members/${hexId(listed!.id)}`, "--print-value-only");
    expect(got.stdout).toBe(`v3sec=${m.peerURL}\n`);
  } finally {
    await m.kill();
  }
}, 60_000);

test("--discovery-proxy: every discovery request goes through the given HTTP proxy", async () => {
  const svc = await DiscoveryService.start(dataDirIn(root, "proxied"));
  const seen: string[] = [];
  // A forwarding proxy for absolute-URI requests (what an HTTP proxy receives for http:// URLs).
  const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? "/");
    const up = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    const token = await svc.newToken(1);
    const m = await single("px1", ["--discovery", token, "--discovery-proxy", proxyUrl]);
    await m.kill();
    const path = new URL(token).pathname;
    // Size, listing, registration, confirmation: all through the proxy, as absolute URIs.
    expect(seen.some((l) => l.startsWith(`GET ${token}/_config/size?`))).toBe(true);
    expect(seen.some((l) => l.startsWith(`PUT ${token}/`) && l.includes("prevExist=false"))).toBe(true);
    expect(seen.every((l) => l.includes(path))).toBe(true);
  } finally {
    proxy.close();
    await svc.kill();
  }
}, 60_000);
