// TLS for the client and peer ports (etcd's pkg/transport): certificates re-read when their
// files change, etcd's checks on client certificates (allowed CN / hostname, peer SANs, CRL),
// Go cipher suite names, self-signed certificates for --auto-tls / --peer-auto-tls. The X.509
// maker (./x509.ts, also used by `conclave pki`) is loaded only when a member needs it.
export { createTls, describeTls, type DialOptions, nodeTlsFs, type Tls, type TlsInfo, type TlsLogger } from "./setup.ts";
export { ServerTls, handshakeErrorText } from "./server-tls.ts";
export { selfCert, type SelfCertOptions } from "./self-cert.ts";
export { GO_TO_OPENSSL, opensslCipherList } from "./cipher-suites.ts";
export type { TlsFs } from "./material.ts";
