// One endpoint's connection and the gRPC calls on it (the HTTP/2 gRPC protocol: length-prefixed
// messages, grpc-status / grpc-message trailers, grpc-timeout). Reconnects lazily after a failure.
import { connectH2, type H2ClientConnection, type H2ClientStream, type H2Socket, H2StreamError } from "../api/h2/index.ts";
import type { Endpoint } from "./endpoint.ts";
import { Code } from "../rpctypes/index.ts";
import { ClientError } from "./errors.ts";
import { bunConnect, TcpSocket } from "./tcp-socket.ts";

export interface TlsSettings {
  ca?: string | Uint8Array;
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  insecureSkipVerify: boolean;
  /** Name checked against the server certificate; default the endpoint's host. */
  serverName?: string;
}

export interface ChannelOptions {
  /** TLS for endpoints without a scheme; "https://" endpoints always use TLS. */
  tls?: TlsSettings;
  dialTimeoutMs: number;
  /** grpc keepalive: PING after this much idle time, give up after keepAliveTimeoutMs. 0 = off. */
  keepAliveTimeMs: number;
  keepAliveTimeoutMs: number;
}

export type Metadata = Record<string, string>;

const USER_AGENT = "conclave-ctl";

/** An open server-streaming or bidi call. */
export interface GrpcStream {
  send(msg: Uint8Array): void;
  /** Half-close: no more messages from us. */
  end(): void;
  cancel(): void;
  onmessage: ((msg: Uint8Array) => void) | null;
  /** Once: the call ended; error undefined = grpc-status OK. */
  onend: ((error: ClientError | undefined) => void) | null;
}

export class Channel {
  private conn: H2ClientConnection | undefined;
  private connecting: Promise<H2ClientConnection> | undefined;
  private keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  private lastActivity = 0;
  /** Time of the last failed dial, for backoff between endpoints. */
  failedAt = 0;

  constructor(readonly endpoint: Endpoint, private readonly opts: ChannelOptions) {}

  get secure(): boolean {
    return this.endpoint.scheme === "https" || (this.endpoint.scheme === null && this.opts.tls !== undefined);
  }

  get connected(): boolean {
    return this.conn !== undefined && !this.conn.dead;
  }

