// A small v3 KV client over the JSON gateway (/v3/*) that every etcd ≥ 3.4 and every
// Conclave member serves on the client port: range, put, txn, delete, watch and
// authentication, with endpoint failover. The v3 discovery protocol and the discovery
// service's `--etcd` store need no more than this, and it needs only HTTP/1.1.
import * as v from "valibot";
import { type ClientTlsOptions, createHttpClient, type HttpClient, type HttpStream, NetworkError, TimeoutError } from "./http-client.ts";

export interface V3ClientOptions {
  /** Client URLs (`http(s)://host:port`) or bare `host:port`. */
  readonly endpoints: readonly string[];
  /** TLS for https endpoints (and for bare ones when `secure`). */
  readonly tls?: ClientTlsOptions;
  /** Bare endpoints use https. */
  readonly secure?: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly dialTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Injected for tests; default a node:http(s) client with `tls`. */
  readonly http?: HttpClient;
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: string;
}

export interface RangeResult {
  readonly revision: number;
  readonly kvs: KeyValue[];
  readonly count: number;
  readonly more: boolean;
}

export type Compare =
  | { readonly key: string; readonly target: "CREATE" | "MOD" | "VERSION"; readonly result: "EQUAL" | "LESS" | "GREATER" | "NOT_EQUAL"; readonly value: number }
  | { readonly key: string; readonly target: "VALUE"; readonly result: "EQUAL" | "NOT_EQUAL"; readonly value: string };

export type Op =
  | { readonly put: { key: string; value: string; prevKv?: boolean } }
  | { readonly range: { key: string; prefix?: boolean; limit?: number; countOnly?: boolean } }
  | { readonly deleteRange: { key: string; prefix?: boolean; prevKv?: boolean } };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** Per op: the kvs of a range, the prev kv of a put/delete (when asked for). */
  readonly responses: { kvs: KeyValue[]; count: number; prevKvs: KeyValue[]; deleted: number }[];
}

export interface WatchEvent {
  readonly type: "PUT" | "DELETE";
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

export interface WatchBatch {
  readonly revision: number;
  readonly events: WatchEvent[];
  /** Set when the start revision was compacted away: the watch is over. */
  readonly compactRevision: number;
  readonly canceled: boolean;
}

/** An error answered by the cluster (gRPC code and etcd's message). */
export class V3Error extends Error {
  override readonly name = "V3Error";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString("utf8");

/** The end of the range of every key starting with `prefix` (clientv3.GetPrefixRangeEnd). */
export function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, "utf8");
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]! += 1;
      return end.toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64");
}

const Int64 = v.optional(v.union([v.string(), v.number()]), "0");
const KvSchema = v.object({
  key: v.optional(v.string(), ""),
  value: v.optional(v.string(), ""),
  create_revision: Int64,
  mod_revision: Int64,
  version: Int64,
  lease: Int64,
});
const HeaderSchema = v.object({ revision: Int64 });
const RangeSchema = v.object({
  header: HeaderSchema,
  kvs: v.optional(v.array(KvSchema), []),
  count: Int64,
  more: v.optional(v.boolean(), false),
});
const PutSchema = v.object({ header: HeaderSchema, prev_kv: v.optional(KvSchema) });
const DeleteSchema = v.object({ header: HeaderSchema, deleted: Int64, prev_kvs: v.optional(v.array(KvSchema), []) });
const TxnSchema = v.object({
  header: HeaderSchema,
  succeeded: v.optional(v.boolean(), false),
  responses: v.optional(
    v.array(
      v.object({
        response_range: v.optional(v.object({ kvs: v.optional(v.array(KvSchema), []), count: Int64 })),
        response_put: v.optional(v.object({ prev_kv: v.optional(KvSchema) })),
        response_delete_range: v.optional(v.object({ deleted: Int64, prev_kvs: v.optional(v.array(KvSchema), []) })),
      }),
    ),
    [],
  ),
});
const ErrorSchema = v.object({ code: v.optional(v.number(), 2), message: v.optional(v.string()), error: v.optional(v.string()) });
const AuthSchema = v.object({ token: v.string() });
const WatchLineSchema = v.object({
  result: v.optional(
    v.object({
      header: v.optional(HeaderSchema),
      created: v.optional(v.boolean()),
      canceled: v.optional(v.boolean()),
      compact_revision: Int64,
      events: v.optional(
        v.array(v.object({ type: v.optional(v.string(), "PUT"), kv: v.optional(KvSchema), prev_kv: v.optional(KvSchema) })),
        [],
      ),
    }),
  ),
  error: v.optional(v.object({ grpc_code: v.optional(v.number(), 2), message: v.optional(v.string(), "") })),
});

function kv(k: v.InferOutput<typeof KvSchema>): KeyValue {
  return {
    key: unb64(k.key),
    value: unb64(k.value),
    createRevision: Number(k.create_revision),
    modRevision: Number(k.mod_revision),
    version: Number(k.version),
    lease: String(k.lease),
  };
}

