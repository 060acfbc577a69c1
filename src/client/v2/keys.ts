// The v2 keys API as etcd's client.KeysAPI speaks it: the requests (paths under /v2/keys,
// query and form parameters in Go's encoding), the answers (Response, Node) and errors
// ("100: Key not found (/a) [12]"), and the watcher that follows waitIndex.
import { type V2Action, type V2Client, Errs } from "./client.ts";
import { canonicalURLPath, encodeValues, escapePath, type GoUrl } from "./url.ts";

/** A node as the client decodes it: fields the client does not know are dropped. */
export interface V2Node {
  key: string;
  dir: boolean;
  value: string;
  /** null when the answer had none (Go's nil slice). */
  nodes: V2Node[] | null;
  createdIndex: number;
  modifiedIndex: number;
  /** RFC 3339 time as Go re-marshals it; undefined when absent. */
  expiration?: string;
  ttl: number;
}

export interface V2Response {
  action: string;
  node: V2Node | null;
  prevNode: V2Node | null;
  /** X-Etcd-Index. */
  index: number;
  clusterId: string;
}

/** A v2 error answer (etcd's client.Error). */
export class V2KeysError extends Error {
  constructor(
    readonly errorCode: number,
    readonly errMessage: string,
    readonly errCause: string,
    readonly index: number,
  ) {
    super(`${errorCode}: ${errMessage} (${errCause}) [${index}]`);
  }
}

export type PrevExist = "" | "true" | "false";

export interface SetOptions {
  prevValue?: string;
  prevIndex?: number;
  prevExist?: PrevExist;
  ttlSeconds?: number;
  dir?: boolean;
}

export interface GetOptions {
  recursive?: boolean;
  sort?: boolean;
  quorum?: boolean;
}

export interface DeleteOptions {
  prevValue?: string;
  prevIndex?: number;
  dir?: boolean;
  recursive?: boolean;
}

const FORM = "application/x-www-form-urlencoded";

function keysUrl(ep: GoUrl, key: string, query: Record<string, string>): string {
  const k = key !== "" && !key.startsWith("/") ? `/${key}` : key;
  const path = canonicalURLPath(`${ep.path}/v2/keys${k}`);
  const q = encodeValues(query);
  return `${ep.scheme}://${ep.host}${escapePath(path)}${q === "" ? "" : `?${q}`}`;
}

/** Go's time.Time JSON (RFC 3339 with the fraction's trailing zeros dropped, "Z" for UTC). */
function goTime(s: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return s;
  const frac = (m[2] ?? "").replace(/0+$/, "");
  const zone = m[3] === "+00:00" || m[3] === "-00:00" ? "Z" : m[3];
  return `${m[1]}${frac === "." ? "" : frac}${zone}`;
}

function node(raw: unknown): V2Node | null {
  if (raw === null || typeof raw !== "object") return null;
  const r = raw as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" ? v : 0);
  return {
    key: typeof r.key === "string" ? r.key : "",
    dir: r.dir === true,
    value: typeof r.value === "string" ? r.value : "",
    nodes: Array.isArray(r.nodes) ? r.nodes.map((n) => node(n)).filter((n): n is V2Node => n !== null) : null,
    createdIndex: num(r.createdIndex),
    modifiedIndex: num(r.modifiedIndex),
    expiration: typeof r.expiration === "string" ? goTime(r.expiration) : undefined,
    ttl: num(r.ttl),
  };
}

/** unmarshalHTTPResponse: 200/201 → Response; anything else → the v2 error in the body. */
export function keysResponse(status: number, headers: Record<string, string | undefined>, body: Uint8Array): V2Response {
  const text = new TextDecoder().decode(body);
  if (status === 200 || status === 201) {
    if (body.length === 0) throw new Error(Errs.emptyBody);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new Error(Errs.invalidJson);
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(Errs.invalidJson);
    const r = raw as Record<string, unknown>;
    return {
      action: typeof r.action === "string" ? r.action : "",
      node: node(r.node),
      prevNode: node(r.prevNode),
      index: Number(headers["x-etcd-index"] ?? 0),
      clusterId: headers["x-etcd-cluster-id"] ?? "",
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(Errs.invalidJson);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(Errs.invalidJson);
  // encoding/json matches field names without regard to case.
  const get = (name: string): unknown => Object.entries(raw as object).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const n = (v: unknown) => (typeof v === "number" ? v : 0);
  throw new V2KeysError(n(get("errorCode")), str(get("message")), str(get("cause")), n(get("index")));
}

export class KeysApi {
  constructor(private readonly c: V2Client) {}

  private async run(act: V2Action, deadline: number | undefined, oneShot = false): Promise<V2Response> {
    const r = await this.c.do(act, deadline, oneShot);
    return keysResponse(r.status, r.headers, r.body);
  }

  set(key: string, value: string, o: SetOptions, deadline: number | undefined): Promise<V2Response> {
    const query: Record<string, string> = {};
    const form: Record<string, string> = {};
    if (o.dir) query.dir = "true";
    else {
      if (o.prevValue) query.prevValue = o.prevValue;
      form.value = value;
    }
    if (o.prevIndex) query.prevIndex = String(o.prevIndex);
    if (o.prevExist) query.prevExist = o.prevExist;
    if (o.ttlSeconds && o.ttlSeconds > 0) form.ttl = String(o.ttlSeconds);
    const body = encodeValues(form);
    return this.run({ method: "PUT", url: (ep) => keysUrl(ep, key, query), body, contentType: FORM }, deadline, o.prevExist === "false");
  }

  createInOrder(dir: string, value: string, ttlSeconds: number, deadline: number | undefined): Promise<V2Response> {
    const form: Record<string, string> = { value };
    if (ttlSeconds > 0) form.ttl = String(ttlSeconds);
    return this.run({ method: "POST", url: (ep) => keysUrl(ep, dir, {}), body: encodeValues(form), contentType: FORM }, deadline);
  }

  get(key: string, o: GetOptions, deadline: number | undefined): Promise<V2Response> {
    const query = { recursive: String(o.recursive ?? false), sorted: String(o.sort ?? false), quorum: String(o.quorum ?? false) };
    return this.run({ method: "GET", url: (ep) => keysUrl(ep, key, query) }, deadline);
  }

  delete(key: string, o: DeleteOptions, deadline: number | undefined): Promise<V2Response> {
    const query: Record<string, string> = {};
    if (o.prevValue) query.prevValue = o.prevValue;
    if (o.prevIndex) query.prevIndex = String(o.prevIndex);
    if (o.dir) query.dir = "true";
    if (o.recursive) query.recursive = "true";
    return this.run({ method: "DELETE", url: (ep) => keysUrl(ep, key, query), contentType: FORM }, deadline, true);
  }

  /** A watcher from after `afterIndex` (0: from now); each next() is one event. */
  watcher(key: string, o: { afterIndex: number; recursive: boolean }): { next(): Promise<V2Response> } {
    let waitIndex = o.afterIndex > 0 ? o.afterIndex + 1 : 0;
    return {
      next: async () => {
        for (;;) {
          const query = { wait: "true", waitIndex: String(waitIndex), recursive: String(o.recursive) };
          const r = await this.c.do({ method: "GET", url: (ep) => keysUrl(ep, key, query), wait: true }, undefined);
          let resp: V2Response;
          try {
            resp = keysResponse(r.status, r.headers, r.body);
          } catch (e) {
            if ((e as Error).message === Errs.emptyBody) continue;
            throw e;
          }
          waitIndex = (resp.node?.modifiedIndex ?? 0) + 1;
          return resp;
        }
      },
    };
  }
}
