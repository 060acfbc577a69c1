// --auto-tls / --peer-auto-tls: a self-signed certificate for the listen URLs' hosts, kept in
// <data-dir>/fixtures/client or fixtures/peer as cert.pem and key.pem (etcd's SelfCert). Files
// already there are reused as they are. Subject O=etcd, key usages digital signature and key
// encipherment, server auth (and client auth for the peer certificate, which also dials out).
// etcd uses a P-521 key; this uses P-256, which every TLS library here signs with.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface SelfCertOptions {
  readonly dir: string;
  /** host:port of each listen URL; the host goes into the SANs (IP or DNS as it parses). */
  readonly hosts: readonly string[];
  readonly validityYears: number;
  readonly peer: boolean;
  readonly now: () => Date;
  readonly logger: { info(msg: string, fields?: Record<string, unknown>): void };
}

export interface SelfCertFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export async function selfCert(o: SelfCertOptions): Promise<SelfCertFiles> {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const certFile = join(o.dir, "cert.pem");
  const keyFile = join(o.dir, "key.pem");
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  const x = await import("./x509.ts");
  const hosts = o.hosts.map(hostOnly).map((h) => x.parseHost(h) ?? { type: "dns" as const, value: h });
  const key = await x.generateKey(x.DEFAULT_KEY);
  const now = o.now();
  const notAfter = new Date(now.getTime() + o.validityYears * 365 * 24 * 3600 * 1000);
  const cert = await x.issueCertificate({
    profile: o.peer ? "peer" : "server",
    commonName: "",
    organization: "etcd",
    hosts,
    key,
    notBefore: now,
    notAfter,
  });
  // Key first, then certificate, each renamed into place whole: a member killed half-way leaves
  // at most a key without a certificate, which the next start replaces (both must exist to reuse).
  writeWhole(keyFile, await x.privateKeyPem(key), 0o600);
  o.logger.info("created key file", { path: keyFile });
  writeWhole(certFile, x.certificatePem(cert), 0o644);
  o.logger.info("created cert file", { path: certFile });
  return { certFile, keyFile };
}

function writeWhole(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
}

/** The host of "host:port" or "[v6]:port". */
function hostOnly(hostPort: string): string {
  if (hostPort.startsWith("[")) return hostPort.slice(1, hostPort.indexOf("]"));
  const i = hostPort.lastIndexOf(":");
  return i < 0 ? hostPort : hostPort.slice(0, i);
}
