// Checks etcd makes on a client certificate after the TLS library verified its chain
// (pkg/transport: VerifyPeerCertificate for the allowed CN / hostname, then the listener's SAN
// and CRL checks). Each returns etcd's error text, or undefined when the certificate passes.
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";

/** What the checks need from the presented certificate chain (leaf first). */
export interface PresentedChain {
  /** DER of each certificate, leaf first. */
  readonly raw: readonly Uint8Array[];
  /** Subject CN of the leaf ("" when none). */
  readonly commonName: string;
  /** Serial numbers (normalized hex) of the chain's certificates. */
  readonly serials: readonly string[];
}

export interface CertPolicy {
  /** --peer-cert-allowed-cn: the leaf's CN must equal it. */
  readonly allowedCn: string;
  /** --peer-cert-allowed-hostname / --client-cert-allowed-hostname: the leaf must be valid for it. */
  readonly allowedHostname: string;
  /** Peer port (etcd's checkSAN): the leaf's SANs must name the remote address. */
  readonly checkSan: boolean;
}

/** Resolves a DNS name to its addresses (node:dns lookup with all: true). */
export type LookupHost = (name: string) => Promise<string[]>;

export function checkAllowed(policy: CertPolicy, chain: PresentedChain): string | undefined {
  if (policy.allowedCn !== "") return chain.commonName === policy.allowedCn ? undefined : "client certificate authentication failed";
  if (policy.allowedHostname !== "") {
    const leaf = chain.raw[0];
    if (leaf === undefined || !validFor(new X509Certificate(leaf), policy.allowedHostname)) return "client certificate authentication failed";
  }
  return undefined;
}

/** Go's Certificate.VerifyHostname: IP SANs for an address, DNS SANs (wildcards) for a name; never the CN. */
function validFor(cert: X509Certificate, host: string): boolean {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(h) !== 0) return cert.checkIP(h) !== undefined;
  return cert.checkHost(h, { subject: "never" }) !== undefined;
}

/** SAN entries of a certificate, split by kind. */
export function sans(cert: X509Certificate): { ips: string[]; dns: string[] } {
  const ips: string[] = [];
  const dns: string[] = [];
  for (const part of (cert.subjectAltName ?? "").split(/,\s*/)) {
    if (part.startsWith("IP Address:")) ips.push(part.slice("IP Address:".length));
    else if (part.startsWith("DNS:")) dns.push(part.slice("DNS:".length));
  }
  return { ips, dns };
}

/** Strips the IPv4-mapped prefix a dual-stack socket reports ("::ffff:127.0.0.1"). */
export function plainAddress(addr: string): string {
  return addr.startsWith("::ffff:") && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

/**
 * etcd's checkCertSAN on the peer port: a certificate with SANs must name the address the
 * connection comes from, by IP SAN or by a DNS SAN resolving to it. As in etcd, when DNS SANs
 * are present one of them must resolve to the address even if an IP SAN matched.
 */
export async function checkSan(leafDer: Uint8Array, remoteAddress: string, lookup: LookupHost): Promise<string | undefined> {
  const cert = new X509Certificate(leafDer);
  const { ips, dns } = sans(cert);
  if (ips.length === 0 && dns.length === 0) return undefined;
  const h = plainAddress(remoteAddress);
  if (ips.length > 0 && dns.length === 0 && cert.checkIP(h) === undefined) {
    return `x509: certificate is valid for ${ips.join(", ")}, not ${h}`;
  }
  if (dns.length > 0) {
    for (const name of dns) {
      let addrs: string[];
      try {
        addrs = await lookup(name);
      } catch {
        continue;
      }
      if (addrs.some((a) => plainAddress(a) === h)) return undefined;
    }
    return `tls: "${h}" does not match any of DNSNames [${dns.map((d) => `"${d}"`).join(" ")}]`;
  }
  return undefined;
}

/** etcd's checkCRL: any certificate of the chain whose serial the CRL lists is refused. */
export function checkRevoked(revoked: ReadonlySet<string> | undefined, chain: PresentedChain): string | undefined {
  if (revoked === undefined) return undefined;
  for (const s of chain.serials) {
    if (revoked.has(s)) return `transport: certificate serial ${s.length % 2 === 1 ? `0${s}` : s} revoked`;
  }
  return undefined;
}
