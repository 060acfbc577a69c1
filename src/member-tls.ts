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

/** One side's TlsInfo: the files given, or a self-signed certificate when auto TLS is asked for and none are. */
async function chooseInfo(o: {
  side: "client" | "peer";
  auto: boolean;
  /** From the flags; undefined when no certificate file was given. */
  given: TlsInfo | undefined;
  hosts: readonly string[];
  config: ServerConfig;
  logger: TlsLogger;
  now: () => Date;
}): Promise<TlsInfo | undefined> {
  if (!o.auto) return o.given;
  if (o.given !== undefined) {
    o.logger.warn(`ignoring ${o.side} auto TLS since certs given`);
    return o.given;
  }
  const files = await selfCert({
    dir: join(o.config.dataDir, "fixtures", o.side),
    hosts: o.hosts,
    validityYears: o.config.selfSignedCertValidity,
    peer: o.side === "peer",
    now: o.now,
    logger: o.logger,
  });
  // As in etcd 3.4, the generated certificate replaces that side's whole TLS setting.
  return { ...files, trustedCaFile: "", clientCertAuth: false, crlFile: "", allowedCn: "", allowedHostname: "", checkSan: false, selfCert: true, cipherSuites: o.config.cipherSuites };
}

/** etcd's warnings for http URLs given certificates, and its refusal of https URLs without them. */
function checkSchemes(side: "client" | "peer", urls: readonly URL[], info: TlsInfo | undefined, filesGiven: boolean, certAuth: boolean, logger: TlsLogger): void {
  const flag = side === "client" ? "--client-cert-auth" : "--peer-client-cert-auth";
  for (const u of urls) {
    if (isSecure(u) && info === undefined) {
      throw new Error(
        side === "client"
          ? `TLS key/cert (--cert-file, --key-file) must be provided for client url ${u.href} with HTTPS scheme`
          : `cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`,
      );
    }
    if (isSecure(u)) continue;
    if (filesGiven) logger.warn("scheme is HTTP while key and cert files are present; ignoring key and cert files", { [`${side}-url`]: u.href });
    if (certAuth) logger.warn(`scheme is HTTP while ${flag} is enabled; ignoring client cert auth for this URL`, { [`${side}-url`]: u.href });
  }
}

export async function setupMemberTls(config: ServerConfig, logger: TlsLogger, now: () => Date): Promise<MemberTls> {
  const none = { allowedCn: "", allowedHostname: "", checkSan: false, selfCert: false, cipherSuites: config.cipherSuites };
  const clientFiles = config.certFile !== "" || config.keyFile !== "";
  const clientInfo = await chooseInfo({
    side: "client",
    auto: config.autoTls,
    given: clientFiles
      ? {
          ...none,
          certFile: config.certFile,
          keyFile: config.keyFile,
          trustedCaFile: config.trustedCaFile,
          clientCertAuth: config.clientCertAuth,
          crlFile: config.clientCrlFile,
          allowedHostname: config.clientCertAllowedHostname,
        }
      : undefined,
    hosts: config.listenClientUrls.map((u) => u.host),
    config,
    logger,
    now,
  });
  checkSchemes("client", config.listenClientUrls, clientInfo, clientFiles, config.clientCertAuth, logger);
  // The client side's files are needed only by https listeners (etcd reads them there too).
  const client = clientInfo !== undefined && config.listenClientUrls.some(isSecure) ? await createTls(clientInfo, { logger }) : undefined;
  if (client) logger.info("starting with client TLS", { "tls-info": describeTls(client.info), "cipher-suites": config.cipherSuites });

  const peerFiles = config.peerCertFile !== "" || config.peerKeyFile !== "";
  const peerInfo = await chooseInfo({
    side: "peer",
    auto: config.peerAutoTls,
    given: peerFiles
      ? {
          ...none,
          certFile: config.peerCertFile,
          keyFile: config.peerKeyFile,
          trustedCaFile: config.peerTrustedCaFile,
          clientCertAuth: config.peerClientCertAuth,
          crlFile: config.peerCrlFile,
          allowedCn: config.peerCertAllowedCn,
          allowedHostname: config.peerCertAllowedHostname,
          checkSan: !config.experimentalPeerSkipClientSanVerification,
        }
      : undefined,
    hosts: config.listenPeerUrls.map((u) => u.host),
    config,
    logger,
    now,
  });
  checkSchemes("peer", config.listenPeerUrls, peerInfo, peerFiles, config.peerClientCertAuth, logger);
  // The peer side also dials https peers, whatever this member listens on.
  const peer = peerInfo !== undefined ? await createTls(peerInfo, { logger }) : undefined;
  if (peer) logger.info("starting with peer TLS", { "tls-info": describeTls(peer.info), "cipher-suites": config.cipherSuites });
  return { client, peer };
}
