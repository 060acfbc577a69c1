// src/tls on its own: Go cipher names, etcd's certificate checks, material re-read on change,
// and the accepting side on a loopback socket (the verified socket stays a tls.TLSSocket with
// the client's certificate readable, for --client-cert-auth identities).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, TLSSocket } from "node:tls";
import { checkAllowed, checkRevoked, checkSan, type PresentedChain } from "../../src/tls/checks.ts";
import { createTls, opensslCipherList, type TlsInfo } from "../../src/tls/index.ts";
import { TlsMaterial, type TlsFs } from "../../src/tls/material.ts";
import { certificatePem, crlSerials, generateKey, issueCertificate, makeCrl, parseHost, privateKeyPem, x509 } from "../../src/tls/x509.ts";

let dir: string;
type Made = { cert: x509.X509Certificate; certFile: string; keyFile: string; der: Uint8Array };
let ca: { cert: x509.X509Certificate; key: Awaited<ReturnType<typeof generateKey>> };
const made: Record<string, Made> = {};

async function make(name: string, profile: "server" | "client" | "peer", cn: string, hosts: string[]): Promise<Made> {
  const key = await generateKey({ algo: "ecdsa", size: 256 });
  const now = Date.now();
  const cert = await issueCertificate({
    profile, commonName: cn, hosts: hosts.map((h) => parseHost(h)!), key, issuer: ca,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000),
  });
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  writeFileSync(certFile, certificatePem(cert));
  writeFileSync(keyFile, await privateKeyPem(key));
  return { cert, certFile, keyFile, der: new Uint8Array(cert.rawData) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tls-unit-"));
  const key = await generateKey({ algo: "ecdsa", size: 256 });
  const cert = await issueCertificate({ profile: "ca", commonName: "unit-ca", hosts: [], key, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });
  ca = { cert, key };
  writeFileSync(join(dir, "ca.pem"), certificatePem(cert));
  made.server = await make("server", "server", "server", ["127.0.0.1"]);
  made.server2 = await make("server2", "server", "server-two", ["127.0.0.1"]);
  made.alice = await make("alice", "client", "alice", []);
  made.peer = await make("peer", "peer", "etcd-peer", ["127.0.0.2", "localhost"]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const chainOf = (m: Made, cn: string): PresentedChain => ({ raw: [m.der], commonName: cn, serials: [m.cert.serialNumber.replace(/^0+/, "")] });

test("Go cipher suite names map to OpenSSL's; unknown and unavailable ones are refused", () => {
  expect(opensslCipherList(["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"], ["ecdhe-ecdsa-aes128-gcm-sha256", "ecdhe-rsa-aes256-gcm-sha384"]))
    .toBe("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384");
  expect(() => opensslCipherList(["TLS_FAKE"], [])).toThrow('unexpected TLS cipher suite "TLS_FAKE"');
  expect(() => opensslCipherList(["TLS_RSA_WITH_RC4_128_SHA"], ["aes128-sha"])).toThrow(
    "TLS cipher suite TLS_RSA_WITH_RC4_128_SHA is not available in this build's TLS library",
  );
});

test("allowed CN and allowed hostname follow Go: exact CN; IP or DNS SAN (wildcards), never the CN", () => {
  const cn = { allowedCn: "etcd-peer", allowedHostname: "", checkSan: false };
  expect(checkAllowed(cn, chainOf(made.peer!, "etcd-peer"))).toBeUndefined();
  expect(checkAllowed(cn, chainOf(made.peer!, "intruder"))).toBe("client certificate authentication failed");
  const host = (h: string) => ({ allowedCn: "", allowedHostname: h, checkSan: false });
  expect(checkAllowed(host("127.0.0.2"), chainOf(made.peer!, "x"))).toBeUndefined();
  expect(checkAllowed(host("localhost"), chainOf(made.peer!, "x"))).toBeUndefined();
  expect(checkAllowed(host("127.0.0.1"), chainOf(made.peer!, "x"))).toBe("client certificate authentication failed");
  // The CN "etcd-peer" is not a SAN: not valid for that hostname.
  expect(checkAllowed(host("etcd-peer"), chainOf(made.peer!, "etcd-peer"))).toBe("client certificate authentication failed");
});

test("peer SAN check: the remote address must be an IP SAN or what a DNS SAN resolves to (etcd's checkCertSAN)", async () => {
  const server = made.server!.der; // IP SAN 127.0.0.1 only
  const noLookup = () => Promise.reject(new Error("no DNS here"));
  expect(await checkSan(server, "127.0.0.1", noLookup)).toBeUndefined();
  expect(await checkSan(server, "::ffff:127.0.0.1", noLookup)).toBeUndefined();
  expect(await checkSan(server, "127.0.0.9", noLookup)).toBe("x509: certificate is valid for 127.0.0.1, not 127.0.0.9");
  // IP 127.0.0.2 and DNS localhost: as in etcd, a DNS SAN present must resolve to the address.
  const peer = made.peer!.der;
  expect(await checkSan(peer, "127.0.0.1", async () => ["127.0.0.1"])).toBeUndefined();
  expect(await checkSan(peer, "127.0.0.2", async () => ["::1"])).toBe('tls: "127.0.0.2" does not match any of DNSNames ["localhost"]');
  // A client certificate without SANs passes.
  expect(await checkSan(made.alice!.der, "10.1.2.3", noLookup)).toBeUndefined();
});

test("CRL: serials from a CRL made here match the certificates, with Go's message", async () => {
  const pem = await makeCrl(ca, [made.alice!.cert.serialNumber], new Date(), new Date(Date.now() + 3_600_000));
  const revoked = crlSerials(new TextEncoder().encode(pem));
  const serial = made.alice!.cert.serialNumber.replace(/^0+/, "").toLowerCase();
  expect([...revoked]).toEqual([serial]);
  expect(checkRevoked(revoked, chainOf(made.alice!, "alice"))).toBe(`transport: certificate serial ${serial.length % 2 ? `0${serial}` : serial} revoked`);
  expect(checkRevoked(revoked, chainOf(made.server!, "server"))).toBeUndefined();
  expect(checkRevoked(new Set(["abc"]), { raw: [], commonName: "", serials: ["abc"] })).toBe("transport: certificate serial 0abc revoked");
});

test("material is re-read when a file changes; a broken state keeps the previous material and warns once", () => {
  const files = new Map<string, { sig: string; data: Uint8Array }>();
  const put = (p: string, data: string, sig: string) => files.set(p, { sig, data: new TextEncoder().encode(data) });
  const fs: TlsFs = { signature: (p) => files.get(p)?.sig, read: (p) => files.get(p)!.data };
  const pem = (p: string) => readFileSync(p, "utf8");
  put("c", pem(made.server!.certFile), "1");
  put("k", pem(made.server!.keyFile), "1");
  const errors: string[] = [];
  const m = new TlsMaterial({ certFile: "c", keyFile: "k", trustedCaFile: "", crlFile: "" }, { ciphers: "", onReloadError: (e) => errors.push(e.message) }, fs);
  const first = m.current();
  expect(first.generation).toBe(0);
  expect(m.current()).toBe(first); // unchanged files: the same material, no re-read
  // Half a rotation: the new certificate with the old key does not load.
  put("c", pem(made.server2!.certFile), "2");
  expect(m.current()).toBe(first);
  expect(m.current()).toBe(first);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toStartWith("cannot load certificate c with key k");
  put("k", pem(made.server2!.keyFile), "2");
  const second = m.current();
  expect(second.generation).toBe(1);
  expect(new TextDecoder().decode(second.cert)).toBe(pem(made.server2!.certFile));
});

const info = (over: Partial<TlsInfo>): TlsInfo => ({
  certFile: made.server!.certFile, keyFile: made.server!.keyFile, trustedCaFile: join(dir, "ca.pem"), clientCertAuth: true,
  crlFile: "", allowedCn: "", allowedHostname: "", checkSan: false, selfCert: false, cipherSuites: [], ...over,
});

async function listen(over: Partial<TlsInfo>, logs: Array<Record<string, unknown>>, secured: TLSSocket[]): Promise<{ server: Server; port: number }> {
  const tls = await createTls(info(over), { logger: { info() {}, warn: (msg, f) => logs.push({ msg, ...f }) } });
  const accepting = tls.server(["http/1.1"]);
  const server = createServer((raw) => accepting.accept(raw, (s) => {
    secured.push(s);
    s.end("hello");
  }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

function dial(port: number, who: Made | undefined): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({
      host: "127.0.0.1", port, rejectUnauthorized: false,
      ...(who ? { cert: readFileSync(who.certFile), key: readFileSync(who.keyFile) } : {}),
    });
    let got = "";
    s.on("data", (d: Buffer) => (got += String(d)));
    s.on("close", () => resolve(got === "" ? "closed" : got));
    s.on("error", () => {});
  });
}

test("the accepting side hands on a tls.TLSSocket whose peer certificate names the client", async () => {
  const logs: Array<Record<string, unknown>> = [];
  const secured: TLSSocket[] = [];
  const { server, port } = await listen({}, logs, secured);
  try {
    expect(await dial(port, made.alice)).toBe("hello");
    expect(secured).toHaveLength(1);
    expect(secured[0]).toBeInstanceOf(TLSSocket);
    expect(secured[0]!.getPeerCertificate().subject.CN).toBe("alice");
    expect(await dial(port, undefined)).toBe("closed");
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ msg: "rejected connection", error: "tls: client didn't provide a certificate" });
    expect(String(logs[0]!["remote-addr"])).toStartWith("127.0.0.1:");
  } finally {
    server.close();
  }
});

