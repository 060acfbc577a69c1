// Makes keys, certificates and CRLs on WebCrypto with @peculiar/x509 (no ASN.1 written here).
// Used by `conclave pki` and by --auto-tls / --peer-auto-tls. Profiles follow the cfssl
// configuration etcd's documentation gives (server: server auth; client: client auth; peer:
// both; each with "signing" and "key encipherment"); keys are written as cfssl writes them
// (SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY").
import "./reflect-polyfill.ts"; // first: @peculiar/x509 needs the Reflect metadata API as it loads
import * as x509 from "@peculiar/x509";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { normalizeSerialHex } from "./serial.ts";

x509.cryptoProvider.set(globalThis.crypto);

export type KeyAlgo = "ecdsa" | "rsa";
export interface KeySpec {
  readonly algo: KeyAlgo;
  /** ECDSA: 256, 384 or 521 (the curve); RSA: modulus bits, 2048..8192. */
  readonly size: number;
}
export const DEFAULT_KEY: KeySpec = { algo: "ecdsa", size: 256 };

export type Profile = "ca" | "server" | "client" | "peer";

/** A key pair and what signing with it needs. */
export interface SigningKey {
  readonly keys: CryptoKeyPair;
  readonly signingAlgorithm: Algorithm | EcdsaParams;
}

const CURVES: Record<number, { curve: string; hash: string }> = {
  256: { curve: "P-256", hash: "SHA-256" },
  384: { curve: "P-384", hash: "SHA-384" },
  521: { curve: "P-521", hash: "SHA-512" },
};

/** Checks a key spec the way cfssl does; returns an error text or undefined. */
export function keySpecError(spec: KeySpec): string | undefined {
  if (spec.algo === "ecdsa") return CURVES[spec.size] ? undefined : `invalid ecdsa key size ${spec.size} (256, 384 or 521)`;
  if (!Number.isInteger(spec.size) || spec.size < 2048 || spec.size > 8192 || spec.size % 8 !== 0) {
    return `invalid rsa key size ${spec.size} (2048 to 8192, a multiple of 8)`;
  }
  return undefined;
}

export async function generateKey(spec: KeySpec): Promise<SigningKey> {
  const err = keySpecError(spec);
  if (err !== undefined) throw new Error(err);
  if (spec.algo === "ecdsa") {
    const c = CURVES[spec.size]!;
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: c.curve }, true, ["sign", "verify"]);
    return { keys, signingAlgorithm: { name: "ECDSA", hash: c.hash } as EcdsaParams };
  }
  const alg = { name: "RSASSA-PKCS1-v1_5", modulusLength: spec.size, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  return { keys, signingAlgorithm: { name: "RSASSA-PKCS1-v1_5" } };
}

/** PEM of the private key as cfssl writes it: SEC1 for ECDSA, PKCS#1 for RSA. */
export async function privateKeyPem(key: SigningKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key.keys.privateKey));
  const obj = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  const type = obj.asymmetricKeyType === "ec" ? "sec1" : "pkcs1";
  return String(obj.export({ format: "pem", type }));
}

/** Reads a PEM private key (SEC1, PKCS#1 or PKCS#8, ECDSA or RSA) for signing. */
export async function importPrivateKey(pem: string): Promise<SigningKey> {
  let obj: KeyObject;
  try {
    obj = createPrivateKey(pem);
  } catch {
    throw new Error("not a PEM private key");
  }
  const pkcs8 = obj.export({ format: "der", type: "pkcs8" });
  const spki = createPublicKey(obj).export({ format: "der", type: "spki" });
  if (obj.asymmetricKeyType === "ec") {
    const named = obj.asymmetricKeyDetails?.namedCurve;
    const size = named === "prime256v1" || named === "P-256" ? 256 : named === "secp384r1" || named === "P-384" ? 384 : named === "secp521r1" || named === "P-521" ? 521 : 0;
    const c = CURVES[size];
    if (c === undefined) throw new Error(`unsupported elliptic curve ${named ?? "(unknown)"}`);
    const alg = { name: "ECDSA", namedCurve: c.curve };
    return {
      keys: {
        privateKey: await crypto.subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]),
        publicKey: await crypto.subtle.importKey("spki", spki, alg, true, ["verify"]),
      },
      signingAlgorithm: { name: "ECDSA", hash: c.hash } as EcdsaParams,
    };
  }
  if (obj.asymmetricKeyType === "rsa") {
    const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return {
      keys: {
        privateKey: await crypto.subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]),
        publicKey: await crypto.subtle.importKey("spki", spki, alg, true, ["verify"]),
      },
      signingAlgorithm: { name: "RSASSA-PKCS1-v1_5" },
    };
  }
  throw new Error(`unsupported key type ${obj.asymmetricKeyType ?? "(unknown)"}`);
}