function opJson(op: Op): Record<string, unknown> {
  if ("put" in op) return { request_put: { key: b64(op.put.key), value: b64(op.put.value), prev_kv: op.put.prevKv === true } };
  if ("range" in op) {
    return {
      request_range: {
        key: b64(op.range.key),
        ...(op.range.prefix ? { range_end: prefixEnd(op.range.key) } : {}),
        ...(op.range.limit ? { limit: op.range.limit } : {}),
        ...(op.range.countOnly ? { count_only: true } : {}),
      },
    };
  }
  return {
    request_delete_range: {
      key: b64(op.deleteRange.key),
      ...(op.deleteRange.prefix ? { range_end: prefixEnd(op.deleteRange.key) } : {}),
      prev_kv: op.deleteRange.prevKv === true,
    },
  };
}

/** Normalises an endpoint to a base URL. */
export function endpointUrl(ep: string, secure: boolean): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(ep) ? ep : `${secure ? "https" : "http"}://${ep}`;
  const u = new URL(withScheme);
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new V3Error(3, `unsupported endpoint scheme ${u.protocol} (${ep})`);
  return new URL(`${u.protocol}//${u.host}`);
}

export class V3Client {
  private readonly http: HttpClient;
  private readonly endpoints: URL[];
  /** The endpoint that answered last; requests start there. */
  private current = 0;
  private token: string | undefined;
  private readonly requestTimeoutMs: number;

  constructor(private readonly o: V3ClientOptions) {
    if (o.endpoints.length === 0) throw new V3Error(3, "no endpoints given");
    this.endpoints = o.endpoints.map((e) => endpointUrl(e, o.secure === true));
    this.http = o.http ?? createHttpClient({ tls: o.tls, dialTimeoutMs: o.dialTimeoutMs });
    this.requestTimeoutMs = o.requestTimeoutMs ?? 5000;
  }

  close(): void {
    this.http.close();
  }

