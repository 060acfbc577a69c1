// The peer port refuses a member whose certificate comes from another CA, or whose CN is not
// --peer-cert-allowed-cn, and says so in a "rejected connection" log line; the two members whose
// certificates pass form the quorum and serve. The same test runs against etcd.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { makeTempDir, pollUntil, removeDir } from "../helpers/index.ts";
import { type ClientCreds, pkiOk, TlsCluster, type TlsMember } from "../helpers/tls.ts";

let dir: string;
const clusters: TlsCluster[] = [];

beforeAll(() => {
  dir = makeTempDir("e2e-peer-refusal");
  for (const ca of ["good", "other"]) pkiOk(["ca", "--dir", join(dir, ca)]);
  pkiOk(["server", "--dir", join(dir, "good"), "--hosts", "127.0.0.1"]);
});

afterAll(async () => {
  for (const c of clusters) await c.cleanup();
  removeDir(dir);
});

/** A peer certificate for 127.0.0.1 issued by `ca`, written as DIR/<stem>.pem. */
function peerCert(ca: string, stem: string, cn: string): { cert: string; key: string } {
  pkiOk(["peer", "--dir", join(dir, ca), "--name", stem, "--cn", cn, "--hosts", "127.0.0.1"]);
  return { cert: join(dir, ca, `${stem}.pem`), key: join(dir, ca, `${stem}-key.pem`) };
}

function peerFlags(files: { cert: string; key: string }, extra: string[] = []): string[] {
  return [
    `--peer-cert-file=${files.cert}`, `--peer-key-file=${files.key}`,
    `--peer-trusted-ca-file=${join(dir, "good", "ca.pem")}`, "--peer-client-cert-auth",
    // Clients use a server certificate of the good CA; the client port is not under test.
    `--cert-file=${join(dir, "good", "server.pem")}`, `--key-file=${join(dir, "good", "server-key.pem")}`,
    ...extra,
  ];
}

const clientCreds = (): ClientCreds => ({ cacert: join(dir, "good", "ca.pem") });

/** The first "rejected connection" record a member logged (zap). */
function rejection(m: TlsMember): Promise<Record<string, unknown>> {
  return pollUntil(() => m.records().find((r) => r.msg === "rejected connection"), 15_000, `a rejected connection logged by ${m.name}`, 100);
}

test("a member with a certificate from another CA is refused; the other two serve", async () => {
  const c = await TlsCluster.start([
    { name: "a1", flags: peerFlags(peerCert("good", "a1", "a1")) },
    { name: "a2", flags: peerFlags(peerCert("good", "a2", "a2")) },
    // Trusts the good CA (so it could verify the others) but presents the other CA's certificate.
    { name: "a3", flags: peerFlags(peerCert("other", "a3", "a3")) },
  ]);
  clusters.push(c);
  await c.waitHealthy(["a1", "a2"], clientCreds());
  const r = await rejection(c.member("a1"));
  expect(String(r["remote-addr"])).toStartWith("127.0.0.1:");
  // Go's text, which ours follows: "tls: failed to verify client certificate: x509: certificate
  // signed by unknown authority" (etcd adds why the candidate authority did not verify).
  expect(String(r.error)).toStartWith("tls: failed to verify client certificate: x509: certificate signed by unknown authority");
  // a3 never joined: it has no leader to serve a linearizable read.
  const health = await fetchHealth(c.member("a3"));
  expect(health).not.toBe('{"health":"true"}');
}, 60_000);

test("a member whose CN is not --peer-cert-allowed-cn is refused with etcd's reason; allowed CNs form the cluster", async () => {
  const allowed = ["--peer-cert-allowed-cn=etcd-peer"];
  const c = await TlsCluster.start([
    { name: "b1", flags: peerFlags(peerCert("good", "b1", "etcd-peer"), allowed) },
    { name: "b2", flags: peerFlags(peerCert("good", "b2", "etcd-peer"), allowed) },
    { name: "b3", flags: peerFlags(peerCert("good", "b3", "intruder"), allowed) },
  ]);
  clusters.push(c);
  await c.waitHealthy(["b1", "b2"], clientCreds());
  const r = await rejection(c.member("b1"));
  expect(r.error).toBe("client certificate authentication failed");
  expect(String(r["remote-addr"])).toStartWith("127.0.0.1:");
  expect(r["ip-addresses"]).toEqual(["127.0.0.1"]);
  // Only b3 is refused: b1 and b2 log no rejection of each other's certificate (CN etcd-peer).
  const health = await fetchHealth(c.member("b3"));
  expect(health).not.toBe('{"health":"true"}');
}, 60_000);

async function fetchHealth(m: TlsMember): Promise<string> {
  const { httpsGet } = await import("../helpers/tls.ts");
  try {
    const res = await httpsGet(`${m.endpoint}/health`, clientCreds(), 5000);
    return res.body.trim();
  } catch (e) {
    return String(e);
  }
}
