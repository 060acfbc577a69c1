// `conclave pki inspect FILE`: what a certificate says, in the terms of the flags that use it
// (subject, SANs, usages, expiry), or which serials a CRL revokes.
import { X509Certificate as NodeCert } from "node:crypto";
import { x509 } from "../../src/tls/x509.ts";
import { parseFlags, PkiError, UsageError } from "./args.ts";
import type { Io } from "./commands.ts";
import { readInput } from "./files.ts";

const KU_NAMES: ReadonlyArray<[number, string]> = [
  [x509.KeyUsageFlags.digitalSignature, "digital signature"],
  [x509.KeyUsageFlags.nonRepudiation, "non repudiation"],
  [x509.KeyUsageFlags.keyEncipherment, "key encipherment"],
  [x509.KeyUsageFlags.dataEncipherment, "data encipherment"],
  [x509.KeyUsageFlags.keyAgreement, "key agreement"],
  [x509.KeyUsageFlags.keyCertSign, "cert sign"],
  [x509.KeyUsageFlags.cRLSign, "crl sign"],
  [x509.KeyUsageFlags.encipherOnly, "encipher only"],
  [x509.KeyUsageFlags.decipherOnly, "decipher only"],
];
const EKU_NAMES: Readonly<Record<string, string>> = {
  [x509.ExtendedKeyUsage.serverAuth]: "server auth",
  [x509.ExtendedKeyUsage.clientAuth]: "client auth",
  [x509.ExtendedKeyUsage.codeSigning]: "code signing",
  [x509.ExtendedKeyUsage.emailProtection]: "email protection",
  [x509.ExtendedKeyUsage.timeStamping]: "timestamping",
  [x509.ExtendedKeyUsage.ocspSigning]: "ocsp signing",
};

const DAY = 86_400_000;

function describeKey(cert: NodeCert): string {
  const k = cert.publicKey;
  const d = k.asymmetricKeyDetails;
  if (k.asymmetricKeyType === "ec") {
    const curve = d?.namedCurve === "prime256v1" ? "P-256" : d?.namedCurve === "secp384r1" ? "P-384" : d?.namedCurve === "secp521r1" ? "P-521" : (d?.namedCurve ?? "?");
    return `ECDSA ${curve}`;
  }
  if (k.asymmetricKeyType === "rsa") return `RSA ${d?.modulusLength ?? "?"} bits`;
  return k.asymmetricKeyType ?? "unknown";
}

function describeCertificate(pem: string, now: Date): string {
  const c = new x509.X509Certificate(pem);
  const n = new NodeCert(pem);
  const ku = c.getExtension(x509.KeyUsagesExtension);
  const eku = c.getExtension(x509.ExtendedKeyUsageExtension);
  const bc = c.getExtension(x509.BasicConstraintsExtension);
  const left = c.notAfter.getTime() - now.getTime();
  const expiry = left < 0 ? `expired ${Math.floor(-left / DAY)} days ago` : `expires in ${Math.ceil(left / DAY)} days`;
  const usages = ku === null ? "(none)" : KU_NAMES.filter(([bit]) => (ku.usages & bit) !== 0).map(([, name]) => name).join(", ");
  const ext = eku === null ? "(none)" : eku.usages.map((u) => EKU_NAMES[String(u)] ?? String(u)).join(", ");
  const sans = (n.subjectAltName ?? "").split(/,\s*/).filter(Boolean).map((s) => s.replace(/^IP Address:/, "IP:")).join(", ");
  const rows: Array<[string, string]> = [
    ["subject", c.subject],
    ["issuer", c.issuer === c.subject ? `${c.issuer} (self-signed)` : c.issuer],
    ["serial", c.serialNumber],
    ["not before", c.notBefore.toISOString()],
    ["not after", `${c.notAfter.toISOString()} (${expiry})`],
    ["CA", bc?.ca ? "yes" : "no"],
    ["key", describeKey(n)],
    ["key usage", usages],
    ["ext key usage", ext],
    ["SANs", sans === "" ? "(none)" : sans],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(15)}${v}`).join("\n") + "\n";
}

function describeCrl(der: ArrayBuffer): string {
  const crl = new x509.X509Crl(der);
  const lines = [
    `${"CRL issuer:".padEnd(15)}${crl.issuer}`,
    `${"this update:".padEnd(15)}${crl.thisUpdate.toISOString()}`,
    `${"next update:".padEnd(15)}${crl.nextUpdate?.toISOString() ?? "(none)"}`,
    `${"revoked:".padEnd(15)}${crl.entries.length === 0 ? "(none)" : crl.entries.map((e) => e.serialNumber).join(", ")}`,
  ];
  return lines.join("\n") + "\n";
}

export async function inspectCommand(args: string[], io: Io): Promise<number> {
  const { values: o, positionals } = parseFlags("inspect", args, { help: { type: "boolean", short: "h", default: false } }, 1);
  void o;
  const file = positionals[0];
  if (file === undefined) throw new UsageError("inspect needs a FILE (see conclave pki inspect --help)");
  const text = readInput(file, "file");
  let blocks: x509.PemStruct[];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(text);
  } catch {
    blocks = [];
  }
  const known = blocks.filter((b) => b.type === "CERTIFICATE" || b.type === "X509 CRL" || b.type === "CRL");
  if (known.length === 0) {
    if (blocks.some((b) => b.type.endsWith("PRIVATE KEY"))) throw new PkiError(`${file} holds a private key, not a certificate`);
    throw new PkiError(`${file} holds no PEM certificate or CRL`);
  }
  const parts: string[] = [];
  for (const b of known) {
    try {
      parts.push(b.type === "CERTIFICATE" ? describeCertificate(x509.PemConverter.encode(b.rawData, "CERTIFICATE"), io.now()) : describeCrl(b.rawData));
    } catch (e) {
      throw new PkiError(`${file}: cannot parse ${b.type.toLowerCase()}: ${(e as Error).message}`);
    }
  }
  io.out(parts.join("\n"));
  return 0;
}