  /** Connects (once; concurrent callers share the attempt). Rejects with a notSent Unavailable. */
  connect(deadline: number): Promise<H2ClientConnection> {
    if (this.conn !== undefined && !this.conn.dead) return Promise.resolve(this.conn);
    this.connecting ??= this.dial(deadline).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async dial(deadline: number): Promise<H2ClientConnection> {
    const ep = this.endpoint;
    const timeout = Math.max(1, Math.min(this.opts.dialTimeoutMs, deadline - Date.now()));
    let socket: H2Socket;
    try {
      socket = await withDialTimeout(this.secure ? this.dialTls() : this.dialTcp(), timeout, ep);
    } catch (e) {
      this.failedAt = Date.now();
      if (e instanceof ClientError) throw e;
      const err = new ClientError(Code.Unavailable, dialErrorText(e, ep, this.secure));
      err.notSent = true;
      throw err;
    }
    const conn = connectH2(socket);
    conn.onclose = () => {
      if (this.conn === conn) this.conn = undefined;
      this.stopKeepAlive();
    };
    this.conn = conn;
    this.lastActivity = Date.now();
    this.startKeepAlive(conn);
    return conn;
  }

  private dialTcp(): Promise<H2Socket> {
    const connect = bunConnect();
    if (connect !== undefined) return TcpSocket.connect(connect, this.endpoint.host, this.endpoint.port);
    return import("node:net").then(
      (net) =>
        new Promise<H2Socket>((resolve, reject) => {
          const s = net.connect({ host: this.endpoint.host, port: this.endpoint.port });
          s.once("connect", () => {
            s.removeAllListeners("error");
            resolve(s);
          });
          s.once("error", reject);
        }),
    );
  }

  private async dialTls(): Promise<H2Socket> {
    const tls = await import("node:tls");
    const t = this.opts.tls ?? { insecureSkipVerify: false };
    const host = this.endpoint.host;
    const servername = t.serverName ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
    return new Promise<H2Socket>((resolve, reject) => {
      const s = tls.connect({
        host,
        port: this.endpoint.port,
        servername,
        ALPNProtocols: ["h2"],
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        rejectUnauthorized: !t.insecureSkipVerify,
        // IP endpoints: check the certificate's IP SANs against the address dialled.
        checkServerIdentity: (name: string, cert: import("node:tls").PeerCertificate) => tls.checkServerIdentity(t.serverName ?? host ?? name, cert),
      });
      s.once("secureConnect", () => {
        s.removeAllListeners("error");
        resolve(s);
      });
      s.once("error", (e: Error) => {
        const err = new ClientError(Code.Unavailable, `connection error: desc = "transport: authentication handshake failed: ${tlsText(e)}"`);
        err.notSent = true;
        reject(err);
      });
    });
  }

  private startKeepAlive(conn: H2ClientConnection): void {
    if (this.opts.keepAliveTimeMs <= 0) return;
    const every = this.opts.keepAliveTimeMs;
    this.keepAliveTimer = setInterval(() => {
      if (conn.dead || Date.now() - this.lastActivity < every) return;
      const timer = setTimeout(() => conn.close(), this.opts.keepAliveTimeoutMs);
      conn.ping().then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
    }, every);
    (this.keepAliveTimer as { unref?: () => void }).unref?.();
  }

  private stopKeepAlive(): void {
    if (this.keepAliveTimer !== undefined) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  private headers(path: string, md: Metadata, deadline: number | undefined): Array<[string, string]> {
    const h: Array<[string, string]> = [
      [":method", "POST"],
      [":scheme", this.secure ? "https" : "http"],
      [":path", path],
      [":authority", this.endpoint.authority],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ["user-agent", USER_AGENT],
    ];
    if (deadline !== undefined) h.push(["grpc-timeout", grpcTimeout(deadline - Date.now())]);
    for (const [k, v] of Object.entries(md)) h.push([k, v]);
    return h;
  }

  /** One unary call. Rejects with ClientError (status, transport, or deadline). */
  async unary(path: string, req: Uint8Array, md: Metadata, deadline: number): Promise<Uint8Array> {
    const conn = await this.connect(deadline);
    return new Promise<Uint8Array>((resolve, reject) => {
      let result: Uint8Array | undefined;
      const call = this.open(conn, path, md, deadline, (msg) => {
        result ??= msg;
      }, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else if (result === undefined) reject(new ClientError(Code.Internal, "grpc: no response message"));
        else resolve(result);
      });
      const timer = setTimeout(() => {
        call.cancelWith(new ClientError(Code.DeadlineExceeded, "context deadline exceeded", "context"));
      }, timerDelay(deadline));
      call.send(req, true);
    });
  }

  /** Opens a streaming call (bidi or server-streaming). */
  async stream(path: string, md: Metadata, deadline: number): Promise<GrpcStream> {
    const conn = await this.connect(deadline);
    const s: GrpcStream = {
      onmessage: null,
      onend: null,
      send: (m) => call.send(m, false),
      end: () => call.end(),
      cancel: () => call.cancelWith(new ClientError(Code.Canceled, "context canceled", "context")),
    };
    const call = this.open(conn, path, md, undefined, (m) => s.onmessage?.(m), (e) => s.onend?.(e));
    return s;
  }

  private open(
    conn: H2ClientConnection,
    path: string,
    md: Metadata,
    deadline: number | undefined,
    onmessage: (m: Uint8Array) => void,
    onend: (e: ClientError | undefined) => void,
  ): CallHandle {
    this.lastActivity = Date.now();
    const stream = conn.request(this.headers(path, md, deadline), false);
    return new CallHandle(stream, onmessage, onend, () => {
      this.lastActivity = Date.now();
    });
  }

  close(): void {
    this.stopKeepAlive();
    this.conn?.close();
    this.conn = undefined;
  }
}

/** Message framing and status for one HTTP/2 stream. */
class CallHandle {
  private buf: Uint8Array = new Uint8Array(0);
  private status: ClientError | undefined | null = null;
  private done = false;
  private httpStatus = 0;

  constructor(
    private readonly stream: H2ClientStream,
    private readonly onmessage: (m: Uint8Array) => void,
    private readonly onend: (e: ClientError | undefined) => void,
    touch: () => void,
  ) {
    stream.onheaders = (fields, endStream) => {
      touch();
      const st = fields.get(":status");
      if (st !== undefined) this.httpStatus = Number(st);
      const gs = fields.get("grpc-status");
      if (gs !== undefined) {
        const code = Number(gs);
        const msg = decodeGrpcMessage(fields.get("grpc-message") ?? "");
        this.status = code === 0 ? undefined : new ClientError(code, msg);
      } else if (endStream && this.httpStatus !== 200) {
        this.status = httpStatusError(this.httpStatus);
      }
    };
    stream.ondata = (chunk) => {
      touch();
      this.push(chunk);
    };
    stream.onclose = (err) => this.closed(err);
  }

