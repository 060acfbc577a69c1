// The client port's TLS on one member made from `conclave pki` output: a certificate revoked
// by the CRL is refused (the CRL re-read without a restart), a rotated server certificate is
// served to the next connection without a restart, --cipher-suites limits what is negotiated.
// The same tests run against etcd (E2E_TARGET=etcd), which re-reads certificate and CRL files
// on every handshake too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { errorLine, isEtcd, makeTempDir, memberBinary, pollUntil, removeDir } from "../helpers/index.ts";
import { type ClientCreds, pkiOk, serialHex, TlsCluster, tlsCtl, tlsProbe } from "../helpers/tls.ts";

let dir: string;
let cluster: TlsCluster;
const creds = (user: string): ClientCreds => ({
  cacert: join(dir, "ca.pem"),
  cert: join(dir, `client-${user}.pem`),
  key: join(dir, `client-${user}-key.pem`),
});
const serialOf = (file: string) => serialHex(execFileSync("openssl", ["x509", "-in", file, "-noout", "-serial"], { encoding: "utf8" }).trim());
const SUITES = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305";

beforeAll(async () => {
  dir = makeTempDir("e2e-tls-client");
  pkiOk(["ca", "--dir", dir]);
  pkiOk(["server", "--dir", dir, "--hosts", "127.0.0.1,localhost"]);
  for (const user of ["alice", "bob"]) pkiOk(["client", "--dir", dir, "--cn", user, "--name", `client-${user}`]);
  pkiOk(["crl", "--dir", dir]); // nothing revoked yet
  const flags = [
    `--cert-file=${join(dir, "server.pem")}`, `--key-file=${join(dir, "server-key.pem")}`,
    `--trusted-ca-file=${join(dir, "ca.pem")}`, "--client-cert-auth", `--client-crl-file=${join(dir, "crl.pem")}`,
    `--cipher-suites=${SUITES}`,
  ];
  cluster = await TlsCluster.start([{ name: "c1", flags }], [], "http");
  await cluster.waitHealthy(["c1"], creds("alice"));
}, 60_000);

afterAll(async () => {
  await cluster?.cleanup();
  removeDir(dir);
});

test("a client certificate listed in the CRL is refused from the next connection on; others still work", async () => {
  const m = cluster.member("c1");
  expect((await tlsCtl(m.endpoint, creds("alice"), ["put", "crl-key", "v1"])).stdout).toBe("OK\n");
  pkiOk(["crl", "--dir", dir, "--revoke", join(dir, "client-alice.pem"), "--force"]);
  const refused = await tlsCtl(m.endpoint, creds("alice"), ["--command-timeout=2s", "get", "crl-key"]);
  expect(refused.code).not.toBe(0);
  expect(errorLine(refused)).toBe("Error: context deadline exceeded");
  const bob = await tlsCtl(m.endpoint, creds("bob"), ["get", "crl-key", "--print-value-only"]);
  expect(bob.stdout).toBe("v1\n");
  // (etcd also rejects its own gateway's loopback connection, which presents the server
  // certificate as a client one: look for the CRL rejection itself.)
  const rec = await pollUntil(
    () => m.records().find((r) => r.msg === "rejected connection" && String(r.error).startsWith("transport: certificate serial")),
    5000,
    "CRL rejection logged",
  );
  // Go prints the serial's bytes in hex: an even number of digits.
  const serial = serialOf(join(dir, "client-alice.pem"));
  expect(rec.error).toBe(`transport: certificate serial ${serial.length % 2 === 1 ? `0${serial}` : serial} revoked`);
  expect(m.process.hasExited).toBe(false);
}, 30_000);

test("a replaced server certificate is served to the next connection, without a restart", async () => {
  const m = cluster.member("c1");
  const pid = m.process.pid;
  const before = await tlsProbe(m.clientPort, creds("bob"));
  expect(before.serial).toBe(serialOf(join(dir, "server.pem")));
  pkiOk(["server", "--dir", dir, "--hosts", "127.0.0.1,localhost", "--force"]);
  const rotated = serialOf(join(dir, "server.pem"));
  expect(rotated).not.toBe(before.serial);
  const after = await tlsProbe(m.clientPort, creds("bob"));
  expect(after.serial).toBe(rotated);
  expect((await tlsCtl(m.endpoint, creds("bob"), ["put", "rotated", "yes"])).stdout).toBe("OK\n");
  expect(m.process.pid).toBe(pid);
  expect(m.process.hasExited).toBe(false);
});

// As in etcd 3.4 (Go), the list governs TLS 1.2; TLS 1.3 keeps its own fixed suites.
test("--cipher-suites: over TLS 1.2 a listed suite is negotiated and an unlisted one refused; TLS 1.3 still works", async () => {
  const m = cluster.member("c1");
  const tls12 = { maxVersion: "TLSv1.2" } as const;
  const listed = await tlsProbe(m.clientPort, creds("bob"), { ...tls12, ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" });
  expect(listed).toMatchObject({ protocol: "TLSv1.2", cipher: "ECDHE-ECDSA-AES128-GCM-SHA256" });
  const any12 = await tlsProbe(m.clientPort, creds("bob"), tls12);
  expect(["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"]).toContain(any12.cipher);
  await expect(tlsProbe(m.clientPort, creds("bob"), { ...tls12, ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384" })).rejects.toThrow();
  expect((await tlsProbe(m.clientPort, creds("bob"), { minVersion: "TLSv1.3" })).protocol).toBe("TLSv1.3");
});

test.skipIf(isEtcd())("a cipher suite this build's TLS library cannot negotiate stops the member at start with one line", () => {
  const r = spawnSync(memberBinary(), [
    "--data-dir", join(dir, "rc4.data"), "--listen-client-urls", "https://127.0.0.1:0", "--advertise-client-urls", "https://127.0.0.1:2379",
    "--listen-peer-urls", "http://127.0.0.1:0", `--cert-file=${join(dir, "server.pem")}`, `--key-file=${join(dir, "server-key.pem")}`,
    "--cipher-suites=TLS_RSA_WITH_RC4_128_SHA",
  ], { encoding: "utf8", timeout: 20_000 });
  expect(r.status).toBe(1);
  expect(r.stderr.trim()).toBe("conclave: TLS cipher suite TLS_RSA_WITH_RC4_128_SHA is not available in this build's TLS library");
});
