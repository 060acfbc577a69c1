// The certificate, key, CA bundle and CRL a listener or dialer uses, re-read when their files
// change so that a rotation needs no restart (etcd re-reads them on every handshake). Each new
// connection compares the files' stat signatures (a few microseconds); only a change re-reads
// and re-parses them. A rotation caught half-way (new certificate, old key) fails to load: the
// previous material stays in use, with a warning, until the files are consistent again.
import { createSecureContext, type SecureContext, type SecureContextOptions } from "node:tls";

/** The file effects the material needs (node:fs by default; tests inject others). */
export interface TlsFs {
  /** A value that changes whenever the file's content may have changed; undefined = missing. */
  signature(path: string): string | undefined;
  read(path: string): Uint8Array;
}

/** Paths of the PEM files; empty string = not given. */
export interface TlsFilePaths {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile: string;
  readonly crlFile: string;
}

export interface Material {
  readonly cert: Uint8Array;
  readonly key: Uint8Array;
  readonly ca: Uint8Array | undefined;
  /** Revoked serial numbers (normalized hex); undefined = no CRL file. */
  readonly revoked: ReadonlySet<string> | undefined;
  /** The context options (certificate, key, CA, ciphers, versions), as tls.Server takes them. */
  readonly options: SecureContextOptions;
  /** A context built from them: loading it is how a broken rotation is told apart. */
  readonly context: SecureContext;
  /** Increments on each successful reload; dialers rebuild their agents when it moves. */
  readonly generation: number;
}

export interface MaterialOptions {
  /**
   * OpenSSL cipher list for TLS 1.2; "" = the library's defaults. TLS 1.3 stays available with
   * its fixed suites, as in etcd 3.4 (Go does not let them be configured).
   */
  readonly ciphers: string;
  readonly onReloadError: (err: Error) => void;
  /**
   * Parses a CRL into revoked serials; required when a CRL file is given. Injected so that the
   * X.509 library loads only for members that use CRLs (it costs start-up time).
   */
  readonly parseCrl?: (data: Uint8Array) => Set<string>;
}

/** Reads material from files, once at construction (throwing) and again when they change. */
export class TlsMaterial {
  private last: Material;
  private lastSig: string;
  /** The signature of a failed attempt, so a broken state is not re-parsed on every connection. */
  private failedSig: string | undefined;

  constructor(
    readonly paths: TlsFilePaths,
    private readonly opts: MaterialOptions,
    private readonly fs: TlsFs,
  ) {
    this.lastSig = this.signature();
    this.last = this.load(0);
  }

  /** The material to use for a new connection (re-read first when a file changed). */
  current(): Material {
    const sig = this.signature();
    if (sig === this.lastSig || sig === this.failedSig) return this.last;
    try {
      this.last = this.load(this.last.generation + 1);
      this.lastSig = sig;
      this.failedSig = undefined;
    } catch (e) {
      this.failedSig = sig;
      this.opts.onReloadError(e instanceof Error ? e : new Error(String(e)));
    }
    return this.last;
  }

  private signature(): string {
    const p = this.paths;
    return [p.certFile, p.keyFile, p.trustedCaFile, p.crlFile].map((f) => (f === "" ? "-" : (this.fs.signature(f) ?? "missing"))).join("|");
  }

  private load(generation: number): Material {
    const p = this.paths;
    const cert = this.fs.read(p.certFile);
    const key = this.fs.read(p.keyFile);
    const ca = p.trustedCaFile === "" ? undefined : this.fs.read(p.trustedCaFile);
    let revoked: Set<string> | undefined;
    if (p.crlFile !== "") {
      if (this.opts.parseCrl === undefined) throw new Error("no CRL parser given");
      try {
        revoked = this.opts.parseCrl(this.fs.read(p.crlFile));
      } catch (e) {
        throw new Error(`cannot parse CRL file ${p.crlFile}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const options: SecureContextOptions = {
      cert: Buffer.from(cert),
      key: Buffer.from(key),
      ...(ca ? { ca: Buffer.from(ca) } : {}),
      ...(this.opts.ciphers !== "" ? { ciphers: this.opts.ciphers } : {}),
      minVersion: "TLSv1.2",
    };
    let context: SecureContext;
    try {
      context = createSecureContext(options);
    } catch (e) {
      throw new Error(`cannot load certificate ${p.certFile} with key ${p.keyFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { cert, key, ca, revoked, options, context, generation };
  }
}