  send(msg: Uint8Array, end: boolean): void {
    const framed = new Uint8Array(5 + msg.length);
    framed[0] = 0;
    new DataView(framed.buffer).setUint32(1, msg.length);
    framed.set(msg, 5);
    this.stream.write(framed, end);
  }

  end(): void {
    this.stream.write(new Uint8Array(0), true);
  }

  cancelWith(err: ClientError): void {
    if (this.done) return;
    this.status = err;
    this.stream.cancel();
  }

  private push(chunk: Uint8Array): void {
    let data: Uint8Array;
    if (this.buf.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.buf.length + chunk.length);
      data.set(this.buf);
      data.set(chunk, this.buf.length);
    }
    let off = 0;
    while (data.length - off >= 5) {
      const len = new DataView(data.buffer, data.byteOffset + off + 1, 4).getUint32(0);
      if (data[off] !== 0) {
        this.cancelWith(new ClientError(Code.Internal, "grpc: compressed messages are not supported"));
        return;
      }
      if (data.length - off - 5 < len) break;
      const msg = data.slice(off + 5, off + 5 + len);
      off += 5 + len;
      if (!this.done) this.onmessage(msg);
    }
    this.buf = off === data.length ? new Uint8Array(0) : data.slice(off);
  }

  private closed(err: H2StreamError | undefined): void {
    if (this.done) return;
    this.done = true;
    if (this.status !== null) return this.onend(this.status);
    if (err === undefined) {
      // Ended without grpc-status.
      return this.onend(this.httpStatus !== 200 ? httpStatusError(this.httpStatus) : new ClientError(Code.Internal, "server closed the stream without sending trailers"));
    }
    const e = new ClientError(Code.Unavailable, err.refused ? "transport is closing" : err.message);
    e.notSent = err.refused;
    this.onend(e);
  }
}

/** grpc-timeout: at most 8 digits, so long deadlines go in seconds or hours. */
function grpcTimeout(ms: number): string {
  const v = Math.max(1, Math.ceil(ms));
  if (v < 1e8) return `${v}m`;
  if (v / 1000 < 1e8) return `${Math.ceil(v / 1000)}S`;
  return `${Math.min(99_999_999, Math.ceil(v / 3_600_000))}H`;
}

/** setTimeout's delay for a deadline (capped at its 32-bit limit). */
export function timerDelay(deadline: number): number {
  return Math.min(2_147_483_647, Math.max(0, deadline - Date.now()));
}

function httpStatusError(status: number): ClientError {
  const code =
    status === 400 ? Code.Internal
      : status === 401 ? Code.Unauthenticated
        : status === 403 ? Code.PermissionDenied
          : status === 404 ? Code.Unimplemented
            : status === 429 || status === 502 || status === 503 || status === 504 ? Code.Unavailable
              : Code.Unknown;
  return new ClientError(code, `unexpected HTTP status code received from server: ${status}`);
}

function decodeGrpcMessage(msg: string): string {
  if (!msg.includes("%")) return msg;
  try {
    return decodeURIComponent(msg);
  } catch {
    return msg;
  }
}

function withDialTimeout<T extends { destroy(): unknown }>(p: Promise<T>, ms: number, ep: Endpoint): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new ClientError(Code.Unavailable, `connection error: desc = "transport: Error while dialing dial tcp ${ep.authority}: i/o timeout"`);
      err.notSent = true;
      reject(err);
      p.then((s) => s.destroy(), () => {});
    }, ms);
    p.then(
      (s) => {
        clearTimeout(timer);
        resolve(s);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function dialErrorText(e: unknown, ep: Endpoint, secure: boolean): string {
  const code = (e as { code?: string }).code;
  const what =
    code === "ECONNREFUSED" ? "connect: connection refused"
      : code === "ENOTFOUND" || code === "EAI_AGAIN" ? `lookup ${ep.host}: no such host`
        : code === "EHOSTUNREACH" ? "connect: no route to host"
          : code === "ETIMEDOUT" ? "i/o timeout"
            : (e as Error).message;
  return `connection error: desc = "transport: Error while dialing dial tcp ${ep.authority}: ${what}"${secure ? "" : ""}`;
}

function tlsText(e: unknown): string {
  const code = (e as { code?: string }).code ?? "";
  if (code === "DEPTH_ZERO_SELF_SIGNED_CERT" || code === "SELF_SIGNED_CERT_IN_CHAIN" || code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE" || code === "UNABLE_TO_GET_ISSUER_CERT_LOCALLY") {
    return "x509: certificate signed by unknown authority";
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `x509: ${(e as Error).message}`;
  return (e as Error).message;
}
