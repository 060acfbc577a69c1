// One HTTP/1.1 exchange of the v2 client over node:http / node:https, with the failure texts
// Go's net/http transport gives etcd's v2 client ("dial tcp 127.0.0.1:1: connect: connection
// refused"), the per-request header timeout and the command's deadline. Runtime-neutral.
import type { ClientRequest, IncomingMessage } from "node:http";

export interface V2Tls {
  ca?: Uint8Array;
  cert?: Uint8Array;
  key?: Uint8Array;
  /** Checked against the server certificate instead of the URL's host (--discovery-srv). */
  serverName?: string;
}

export interface V2HttpRequest {
  method: "GET" | "PUT" | "POST" | "DELETE";
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

export interface V2HttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: Uint8Array;
}

/** A transport failure, worded as Go's net/http reports it. */
export class TransportError extends Error {
  constructor(
    message: string,
    /** etcdctl's isConnectionError: a dial, read or timeout failure (exit code 2 at sync). */
    readonly connection: boolean,
  ) {
    super(message);
  }
}

/** The caller's deadline passed (Go's context.DeadlineExceeded; a connection error too). */
export class DeadlineError extends Error {
  constructor() {
    super("context deadline exceeded");
  }
}

export interface ExchangeOptions {
  /** Absolute deadline of the command (undefined: none, as for watches). */
  deadline?: number;
  /** Bound on waiting for the response head (HeaderTimeoutPerRequest; 0 = none). */
  headerTimeoutMs: number;
  /** Bound on connecting (etcdctl: min(30 s, --total-timeout)). */
  dialTimeoutMs: number;
  tls?: V2Tls;
}

type Mods = { http: typeof import("node:http"); https: typeof import("node:https"); tls: typeof import("node:tls") };
let mods: Promise<Mods> | undefined;
const load = (): Promise<Mods> =>
  (mods ??= Promise.all([import("node:http"), import("node:https"), import("node:tls")]).then(([http, https, tls]) => ({ http, https, tls })));

/** Sockets kept between requests of one command (Go's transport keeps them alive too). */
const agents = new Map<string, unknown>();

/**
 * One exchange. Rejects with TransportError, DeadlineError or HeaderTimeout (the endpoint did
 * not answer within headerTimeoutMs: the caller words it with the endpoint's URL).
 */
export async function exchange(req: V2HttpRequest, o: ExchangeOptions): Promise<V2HttpResponse> {
  const { http, https, tls } = await load();
  const secure = req.url.protocol === "https:";
  if (!secure && req.url.protocol !== "http:") throw new TransportError(`unsupported protocol scheme "${req.url.protocol.replace(/:$/, "")}"`, false);
  const key = `${secure}`;
  let agent = agents.get(key) as import("node:http").Agent | undefined;
  if (agent === undefined) {
    agent = secure
      ? new https.Agent({
          keepAlive: true,
          ca: o.tls?.ca ? Buffer.from(o.tls.ca) : undefined,
          cert: o.tls?.cert ? Buffer.from(o.tls.cert) : undefined,
          key: o.tls?.key ? Buffer.from(o.tls.key) : undefined,
          servername: o.tls?.serverName,
          checkServerIdentity: o.tls?.serverName ? (_h: string, cert: import("node:tls").PeerCertificate) => tls.checkServerIdentity(o.tls!.serverName!, cert) : undefined,
        })
      : new http.Agent({ keepAlive: true });
    agents.set(key, agent);
  }
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const headers = { ...req.headers, ...(body ? { "content-length": String(body.length) } : {}) };
  const host = req.url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(req.url.port || (secure ? 443 : 80));
  return new Promise<V2HttpResponse>((resolve, reject) => {
    let done = false;
    let r: ClientRequest;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const finish = (e: Error | undefined, v?: V2HttpResponse) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      if (e) {
        r?.destroy();
        reject(e);
      } else resolve(v!);
    };
    const mod = secure ? https : http;
    r = mod.request({ host, port, method: req.method, path: `${req.url.pathname}${req.url.search}`, headers, agent });
    let connected = false;
    r.on("socket", (s) => {
      const onConnect = () => {
        connected = true;
      };
      if ((s as { connecting?: boolean }).connecting) s.once(secure ? "secureConnect" : "connect", onConnect);
      else onConnect();
    });
    if (o.deadline !== undefined) timers.push(setTimeout(() => finish(new DeadlineError()), Math.max(0, o.deadline - Date.now())));
    timers.push(
      setTimeout(() => {
        if (!connected) finish(new TransportError(`dial tcp ${authority(host, port)}: i/o timeout`, true));
      }, o.dialTimeoutMs),
    );
    if (o.headerTimeoutMs > 0) timers.push(setTimeout(() => finish(new HeaderTimeout()), o.headerTimeoutMs));
    r.on("error", (e) => finish(goNetError(e, host, port)));
    r.on("response", (res: IncomingMessage) => {
      // The head arrived: only the command's deadline bounds the body from here.
      for (const t of timers.splice(0)) clearTimeout(t);
      if (o.deadline !== undefined) timers.push(setTimeout(() => finish(new DeadlineError()), Math.max(0, o.deadline - Date.now())));
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (e) => finish(goNetError(e, host, port)));
      res.on("end", () => {
        const h: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(res.headers)) h[k] = Array.isArray(v) ? v.join(", ") : v;
        finish(undefined, { status: res.statusCode ?? 0, headers: h, body: new Uint8Array(Buffer.concat(chunks)) });
      });
    });
    r.end(body);
  });
}

/** The response head did not come within the header timeout. */
export class HeaderTimeout extends Error {}

/** Closes the kept sockets so a one-shot command can exit. */
export function closeIdle(): void {
  for (const a of agents.values()) (a as { destroy(): void }).destroy();
  agents.clear();
}

function authority(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Go's net.OpError / x509 texts for what node reports. */
function goNetError(e: unknown, host: string, port: number): Error {
  if (e instanceof TransportError || e instanceof DeadlineError || e instanceof HeaderTimeout) return e;
  const code = (e as { code?: string }).code ?? "";
  const dial = `dial tcp ${authority(host, port)}`;
  switch (code) {
    case "ECONNREFUSED":
      return new TransportError(`${dial}: connect: connection refused`, true);
    case "EHOSTUNREACH":
      return new TransportError(`${dial}: connect: no route to host`, true);
    case "ENETUNREACH":
      return new TransportError(`${dial}: connect: network is unreachable`, true);
    case "ETIMEDOUT":
      return new TransportError(`${dial}: i/o timeout`, true);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new TransportError(`dial tcp: lookup ${host}: no such host`, true);
    case "ECONNRESET":
      return new TransportError(`read tcp ${authority(host, port)}: read: connection reset by peer`, true);
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
      return new TransportError("x509: certificate signed by unknown authority", false);
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return new TransportError(`x509: ${(e as Error).message}`, false);
    default:
      if (/socket hang up/.test((e as Error).message ?? "")) return new TransportError("EOF", true);
      return new TransportError((e as Error).message ?? String(e), false);
  }
}
