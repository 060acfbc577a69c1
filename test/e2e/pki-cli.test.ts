// `conclave pki` on the compiled binary: each command's files and usages, --help, and bad input
// (unknown flags, bad hosts, unusable directories, a CA key that is not the CA's): one line on
// stderr, a non-zero exit, nothing written. Our binary only (etcd has no certificate maker).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, removeDir } from "../helpers/index.ts";
import { pki, pkiOk } from "../helpers/tls.ts";

let dir: string;
beforeAll(() => {
  dir = makeTempDir("e2e-pki-cli");
});
afterAll(() => removeDir(dir));

const openssl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8" });

function oneLineError(r: { code: number | null; stdout: string; stderr: string }, code: number, text: string | RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: "" });
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  if (typeof text === "string") expect(lines[0]).toBe(text);
  else expect(lines[0]).toMatch(text);
}

test("ca, server, peer, client: cfssl's names, usages, SANs as each host parses, RSA on request", () => {
  const d = join(dir, "each");
  pkiOk(["ca", "--dir", d, "--cn", "Test CA"]);
  pkiOk(["server", "--dir", d, "--hosts", "10.0.0.7,db.example.com", "--hosts", "::1"]);
  pkiOk(["peer", "--dir", d, "--name", "member1", "--cn", "member1", "--hosts", "127.0.0.1", "--key-algo", "rsa"]);
  pkiOk(["client", "--dir", d, "--cn", "alice"]);
  expect(readdirSync(d).sort()).toEqual(["ca-key.pem", "ca.pem", "client-key.pem", "client.pem", "member1-key.pem", "member1.pem", "server-key.pem", "server.pem"]);
  for (const k of ["ca-key.pem", "client-key.pem", "member1-key.pem", "server-key.pem"]) expect(statSync(join(d, k)).mode & 0o777).toBe(0o600);
  expect(readFileSync(join(d, "server-key.pem"), "utf8")).toStartWith("-----BEGIN EC PRIVATE KEY-----");
  expect(readFileSync(join(d, "member1-key.pem"), "utf8")).toStartWith("-----BEGIN RSA PRIVATE KEY-----");
  const server = openssl("x509", "-in", join(d, "server.pem"), "-noout", "-subject", "-issuer", "-ext", "subjectAltName,keyUsage,extendedKeyUsage,basicConstraints");
  expect(server).toContain("subject=CN = 10.0.0.7");
  expect(server).toContain("issuer=CN = Test CA");
  expect(server).toContain("IP Address:10.0.0.7, DNS:db.example.com, IP Address:0:0:0:0:0:0:0:1");
  expect(server).toContain("Digital Signature, Key Encipherment");
  expect(server).toContain("TLS Web Server Authentication");
  expect(server).not.toContain("Client Authentication");
  expect(server).toContain("CA:FALSE");
  const peer = openssl("x509", "-in", join(d, "member1.pem"), "-noout", "-text");
  expect(peer).toContain("Public-Key: (2048 bit)");
  expect(peer).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
  const client = openssl("x509", "-in", join(d, "client.pem"), "-noout", "-subject", "-ext", "extendedKeyUsage");
  expect(client).toContain("subject=CN = alice");
  expect(client).toContain("TLS Web Client Authentication");
  const ca = openssl("x509", "-in", join(d, "ca.pem"), "-noout", "-ext", "basicConstraints,keyUsage");
  expect(ca).toContain("CA:TRUE");
  expect(ca).toContain("Certificate Sign, CRL Sign");
  expect(openssl("verify", "-CAfile", join(d, "ca.pem"), join(d, "server.pem"), join(d, "member1.pem"), join(d, "client.pem"))).toBe(
    `${join(d, "server.pem")}: OK\n${join(d, "member1.pem")}: OK\n${join(d, "client.pem")}: OK\n`,
  );
});

test("inspect prints subject, SANs, usages and expiry; and a CRL's entries", () => {
  const d = join(dir, "inspect");
  pkiOk(["ca", "--dir", d]);
  pkiOk(["peer", "--dir", d, "--hosts", "127.0.0.1,localhost", "--expiry", "720h"]);
  const out = pkiOk(["inspect", join(d, "peer.pem")]);
  expect(out).toContain("subject:       CN=127.0.0.1\n");
  expect(out).toContain("issuer:        CN=conclave-ca\n");
  expect(out).toContain("CA:            no\n");
  expect(out).toContain("key:           ECDSA P-256\n");
  expect(out).toContain("key usage:     digital signature, key encipherment\n");
  expect(out).toContain("ext key usage: server auth, client auth\n");
  expect(out).toContain("SANs:          IP:127.0.0.1, DNS:localhost\n");
  expect(out).toMatch(/not after: {5}\S+ \(expires in 30 days\)\n/);
  const serial = /serial: +([0-9a-f]+)/.exec(out)![1]!;
  pkiOk(["crl", "--dir", d, "--revoke", join(d, "peer.pem")]);
  const crl = pkiOk(["inspect", join(d, "crl.pem")]);
  expect(crl).toContain("CRL issuer:    CN=conclave-ca\n");
  expect(crl).toContain(`revoked:       ${serial}\n`);
  expect(openssl("crl", "-in", join(d, "crl.pem"), "-noout", "-text")).toContain(`Serial Number: ${serial.toUpperCase()}`);
});

