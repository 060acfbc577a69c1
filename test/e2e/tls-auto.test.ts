// --auto-tls and --peer-auto-tls: three members on https client and peer URLs with nothing but
// self-signed certificates they made themselves (<data-dir>/fixtures/{client,peer}). The peers
// talk (the cluster elects a leader and replicates), etcdctl works with
// --insecure-skip-tls-verify and fails without it. The same test runs against etcd.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { errorLine, isEtcd } from "../helpers/index.ts";
import { TlsCluster, tlsCtl } from "../helpers/tls.ts";

const NAMES = ["t1", "t2", "t3"];
const insecure = { insecureSkipVerify: true };
let cluster: TlsCluster;

beforeAll(async () => {
  cluster = await TlsCluster.start(
    NAMES.map((name) => ({ name, flags: ["--auto-tls", "--peer-auto-tls"] })),
    isEtcd() ? [] : ["--self-signed-cert-validity", "2"],
  );
  await cluster.waitHealthy(NAMES, insecure);
}, 60_000);

afterAll(async () => {
  await cluster?.cleanup();
});

test("peers replicate over self-signed TLS; etcdctl --insecure-skip-tls-verify works, verification without a CA fails", async () => {
  expect((await tlsCtl(cluster.member("t1").endpoint, insecure, ["put", "auto", "tls"])).stdout).toBe("OK\n");
  expect((await tlsCtl(cluster.member("t3").endpoint, insecure, ["get", "auto", "--print-value-only"])).stdout).toBe("tls\n");
  const verified = await tlsCtl(cluster.member("t2").endpoint, { tls: true }, ["--command-timeout=2s", "get", "auto"]);
  expect(verified.code).not.toBe(0);
  expect(errorLine(verified)).toBe("Error: context deadline exceeded");
}, 30_000);

test("the certificates are in fixtures/client and fixtures/peer: O=etcd, SAN = the listen host, key 0600", () => {
  for (const m of cluster.members) {
    for (const side of ["client", "peer"]) {
      const d = join(m.dataDir, "fixtures", side);
      expect(existsSync(join(d, "cert.pem"))).toBe(true);
      expect(statSync(join(d, "key.pem")).mode & 0o777).toBe(0o600);
      const text = execFileSync("openssl", ["x509", "-in", join(d, "cert.pem"), "-noout", "-subject", "-ext", "subjectAltName,extendedKeyUsage", "-enddate"], { encoding: "utf8" });
      expect(text).toContain("O = etcd");
      expect(text).toContain("IP Address:127.0.0.1");
      expect(text).toContain("TLS Web Server Authentication");
      if (!isEtcd()) {
        // --self-signed-cert-validity 2 (etcd 3.5's flag): valid for two years.
        const end = Date.parse(/notAfter=(.*)/.exec(text)![1]!);
        const years = (end - Date.now()) / (365 * 24 * 3600 * 1000);
        expect(years).toBeGreaterThan(1.99);
        expect(years).toBeLessThan(2.01);
      }
    }
  }
});
