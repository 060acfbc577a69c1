// A 3-member cluster with TLS on the client and peer ports whose every file came from
// `conclave pki cluster`, started with the flags it printed; Debian's etcdctl with
// --cacert/--cert/--key against it; `openssl verify` accepts every certificate. Run against
// etcd (E2E_TARGET=etcd) the same certificates and flags drive real etcd.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { errorLine, makeTempDir, removeDir } from "../helpers/index.ts";
import { type ClientCreds, pkiOk, printedMemberFlags, serialHex, TlsCluster, tlsCtl, tlsProbe } from "../helpers/tls.ts";

const serialOf = (file: string) => serialHex(execFileSync("openssl", ["x509", "-in", file, "-noout", "-serial"], { encoding: "utf8" }).trim());

const NAMES = ["m1", "m2", "m3"];
let dir: string;
let printed: string;
let cluster: TlsCluster;
let root: ClientCreds;

beforeAll(async () => {
  dir = makeTempDir("e2e-pki");
  printed = pkiOk(["cluster", "--dir", join(dir, "pki"), ...NAMES.flatMap((n) => ["--member", `${n}=127.0.0.1,localhost`]), "--client", "root", "--client", "alice"]);
  const pk = join(dir, "pki");
  root = { cacert: join(pk, "ca.pem"), cert: join(pk, "client-root.pem"), key: join(pk, "client-root-key.pem") };
  cluster = await TlsCluster.start(NAMES.map((name) => ({ name, flags: printedMemberFlags(printed, name) })));
  await cluster.waitHealthy(NAMES, root);
}, 60_000);

afterAll(async () => {
  await cluster?.cleanup();
  removeDir(dir);
});

test("pki cluster writes cfssl's file names, keys 0600, and openssl verify accepts every certificate", () => {
  const pk = join(dir, "pki");
  const certs = ["ca.pem", "client-root.pem", "client-alice.pem", ...NAMES.flatMap((n) => [`${n}/server.pem`, `${n}/peer.pem`])];
  const keys = ["ca-key.pem", "client-root-key.pem", "client-alice-key.pem", ...NAMES.flatMap((n) => [`${n}/server-key.pem`, `${n}/peer-key.pem`])];
  for (const k of keys) expect({ k, mode: statSync(join(pk, k)).mode & 0o777 }).toEqual({ k, mode: 0o600 });
  const out = execFileSync("openssl", ["verify", "-CAfile", join(pk, "ca.pem"), ...certs.slice(1).map((c) => join(pk, c))], { encoding: "utf8" });
  expect(out.trim().split("\n")).toEqual(certs.slice(1).map((c) => `${join(pk, c)}: OK`));
  // Purposes as the cfssl profiles: server = server auth, client = client auth, peer = both.
  const purpose = (file: string, p: string) =>
    execFileSync("openssl", ["verify", "-purpose", p, "-CAfile", join(pk, "ca.pem"), join(pk, file)], { encoding: "utf8", stdio: "pipe" }).trim();
  expect(purpose("m1/peer.pem", "sslclient")).toEndWith(": OK");
  expect(purpose("m1/peer.pem", "sslserver")).toEndWith(": OK");
  expect(purpose("m1/server.pem", "sslserver")).toEndWith(": OK");
  expect(purpose("client-alice.pem", "sslclient")).toEndWith(": OK");
  expect(() => purpose("client-alice.pem", "sslserver")).toThrow();
  expect(() => purpose("m1/server.pem", "sslclient")).toThrow();
  const text = execFileSync("openssl", ["x509", "-in", join(pk, "m2/server.pem"), "-noout", "-subject", "-ext", "subjectAltName"], { encoding: "utf8" });
  expect(text).toContain("CN = m2");
  expect(text).toContain("IP Address:127.0.0.1, DNS:localhost");
});

test("etcdctl with --cacert/--cert/--key writes through one member and reads from another", async () => {
  const put = await tlsCtl(cluster.member("m1").endpoint, root, ["put", "tls-key", "over-tls"]);
  expect(put.stdout).toBe("OK\n");
  const get = await tlsCtl(cluster.member("m3").endpoint, root, ["get", "tls-key"]);
  expect(get.stdout).toBe("tls-key\nover-tls\n");
  const list = await tlsCtl(cluster.endpoints(), root, ["member", "list", "-w", "json"]);
  const members = (JSON.parse(list.stdout) as { members: Array<{ name: string; peerURLs: string[]; clientURLs: string[] }> }).members;
  expect(members.map((m) => m.name).sort()).toEqual(NAMES);
  for (const m of members) {
    expect(m.peerURLs[0]).toStartWith("https://127.0.0.1:");
    expect(m.clientURLs[0]).toStartWith("https://127.0.0.1:");
  }
  const health = await tlsCtl(cluster.endpoints(), root, ["endpoint", "health"]);
  expect(health.code).toBe(0);
  expect(health.stderr.split("\n").filter((l) => l.includes("is healthy")).length).toBe(3);
});

test("a client with another user's certificate from the same CA is served; one without a certificate is refused", async () => {
  const pk = join(dir, "pki");
  const alice = await tlsCtl(cluster.member("m2").endpoint, { cacert: root.cacert, cert: join(pk, "client-alice.pem"), key: join(pk, "client-alice-key.pem") }, ["get", "tls-key"]);
  expect(alice.stdout).toBe("tls-key\nover-tls\n");
  const bare = await tlsCtl(cluster.member("m2").endpoint, { cacert: root.cacert }, ["--command-timeout=2s", "get", "tls-key"]);
  expect(bare.code).not.toBe(0);
  expect(errorLine(bare)).toBe("Error: context deadline exceeded");
  // Without the CA, the client cannot verify the member's certificate.
  const noCa = await tlsCtl(cluster.member("m2").endpoint, { cert: root.cert, key: root.key }, ["--command-timeout=2s", "get", "tls-key"]);
  expect(noCa.code).not.toBe(0);
}, 40_000);

test("a member's rotated peer certificate is served to the next peer connection; the cluster keeps replicating", async () => {
  const pk = join(dir, "pki");
  const m1 = cluster.member("m1");
  const asM2 = { cert: join(pk, "m2", "peer.pem"), key: join(pk, "m2", "peer-key.pem") };
  const before = await tlsProbe(m1.peerPort, asM2);
  expect(before.serial).toBe(serialOf(join(pk, "m1", "peer.pem")));
  pkiOk([
    "peer", "--dir", join(pk, "m1"), "--name", "peer", "--cn", "m1", "--hosts", "127.0.0.1,localhost",
    "--ca", join(pk, "ca.pem"), "--ca-key", join(pk, "ca-key.pem"), "--force",
  ]);
  const after = await tlsProbe(m1.peerPort, asM2);
  expect(after.serial).toBe(serialOf(join(pk, "m1", "peer.pem")));
  expect(after.serial).not.toBe(before.serial);
  expect((await tlsCtl(cluster.member("m2").endpoint, root, ["put", "after-rotation", "1"])).stdout).toBe("OK\n");
  expect((await tlsCtl(m1.endpoint, root, ["get", "after-rotation", "--print-value-only", "--consistency=s"])).stdout).toBe("1\n");
});
