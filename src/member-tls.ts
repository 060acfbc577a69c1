// The member's TLS from its flags, as etcd's embed package sets it up: --auto-tls and
// --peer-auto-tls make self-signed certificates in <data-dir>/fixtures/{client,peer} unless
// certificate files are given; https URLs without certificates are refused; http URLs with
// certificates get etcd's warning. The result feeds the client port and the peer transport.
import { join } from "node:path";
import type { ServerConfig } from "./config/index.ts";
import { createTls, describeTls, selfCert, type Tls, type TlsInfo, type TlsLogger } from "./tls/index.ts";

export interface MemberTls {
  /** For https listen client URLs; undefined when none is https. */
  readonly client: Tls | undefined;
  /** For https listen peer URLs and for dialing https peers; undefined without peer certificates. */
  readonly peer: Tls | undefined;
}

const isSecure = (u: URL) => u.protocol === "https:" || u.protocol === "unixs:";

export async function setupMemberTls(config: ServerConfig, logger: TlsLogger, now: () => Date): Promise<MemberTls> {
  const base = { crlFile: "", allowedCn: "", allowedHostname: "", checkSan: false, selfCert: false, cipherSuites: config.cipherSuites };

  // Client side.
  let clientInfo: TlsInfo | undefined;
  const clientFiles = config.certFile !== "" || config.keyFile !== "";
  if (config.autoTls && clientFiles) logger.warn("ignoring client auto TLS since certs given");
  if (config.autoTls && !clientFiles) {
    const files = await selfCert({
      dir: join(config.dataDir, "fixtures", "client"),
      hosts: config.listenClientUrls.map((u) => u.host),
      validityYears: config.selfSignedCertValidity,
      peer: false,
      now,
      logger,
    });
    // As in etcd 3.4, the generated certificate replaces the whole client TLS setting.
    clientInfo = { ...base, ...files, trustedCaFile: "", clientCertAuth: false, selfCert: true };
  } else if (clientFiles) {
    clientInfo = {
      ...base,
      certFile: config.certFile,
      keyFile: config.keyFile,
      trustedCaFile: config.trustedCaFile,
      clientCertAuth: config.clientCertAuth,
      crlFile: config.clientCrlFile,
      allowedHostname: config.clientCertAllowedHostname,
    };
  }
  for (const u of config.listenClientUrls) {
    if (isSecure(u) && clientInfo === undefined) {
      throw new Error(`TLS key/cert (--cert-file, --key-file) must be provided for client url ${u.href} with HTTPS scheme`);
    }
    if (!isSecure(u) && clientFiles) logger.warn("scheme is HTTP while key and cert files are present; ignoring key and cert files", { "client-url": u.href });
    if (!isSecure(u) && config.clientCertAuth) {
      logger.warn("scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL", { "client-url": u.href });
    }
  }
  const clientTls = clientInfo !== undefined && config.listenClientUrls.some(isSecure) ? await createTls(clientInfo, { logger }) : undefined;
  if (clientTls) logger.info("starting with client TLS", { "tls-info": describeTls(clientTls.info), "cipher-suites": config.cipherSuites });

  // Peer side.
  let peerInfo: TlsInfo | undefined;
  const peerFiles = config.peerCertFile !== "" || config.peerKeyFile !== "";
  if (config.peerAutoTls && peerFiles) logger.warn("ignoring peer auto TLS since certs given");
  if (config.peerAutoTls && !peerFiles) {
    const files = await selfCert({
      dir: join(config.dataDir, "fixtures", "peer"),
      hosts: config.listenPeerUrls.map((u) => u.host),
      validityYears: config.selfSignedCertValidity,
      peer: true,
      now,
      logger,
    });
    peerInfo = { ...base, ...files, trustedCaFile: "", clientCertAuth: false, selfCert: true };
  } else if (peerFiles) {
    peerInfo = {
      ...base,
      certFile: config.peerCertFile,
      keyFile: config.peerKeyFile,
      trustedCaFile: config.peerTrustedCaFile,
      clientCertAuth: config.peerClientCertAuth,
      crlFile: config.peerCrlFile,
      allowedCn: config.peerCertAllowedCn,
      allowedHostname: config.peerCertAllowedHostname,
      checkSan: !config.experimentalPeerSkipClientSanVerification,
    };
  }
  for (const u of config.listenPeerUrls) {
    if (isSecure(u) && peerInfo === undefined) {
      throw new Error(`cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`);
    }
    if (!isSecure(u) && peerFiles) logger.warn("scheme is HTTP while key and cert files are present; ignoring key and cert files", { "peer-url": u.href });
    if (!isSecure(u) && config.peerClientCertAuth) {
      logger.warn("scheme is HTTP while --peer-client-cert-auth is enabled; ignoring client cert auth for this URL", { "peer-url": u.href });
    }
  }
  const peerTls = peerInfo !== undefined ? await createTls(peerInfo, { logger }) : undefined;
  if (peerTls) logger.info("starting with peer TLS", { "tls-info": describeTls(peerTls.info), "cipher-suites": config.cipherSuites });
  return { client: clientTls, peer: peerTls };
}
