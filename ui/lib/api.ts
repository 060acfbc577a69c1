// The dashboard's one way to the member: the v3 JSON gateway (/v3/*) and a few same-origin
// dashboard routes (/ui/api/*), always with the etcd token in the Authorization header (never a
// cookie, never in a URL). Failures become ApiError with etcd's message and gRPC code.

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Called when the token is refused (expired or revoked): the app shows the login page again. */
type TokenLost = (err: ApiError) => void;

const TOKEN_ERRORS = new Set(["etcdserver: invalid auth token", "auth: invalid auth token", "etcdserver: user name is empty"]);

export class Api {
  token: string | undefined;
  onTokenLost: TokenLost | undefined;

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = {};
    if (json) h["content-type"] = "application/json";
    if (this.token !== undefined) h.authorization = this.token;
    return h;
  }

  /** POST a gateway or dashboard route with a JSON body; resolves with the JSON answer. */
  async call(path: string, body: Json = {}, signal?: AbortSignal): Promise<Json> {
    const res = await this.post(path, body, signal);
    const t = await res.text();
    let j: Json;
    try {
      j = t === "" ? {} : (JSON.parse(t) as Json);
    } catch {
      throw new ApiError(`unexpected answer from ${path}: ${res.status} ${t.slice(0, 200)}`, 2, res.status);
    }
    if (!res.ok || typeof j.error === "string") throw this.failure(j, res.status, path);
    return j;
  }

  /** POST and hand back the raw response (streams, downloads); errors are thrown as ApiError. */
  async post(path: string, body: Json, signal?: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(path, { method: "POST", headers: this.headers(true), body: JSON.stringify(body), signal, cache: "no-store" });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(`cannot reach the member: ${String(err)}`, 14, 0);
    }
    if (!res.ok) {
      const t = await res.text();
      let j: Json = {};
      try {
        j = JSON.parse(t) as Json;
      } catch {
        j = { error: t.trim() || res.statusText };
      }
      throw this.failure(j, res.status, path);
    }
    return res;
  }

  /** GET a same-origin text resource (/metrics, /ui/api/info). */
  async get(path: string, signal?: AbortSignal): Promise<string> {
    const res = await fetch(path, { headers: this.headers(false), signal, cache: "no-store" });
    const t = await res.text();
    if (!res.ok) throw new ApiError(t.trim() || res.statusText, 2, res.status);
    return t;
  }

  /**
   * A gateway stream (/v3/watch, /v3/lease/keepalive): one request message, then each
   * `{"result":…}` line to `onResult` until the stream ends, fails or `signal` aborts.
   */
  async stream(path: string, body: Json, onResult: (r: Json) => void, signal: AbortSignal): Promise<void> {
    const res = await this.post(path, body, signal);
    if (res.body === null) return;
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === "") continue;
        const j = JSON.parse(line) as Json;
        if (j.error !== undefined) throw this.failure(j.error as Json, 200, path);
        onResult(j.result as Json);
      }
    }
  }

  private failure(j: Json, status: number, path: string): ApiError {
    const msg = typeof j.message === "string" && j.message !== "" ? j.message : typeof j.error === "string" ? j.error : `request to ${path} failed (${status})`;
    const code = typeof j.code === "number" ? j.code : typeof j.grpc_code === "number" ? j.grpc_code : 2;
    const err = new ApiError(msg, code, status);
    // Also without a token: auth was enabled meanwhile, the member now wants a login.
    if (TOKEN_ERRORS.has(msg)) this.onTokenLost?.(err);
    return err;
  }
}

export const api = new Api();