test("--help for each command exits 0 and names its flags", () => {
  for (const [cmd, flag] of [["ca", "--cn"], ["server", "--hosts"], ["peer", "--hosts"], ["client", "--cn"], ["cluster", "--member"], ["crl", "--revoke"], ["inspect", "FILE"]]) {
    const r = pki([cmd!, "--help"]);
    expect({ cmd, code: r.code }).toEqual({ cmd, code: 0 });
    expect(r.stdout).toContain(`Usage: conclave pki ${cmd}`);
    expect(r.stdout).toContain(flag!);
  }
  const top = pki(["--help"]);
  expect(top.code).toBe(0);
  expect(top.stdout).toContain("cluster   a CA and every certificate of a cluster");
});

test("bad command lines: one line, exit 2, nothing written", () => {
  const d = join(dir, "bad");
  oneLineError(pki(["ca", "--dir", d, "--bogus"]), 2, "conclave pki ca: unknown flag: --bogus (see conclave pki ca --help)");
  oneLineError(pki(["frobnicate"]), 2, 'conclave pki: unknown command "frobnicate" (commands: ca, server, peer, client, cluster, crl, inspect)');
  oneLineError(pki(["cluster", "--dir", d, "--member", "m1=127.0.0.1,bad host"]), 2, 'conclave pki cluster: invalid host "bad host": not an IP address or a DNS name');
  oneLineError(pki(["cluster", "--dir", d, "--member", "m1"]), 2, 'conclave pki cluster: invalid --member "m1": want NAME=HOST[,HOST...]');
  oneLineError(pki(["cluster", "--dir", d, "--member", "../x=127.0.0.1"]), 2, /^conclave pki cluster: invalid member name "\.\.\/x"/);
  oneLineError(pki(["cluster", "--dir", d]), 2, "conclave pki cluster: at least one --member NAME=HOST[,HOST...] is required");
  oneLineError(pki(["cluster", "--member", "m1=127.0.0.1"]), 2, "conclave pki cluster: --dir is required");
  oneLineError(pki(["ca", "--dir", d, "--key-algo", "dsa"]), 2, 'conclave pki ca: invalid key algorithm "dsa" (ecdsa or rsa)');
  oneLineError(pki(["ca", "--dir", d, "--key-size", "1024", "--key-algo", "rsa"]), 2, "conclave pki ca: invalid rsa key size 1024 (2048 to 8192, a multiple of 8)");
  oneLineError(pki(["ca", "--dir", d, "--expiry", "10 years"]), 2, /^conclave pki ca: invalid duration "10 years"/);
  oneLineError(pki(["server", "--dir", d]), 2, "conclave pki server: --hosts is required: a server certificate names the addresses it is reached at");
  oneLineError(pki(["client", "--dir", d]), 2, "conclave pki client: --cn is required: a client certificate's CN is the user name");
  oneLineError(pki(["ca", "--dir"]), 2, /^conclave pki ca: .*--dir/);
  expect(() => readdirSync(d)).toThrow();
});

test("unusable files: one line, exit 1, nothing written", () => {
  const d = join(dir, "files");
  pkiOk(["ca", "--dir", d]);
  const file = join(d, "not-a-dir");
  writeFileSync(file, "x");
  oneLineError(pki(["cluster", "--dir", join(file, "sub"), "--member", "m1=127.0.0.1"]), 1, `conclave pki cluster: cannot create directory ${join(file, "sub")}: a parent is not a directory`);
  oneLineError(pki(["ca", "--dir", d]), 1, `conclave pki ca: ${join(d, "ca.pem")} already exists (use --force to replace it)`);
  oneLineError(pki(["server", "--dir", join(dir, "nowhere"), "--hosts", "127.0.0.1"]), 1, `conclave pki server: cannot read CA certificate ${join(dir, "nowhere", "ca.pem")}: no such file or directory`);
  // A CA key that is not the CA certificate's.
  const other = join(dir, "other-ca");
  pkiOk(["ca", "--dir", other]);
  oneLineError(
    pki(["client", "--dir", d, "--cn", "x", "--ca-key", join(other, "ca-key.pem")]),
    1,
    `conclave pki client: CA key ${join(other, "ca-key.pem")} does not belong to CA certificate ${join(d, "ca.pem")}`,
  );
  oneLineError(pki(["client", "--dir", d, "--cn", "x", "--ca", join(d, "ca-key.pem")]), 1, `conclave pki client: cannot read CA certificate ${join(d, "ca-key.pem")}: not a PEM certificate`);
  oneLineError(pki(["inspect", join(d, "ca-key.pem")]), 1, `conclave pki inspect: ${join(d, "ca-key.pem")} holds a private key, not a certificate`);
  expect(readdirSync(d).sort()).toEqual(["ca-key.pem", "ca.pem", "not-a-dir"]);
});
