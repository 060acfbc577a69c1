// The v2 client's cluster logic (etcd's client.httpClusterClient): several endpoints tried in
// turn from the one that last worked, 5xx answers counted as failures, every failure gathered
// into one ClusterError; "one-shot" requests (create-only sets, deletes) not sent twice;
// redirects followed; HTTP Basic credentials on every request; Sync replaces the endpoints with
// the members' client URLs; cURL lines for --debug.
import { DeadlineError, exchange, HeaderTimeout, type V2HttpResponse, type V2Tls } from "./http.ts";
import { goUrlString, type GoUrl, parseGoUrl } from "./url.ts";

export interface V2ClientConfig {
  endpoints: string[];
  tls?: V2Tls;
  username?: string;
  password?: string;
  /** HeaderTimeoutPerRequest (--timeout); not applied to waits. */
  headerTimeoutMs: number;
  /** Dial bound (etcdctl: min(30 s, --total-timeout)). */
  dialTimeoutMs: number;
  /** --debug: receives "cURL Command: …" lines. */
  debug?: (line: string) => void;
  /** Endpoint order (Go shuffles with a random source); default: random. */
  shuffle?: <T>(xs: T[]) => T[];
}

/** One request, built for a given endpoint (etcd's httpAction). */
export interface V2Action {
  readonly method: "GET" | "PUT" | "POST" | "DELETE";
  /** The URL for this endpoint, as url.URL.String() prints it. */
  url(ep: GoUrl): string;
  readonly body?: string;
  readonly contentType?: string;
  /** A long poll: no header timeout. */
  readonly wait?: boolean;
}

export const Errs = {
  noEndpoints: "client: no endpoints available",
  tooManyRedirects: "client: too many redirects",
  clusterUnavailable: "client: etcd cluster is unavailable or misconfigured",
  invalidJson: "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint",
  emptyBody: "client: response body is empty",
} as const;

/** Every endpoint failed: etcd's ClusterError (its text ends with a newline per error). */
export class ClusterError extends Error {
  constructor(readonly errors: Error[]) {
    super(Errs.clusterUnavailable + errors.map((e, i) => `; error #${i}: ${e.message}\n`).join(""));
  }

  /** What etcdctl prints on the lines after the error. */
  detail(): string {
    return this.errors.map((e, i) => `error #${i}: ${e.message}\n`).join("");
  }

  /** etcdctl's isConnectionError: every error is a dial/read/timeout failure. */
  get isConnection(): boolean {
    return this.errors.every(isConnectionError);
  }
}

export function isConnectionError(e: unknown): boolean {
  if (e instanceof ClusterError) return e.isConnection;
  if (e instanceof DeadlineError) return true;
  return (e as { connection?: boolean }).connection === true;
}

function randomShuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const MAX_REDIRECTS = 10;

export class V2Client {
  private eps: GoUrl[] = [];
  private pinned = 0;
  private readonly shuffle: <T>(xs: T[]) => T[];

  constructor(private readonly cfg: V2ClientConfig) {
    this.shuffle = cfg.shuffle ?? randomShuffle;
    this.setEndpoints(cfg.endpoints);
  }

  /** Throws Go's url.Parse error for a malformed endpoint, "no endpoints available" for none. */
  setEndpoints(eps: string[]): void {
    if (eps.length === 0) throw new Error(Errs.noEndpoints);
    this.eps = this.shuffle(eps.map(parseGoUrl));
    this.pinned = 0;
  }

  endpoints(): string[] {
    return this.eps.map(goUrlString);
  }

  /** httpClusterClient.Do. `deadline` undefined: no bound (context.TODO). */
  async do(act: V2Action, deadline: number | undefined, oneShot = false): Promise<V2HttpResponse> {
    const eps = this.eps;
    if (eps.length === 0) throw new Error(Errs.noEndpoints);
    const errors: Error[] = [];
    for (let i = this.pinned; i < eps.length + this.pinned; i++) {
      const k = i % eps.length;
      const ep = eps[k]!;
      let err: Error | undefined;
      let resp: V2HttpResponse | undefined;
      try {
        resp = await this.followRedirects(ep, act, deadline);
      } catch (e) {
        if (e instanceof DeadlineError) throw e;
        err = e as Error;
        errors.push(err);
      }
      if (resp !== undefined && Math.floor(resp.status / 100) === 5) {
        errors.push(
          new Error(
            resp.status === 500 || resp.status === 503
              ? `client: etcd member ${goUrlString(ep)} has no leader`
              : `client: etcd member ${goUrlString(ep)} returns server error [${STATUS_TEXT[resp.status] ?? ""}]`,
          ),
        );
        err = errors[0];
      }
      if (err !== undefined) {
        if (!oneShot) continue;
        this.pinned = (k + 1) % eps.length;
        throw err;
      }
      this.pinned = k;
      return resp!;
    }
    throw new ClusterError(errors);
  }

  private async followRedirects(ep: GoUrl, act: V2Action, deadline: number | undefined): Promise<V2HttpResponse> {
    let url = act.url(ep);
    for (let i = 0; ; i++) {
      if (i > MAX_REDIRECTS) throw new Error(Errs.tooManyRedirects);
      const resp = await this.once(ep, url, act, deadline);
      if (Math.floor(resp.status / 100) !== 3) return resp;
      const loc = resp.headers.location;
      if (loc === undefined || loc === "") throw new Error("location header not set");
      try {
        url = new URL(loc, url).href;
      } catch {
        throw new Error(`location header not valid URL: ${loc}`);
      }
    }
  }

  private async once(ep: GoUrl, url: string, act: V2Action, deadline: number | undefined): Promise<V2HttpResponse> {
    this.cfg.debug?.(`cURL Command: curl -X ${act.method} ${url}${act.body !== undefined ? ` -d ${goQuoteAscii(act.body)}` : ""}`);
    const headers: Record<string, string> = {};
    if (act.contentType) headers["content-type"] = act.contentType;
    if (this.cfg.username !== undefined && this.cfg.username !== "") {
      headers.authorization = `Basic ${Buffer.from(`${this.cfg.username}:${this.cfg.password ?? ""}`).toString("base64")}`;
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`unsupported protocol scheme "${ep.scheme}"`);
    }
    try {
      return await exchange(
        { method: act.method, url: parsed, headers, body: act.body },
        { deadline, headerTimeoutMs: act.wait ? 0 : this.cfg.headerTimeoutMs, dialTimeoutMs: this.cfg.dialTimeoutMs, tls: this.cfg.tls },
      );
    } catch (e) {
      if (e instanceof HeaderTimeout) throw new Error(`client: endpoint ${goUrlString(ep)} exceeded header timeout`);
      throw e;
    }
  }
}

/** Go's %q for the ASCII bodies the client sends (form and JSON text). */
function goQuoteAscii(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, "\\x$1");
}

/** net/http's StatusText for the 5xx codes. */
const STATUS_TEXT: Record<number, string> = {
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates",
  507: "Insufficient Storage",
  508: "Loop Detected",
  510: "Not Extended",
  511: "Network Authentication Required",
};
