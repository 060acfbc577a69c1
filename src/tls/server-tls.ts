// The accepting side of TLS, shared by the client port and the peer port. Each raw TCP
// connection is handed to a tls.Server whose context was first brought up to date with the
// material (so a rotated certificate is served to the next connection), the chain is verified
// by the TLS library, then
// etcd's own checks run (allowed CN / hostname, SAN against the remote address on the peer port,
// CRL). A refused connection is closed and logged as etcd logs it: "rejected connection".
// The socket handed on stays a tls.TLSSocket, so getPeerCertificate() works further up.
import { X509Certificate } from "node:crypto";
import type { Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { checkAllowed, checkRevoked, checkSan, type CertPolicy, type LookupHost, type PresentedChain, sans } from "./checks.ts";
import type { Material } from "./material.ts";
import { normalizeSerialHex } from "./serial.ts";

export interface ServerTlsOptions {
  readonly material: { current(): Material };
  /** Require and verify a client certificate (etcd: --client-cert-auth or a trusted CA file). */
  readonly requestCert: boolean;
  readonly policy: CertPolicy;
  /** ALPN protocols offered, in preference order. */
  readonly alpn: readonly string[];
  readonly logger: { warn(msg: string, fields?: Record<string, unknown>): void };
  /** DNS resolution for the SAN check (node:dns lookup by default, injected by the caller). */
  readonly lookup: LookupHost;
  /** A handshake not finished within this many milliseconds is dropped. Default 20 s. */
  readonly handshakeTimeoutMs?: number;
}

const VERIFY = "tls: failed to verify client certificate: x509: ";

/** Go's texts for the handshake failures a client most often causes. */
const HANDSHAKE_TEXTS: ReadonlyArray<[RegExp, string]> = [
  [/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT|unable to verify the first certificate|unable to get (local )?issuer certificate|self.signed certificate/i, `${VERIFY}certificate signed by unknown authority`],
  [/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|certificate has expired|certificate is not yet valid/i, `${VERIFY}certificate has expired or is not yet valid`],
  [/INVALID_PURPOSE|unsupported certificate purpose/i, `${VERIFY}certificate specifies an incompatible key usage`],
  [/PEER_DID_NOT_RETURN_A_CERTIFICATE|peer did not return a certificate/i, "tls: client didn't provide a certificate"],
  [/WRONG_VERSION_NUMBER|HTTP_REQUEST|wrong version number|http request/i, "tls: first record does not look like a TLS handshake"],
  [/NO_SHARED_CIPHER|no shared cipher/i, "tls: no cipher suite supported by both client and server"],
  [/UNKNOWN_CA|unknown ca/i, "remote error: tls: unknown certificate authority"],
  [/ALERT_BAD_CERTIFICATE|bad certificate/i, "remote error: tls: bad certificate"],
  [/CERTIFICATE_VERIFY_FAILED|certificate verify failed/i, "tls: failed to verify client certificate"],
];

export function handshakeErrorText(err: Error & { code?: string }): string {
  const said = `${err.code ?? ""} ${err.message}`;
  for (const [re, text] of HANDSHAKE_TEXTS) if (re.test(said)) return text;
  return err.message;
}

/** The chain the client presented, leaf first, from the TLS socket. */
export function presentedChain(sock: TLSSocket): PresentedChain | undefined {
  const leaf = sock.getPeerCertificate(true);
  if (leaf === null || leaf === undefined || leaf.raw === undefined) return undefined;
  const raw: Uint8Array[] = [];
  const serials: string[] = [];
  const seen = new Set<string>();
  let c: typeof leaf | undefined = leaf;
  while (c !== undefined && c !== null && c.raw !== undefined && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    raw.push(c.raw);
    serials.push(normalizeSerialHex(c.serialNumber));
    c = c.issuerCertificate as typeof leaf | undefined;
  }
  const cn = leaf.subject?.CN;
  return { raw, serials, commonName: Array.isArray(cn) ? (cn[0] ?? "") : (cn ?? "") };
}

export class ServerTls {
  private readonly server: Server;
  /** The material generation the server's context was made from. */
  private generation: number;
  private material: Material;
  private onSecure: ((sock: TLSSocket) => void) | undefined;

  constructor(private readonly opts: ServerTlsOptions) {
    this.material = opts.material.current();
    this.generation = this.material.generation;
    this.server = createServer({
      ...this.material.options,
      requestCert: opts.requestCert,
      rejectUnauthorized: opts.requestCert,
      ALPNProtocols: [...opts.alpn],
      handshakeTimeout: opts.handshakeTimeoutMs ?? 20_000,
    });
    this.server.on("secureConnection", (sock: TLSSocket) => this.verify(sock));
    this.server.on("tlsClientError", (err: Error, sock: TLSSocket) => this.reject(sock, handshakeErrorText(err)));
  }

  /**
   * Takes over a raw connection. `onSecure` receives the verified TLS socket; a connection that
   * fails the handshake or a check is destroyed (and logged) without reaching it. The context is
   * swapped before the connection is handed to the TLS server, so it takes effect for this very
   * connection (a tls.Server's own "connection" listeners run too late for that on Bun).
   */
  accept(raw: Socket, onSecure: (sock: TLSSocket) => void): void {
    this.onSecure = onSecure;
    const m = this.opts.material.current();
    if (m.generation !== this.generation) {
      this.server.setSecureContext(m.options);
      this.generation = m.generation;
    }
    this.material = m;
    this.server.emit("connection", raw);
  }

  private reject(sock: TLSSocket, error: string, chain?: PresentedChain): void {
    const fields: Record<string, unknown> = { "remote-addr": `${sock.remoteAddress ?? ""}:${sock.remotePort ?? ""}`, "server-name": serverName(sock) };
    if (chain !== undefined && chain.raw[0] !== undefined) {
      const s = sans(new X509Certificate(chain.raw[0]));
      fields["ip-addresses"] = s.ips;
      fields["dns-names"] = s.dns;
    }
    fields.error = error;
    this.opts.logger.warn("rejected connection", fields);
    sock.destroy();
  }

  private verify(sock: TLSSocket): void {
    const { opts } = this;
    const onSecure = this.onSecure!;
    if (!opts.requestCert) return onSecure(sock);
    const chain = presentedChain(sock);
    // Only a chain the TLS library verified passes (fail closed should a runtime complete a
    // handshake without verifying it).
    if (chain === undefined || !sock.authorized) {
      const why = sock.authorizationError;
      return this.reject(sock, why === undefined || why === null ? "tls: client didn't provide a certificate" : handshakeErrorText(new Error(String(why))), chain);
    }
    const refused = checkAllowed(opts.policy, chain);
    if (refused !== undefined) return this.reject(sock, refused, chain);
    const revoked = this.material.revoked;
    const finish = (sanError: string | undefined) => {
      if (sock.destroyed) return;
      const why = sanError ?? checkRevoked(revoked, chain);
      if (why !== undefined) return this.reject(sock, why, chain);
      onSecure(sock);
    };
    if (!opts.policy.checkSan) return finish(undefined);
    checkSan(chain.raw[0]!, sock.remoteAddress ?? "", opts.lookup).then(finish, (e: unknown) => this.reject(sock, String(e), chain));
  }
}

function serverName(sock: TLSSocket): string {
  const name = (sock as TLSSocket & { servername?: string | false }).servername;
  return typeof name === "string" ? name : "";
}