test("a client certificate with a CN other than the allowed one is closed after the handshake and logged", async () => {
  const logs: Array<Record<string, unknown>> = [];
  const secured: TLSSocket[] = [];
  const { server, port } = await listen({ allowedCn: "etcd-peer" }, logs, secured);
  try {
    expect(await dial(port, made.alice)).toBe("closed");
    expect(await dial(port, made.peer)).toBe("hello");
    expect(secured.map((s) => s.getPeerCertificate().subject.CN)).toEqual(["etcd-peer"]);
    expect(logs).toEqual([
      expect.objectContaining({ msg: "rejected connection", error: "client certificate authentication failed", "ip-addresses": [], "dns-names": [] }),
    ]);
  } finally {
    server.close();
  }
});

test("options that contradict each other are refused as etcd refuses them", async () => {
  await expect(createTls(info({ allowedCn: "a", allowedHostname: "b" }), { logger: { info() {}, warn() {} } })).rejects.toThrow(
    'AllowedCN and AllowedHostname are mutually exclusive (cn="a", hostname="b")',
  );
  await expect(createTls(info({ keyFile: "" }), { logger: { info() {}, warn() {} } })).rejects.toThrow(
    `KeyFile and CertFile must both be present[key: , cert: ${made.server!.certFile}]`,
  );
});

// etcd 3.4's ServerConfig: a trusted CA alone makes the client certificate required (observed:
// etcd with --trusted-ca-file and no --client-cert-auth refuses curl without a certificate).
test("a trusted CA file without --client-cert-auth still requires a client certificate, as in etcd", async () => {
  const logs: Array<Record<string, unknown>> = [];
  const secured: TLSSocket[] = [];
  const { server, port } = await listen({ clientCertAuth: false }, logs, secured);
  try {
    expect(await dial(port, undefined)).toBe("closed");
    expect(await dial(port, made.alice)).toBe("hello");
    expect(logs.map((l) => l.error)).toEqual(["tls: client didn't provide a certificate"]);
  } finally {
    server.close();
  }
});