  /** POSTs to one path, trying each endpoint once when one is unreachable. */
  private async post(path: string, body: unknown, retryAuth = true): Promise<unknown> {
    if (this.o.username !== undefined && this.token === undefined && path !== "/v3/auth/authenticate") await this.authenticate();
    let last: Error | undefined;
    for (let i = 0; i < this.endpoints.length; i++) {
      const idx = (this.current + i) % this.endpoints.length;
      const ep = this.endpoints[idx]!;
      try {
        const res = await this.http.request({
          method: "POST",
          url: new URL(path, ep),
          body: JSON.stringify(body),
          headers: { "content-type": "application/json", ...(this.token !== undefined ? { authorization: this.token } : {}) },
          timeoutMs: this.requestTimeoutMs,
        });
        this.current = idx;
        const text = new TextDecoder().decode(res.body);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new V3Error(2, `invalid answer from ${ep.host}${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
        }
        if (res.status !== 200) {
          const e = v.safeParse(ErrorSchema, json);
          const msg = e.success ? (e.output.message ?? e.output.error ?? text) : text;
          const code = e.success ? e.output.code : 2;
          // A token that expired or predates an auth change: authenticate again, once.
          if (retryAuth && this.o.username !== undefined && (msg.includes("invalid auth token") || msg.includes("revision of auth store is old"))) {
            this.token = undefined;
            return this.post(path, body, false);
          }
          // Unavailable (no leader, stopping): another member may answer.
          if (code === 14 && i + 1 < this.endpoints.length) {
            last = new V3Error(code, msg);
            continue;
          }
          throw new V3Error(code, msg);
        }
        return json;
      } catch (e) {
        if (e instanceof NetworkError || e instanceof TimeoutError) {
          last = e;
          continue;
        }
        throw e;
      }
    }
    throw last ?? new NetworkError("no endpoint answered");
  }

  private async authenticate(): Promise<void> {
    const json = await this.post("/v3/auth/authenticate", { name: this.o.username, password: this.o.password ?? "" }, false);
    const r = v.safeParse(AuthSchema, json);
    if (!r.success) throw new V3Error(2, "authenticate answered without a token");
    this.token = r.output.token;
  }

  /** A key, a prefix, or [key, end) when `end` is given. */
  async range(key: string, o: { prefix?: boolean; end?: string; limit?: number; serializable?: boolean; countOnly?: boolean } = {}): Promise<RangeResult> {
    const json = await this.post("/v3/kv/range", {
      key: b64(key),
      ...(o.prefix ? { range_end: prefixEnd(key) } : o.end !== undefined ? { range_end: b64(o.end) } : {}),
      ...(o.countOnly ? { count_only: true } : {}),
      ...(o.limit ? { limit: o.limit } : {}),
      ...(o.serializable ? { serializable: true } : {}),
    });
    const r = v.parse(RangeSchema, json);
    return { revision: Number(r.header.revision), kvs: r.kvs.map(kv), count: Number(r.count), more: r.more };
  }

  async put(key: string, value: string): Promise<{ revision: number }> {
    const r = v.parse(PutSchema, await this.post("/v3/kv/put", { key: b64(key), value: b64(value) }));
    return { revision: Number(r.header.revision) };
  }

  async deleteRange(key: string, o: { prefix?: boolean } = {}): Promise<{ revision: number; deleted: number }> {
    const json = await this.post("/v3/kv/deleterange", { key: b64(key), ...(o.prefix ? { range_end: prefixEnd(key) } : {}) });
    const r = v.parse(DeleteSchema, json);
    return { revision: Number(r.header.revision), deleted: Number(r.deleted) };
  }

  async txn(compare: readonly Compare[], success: readonly Op[], failure: readonly Op[] = []): Promise<TxnResult> {
    const json = await this.post("/v3/kv/txn", {
      compare: compare.map((c) => ({
        key: b64(c.key),
        target: c.target,
        result: c.result,
        ...(c.target === "CREATE"
          ? { create_revision: c.value }
          : c.target === "MOD"
            ? { mod_revision: c.value }
            : c.target === "VERSION"
              ? { version: c.value }
              : { value: b64(c.value as string) }),
      })),
      success: success.map(opJson),
      failure: failure.map(opJson),
    });
    const r = v.parse(TxnSchema, json);
    return {
      succeeded: r.succeeded,
      revision: Number(r.header.revision),
      responses: r.responses.map((x) => ({
        kvs: (x.response_range?.kvs ?? []).map(kv),
        count: Number(x.response_range?.count ?? 0),
        prevKvs: [
          ...(x.response_put?.prev_kv ? [kv(x.response_put.prev_kv)] : []),
          ...(x.response_delete_range?.prev_kvs ?? []).map(kv),
        ],
        deleted: Number(x.response_delete_range?.deleted ?? 0),
      })),
    };
  }

  /**
   * Watches a key or prefix from `startRevision`; yields each batch of events until the
   * signal aborts, the server cancels, or the connection ends (then it throws NetworkError).
   */
  async *watch(key: string, o: { prefix?: boolean; startRevision?: number; prevKv?: boolean; signal?: AbortSignal }): AsyncIterable<WatchBatch> {
    if (this.o.username !== undefined && this.token === undefined) await this.authenticate();
    const body = JSON.stringify({
      create_request: {
        key: b64(key),
        ...(o.prefix ? { range_end: prefixEnd(key) } : {}),
        ...(o.startRevision ? { start_revision: o.startRevision } : {}),
        ...(o.prevKv ? { prev_kv: true } : {}),
      },
    });
    let stream: HttpStream | undefined;
    let last: Error | undefined;
    for (let i = 0; i < this.endpoints.length && stream === undefined; i++) {
      const idx = (this.current + i) % this.endpoints.length;
      try {
        stream = await this.http.stream({
          method: "POST",
          url: new URL("/v3/watch", this.endpoints[idx]!),
          body,
          signal: o.signal,
          headers: { "content-type": "application/json", ...(this.token !== undefined ? { authorization: this.token } : {}) },
        });
        this.current = idx;
      } catch (e) {
        if (!(e instanceof NetworkError)) throw e;
        last = e;
      }
    }
    if (stream === undefined) throw last ?? new NetworkError("no endpoint answered");
    const onAbort = () => stream.close();
    o.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (stream.status !== 200) {
        const parts: Uint8Array[] = [];
        for await (const c of stream.chunks) parts.push(c);
        const text = Buffer.concat(parts).toString("utf8");
        const e = (() => {
          try {
            return v.safeParse(ErrorSchema, JSON.parse(text));
          } catch {
            return undefined;
          }
        })();
        throw new V3Error(e?.success ? e.output.code : 2, e?.success ? (e.output.message ?? text) : text);
      }
      let buf = "";
      const decoder = new TextDecoder();
      for await (const c of stream.chunks) {
        buf += decoder.decode(c, { stream: true });
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === "") continue;
          const parsed = v.safeParse(WatchLineSchema, JSON.parse(line));
          if (!parsed.success) throw new V3Error(2, `invalid watch answer: ${line.slice(0, 200)}`);
          if (parsed.output.error) throw new V3Error(parsed.output.error.grpc_code, parsed.output.error.message);
          const r = parsed.output.result;
          if (r === undefined || r.created === true) continue;
          const batch: WatchBatch = {
            revision: Number(r.header?.revision ?? 0),
            compactRevision: Number(r.compact_revision),
            canceled: r.canceled === true,
            events: r.events.map((ev) => ({
              type: ev.type === "DELETE" ? "DELETE" : "PUT",
              kv: kv(ev.kv ?? { key: "", value: "", create_revision: "0", mod_revision: "0", version: "0", lease: "0" }),
              ...(ev.prev_kv ? { prevKv: kv(ev.prev_kv) } : {}),
            })),
          };
          yield batch;
          if (batch.canceled) return;
        }
      }
      if (o.signal?.aborted) return;
      throw new NetworkError("watch stream ended");
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
      stream.close();
    }
  }
}