/** A SAN entry: an IP address when the host parses as one, a DNS name otherwise. */
export type San = { readonly type: "ip" | "dns"; readonly value: string };

const DNS_LABEL = /^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$/;

/** Classifies a host for the SAN list; undefined when it is neither an IP nor a DNS name. */
export function parseHost(host: string): San | undefined {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(h) !== 0) return { type: "ip", value: h };
  if (h.length === 0 || h.length > 253) return undefined;
  const labels = h.replace(/\.$/, "").split(".");
  if (!labels.every((l, i) => DNS_LABEL.test(l) && (l !== "*" || i === 0))) return undefined;
  return { type: "dns", value: h.replace(/\.$/, "") };
}

/** 20 random bytes, positive (RFC 5280 allows at most 20 octets). */
function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(20));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString("hex");
}

const USAGE_SIGN_ENCIPHER = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
const EKU: Record<Exclude<Profile, "ca">, string[]> = {
  server: [x509.ExtendedKeyUsage.serverAuth],
  client: [x509.ExtendedKeyUsage.clientAuth],
  peer: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
};

export interface IssueParams {
  readonly profile: Profile;
  readonly commonName: string;
  /** Organization (O) of the subject; the auto-TLS certificates carry "etcd" as etcd's do. */
  readonly organization?: string;
  readonly hosts: readonly San[];
  readonly key: SigningKey;
  /** Issuer certificate and key; absent = self-signed. */
  readonly issuer?: { readonly cert: x509.X509Certificate; readonly key: SigningKey };
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export async function issueCertificate(p: IssueParams): Promise<x509.X509Certificate> {
  const subject: x509.JsonName = [];
  if (p.organization !== undefined) subject.push({ O: [p.organization] });
  if (p.commonName !== "") subject.push({ CN: [p.commonName] });
  const isCa = p.profile === "ca";
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCa, undefined, true),
    new x509.KeyUsagesExtension(isCa ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : USAGE_SIGN_ENCIPHER, true),
  ];
  if (!isCa) extensions.push(new x509.ExtendedKeyUsageExtension(EKU[p.profile], false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(p.key.keys.publicKey));
  if (p.issuer !== undefined) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(p.issuer.key.keys.publicKey));
  if (p.hosts.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(p.hosts.map((h) => ({ type: h.type, value: h.value }))));
  }
  const base = { serialNumber: randomSerial(), notBefore: p.notBefore, notAfter: p.notAfter, extensions };
  if (p.issuer === undefined) {
    return x509.X509CertificateGenerator.createSelfSigned({ ...base, name: subject, keys: p.key.keys, signingAlgorithm: p.key.signingAlgorithm });
  }
  return x509.X509CertificateGenerator.create({
    ...base,
    subject,
    issuer: p.issuer.cert.subjectName,
    publicKey: p.key.keys.publicKey,
    signingKey: p.issuer.key.keys.privateKey,
    signingAlgorithm: p.issuer.key.signingAlgorithm,
  });
}

/** PEM text of a certificate ("CERTIFICATE"). */
export const certificatePem = (cert: x509.X509Certificate): string => `${cert.toString("pem")}\n`;

export function parseCertificate(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

/** True when the key is the private half of the certificate's public key. */
export async function keyMatchesCertificate(key: SigningKey, cert: x509.X509Certificate): Promise<boolean> {
  const a = Buffer.from(await crypto.subtle.exportKey("spki", key.keys.publicKey));
  return a.equals(Buffer.from(cert.publicKey.rawData));
}

/** A CRL from the issuer listing the given serial numbers (hex). PEM type "X509 CRL", as OpenSSL writes. */
export async function makeCrl(issuer: { cert: x509.X509Certificate; key: SigningKey }, serials: readonly string[], now: Date, nextUpdate: Date): Promise<string> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subjectName,
    thisUpdate: now,
    nextUpdate,
    entries: serials.map((serialNumber) => ({ serialNumber, revocationDate: now })),
    signingKey: issuer.key.keys.privateKey,
    signingAlgorithm: issuer.key.signingAlgorithm,
  });
  return `${x509.PemConverter.encode(crl.rawData, "X509 CRL")}\n`;
}

/** Serial numbers (hex, lower case, no leading zeros) revoked by a CRL given as PEM or DER. */
export function crlSerials(data: Uint8Array): Set<string> {
  const text = Buffer.from(data).toString("latin1");
  const der = text.includes("-----BEGIN") ? x509.PemConverter.decodeFirst(text) : new Uint8Array(data).buffer;
  const crl = new x509.X509Crl(der);
  return new Set(crl.entries.map((e) => normalizeSerialHex(e.serialNumber)));
}

export { x509 };
