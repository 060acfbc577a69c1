// --cipher-suites takes Go's names (etcd's tlsutil table); the TLS library here wants OpenSSL's.
// A suite the runtime's TLS library cannot negotiate (RC4, some CBC-SHA256 ones under BoringSSL)
// is refused at start rather than silently dropped, so the list given is the list served.
import { getCiphers } from "node:tls";

/** Go cipher suite name → OpenSSL cipher name (TLS 1.2 and below). */
export const GO_TO_OPENSSL: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_RC4_128_SHA: "RC4-SHA",
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: "DES-CBC3-SHA",
  TLS_RSA_WITH_AES_128_CBC_SHA: "AES128-SHA",
  TLS_RSA_WITH_AES_256_CBC_SHA: "AES256-SHA",
  TLS_RSA_WITH_AES_128_CBC_SHA256: "AES128-SHA256",
  TLS_RSA_WITH_AES_128_GCM_SHA256: "AES128-GCM-SHA256",
  TLS_RSA_WITH_AES_256_GCM_SHA384: "AES256-GCM-SHA384",
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: "ECDHE-ECDSA-RC4-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: "ECDHE-ECDSA-AES128-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: "ECDHE-ECDSA-AES256-SHA",
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: "ECDHE-RSA-RC4-SHA",
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: "ECDHE-RSA-DES-CBC3-SHA",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: "ECDHE-RSA-AES128-SHA",
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: "ECDHE-RSA-AES256-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: "ECDHE-ECDSA-AES128-SHA256",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: "ECDHE-RSA-AES128-SHA256",
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: "ECDHE-RSA-AES128-GCM-SHA256",
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: "ECDHE-ECDSA-AES128-GCM-SHA256",
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: "ECDHE-RSA-AES256-GCM-SHA384",
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: "ECDHE-ECDSA-AES256-GCM-SHA384",
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: "ECDHE-RSA-CHACHA20-POLY1305",
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: "ECDHE-ECDSA-CHACHA20-POLY1305",
};

/**
 * The OpenSSL cipher string for Go suite names, in the given order (the server prefers them in
 * that order, as Go does). Throws with a one-line reason for an unknown or unavailable suite.
 * `available` is the runtime's list (tls.getCiphers(), lower case).
 */
export function opensslCipherList(goNames: readonly string[], available: readonly string[] = getCiphers()): string {
  const have = new Set(available.map((c) => c.toLowerCase()));
  const out: string[] = [];
  for (const name of goNames) {
    const ossl = GO_TO_OPENSSL[name];
    if (ossl === undefined) throw new Error(`unexpected TLS cipher suite "${name}"`);
    if (!have.has(ossl.toLowerCase())) throw new Error(`TLS cipher suite ${name} is not available in this build's TLS library`);
    out.push(ossl);
  }
  return out.join(":");
}
