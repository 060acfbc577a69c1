// /v2/keys (etcd 3.4's keysHandler): form parameters → a v2 request → the member's answer, as
// an event, a long-poll watch (one event) or a stream of events. Parameters are checked in
// etcd's order with etcd's error codes and causes, before anything is proposed.
import * as v from "valibot";
import {
  Action,
  eventJson,
  isCreated,
  type V2Answer,
  V2Code,
  V2Error,
  type V2KeyRequest,
  type V2Service,
  type V2Watcher,
} from "../../server/v2-service.ts";
import type { Logger } from "../../server/logger.ts";
import type { Access, Caller } from "./access.ts";
import { type Form, FormError, formValue, parseForm } from "./form.ts";
import { fixed, v2Error } from "./http.ts";

export const KEYS_PREFIX = "/v2/keys";
/** Where the keys API lives in the store (etcd's StoreKeysPrefix). */
const STORE_KEYS = "/1";
const MAX_UINT64 = (1n << 64n) - 1n;

/** strconv.ParseUint(s, 10, 64). */
const Uint64 = v.pipe(
  v.string(),
  v.regex(/^[0-9]+$/),
  v.transform((s) => BigInt(s)),
  v.maxValue(MAX_UINT64),
);

/** strconv.ParseBool. */
const GoBool = v.pipe(
  v.picklist(["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"]),
  v.transform((s) => s === "1" || s[0] === "t" || s[0] === "T"),
);

function requestError(code: V2Code, cause: string): V2Error {
  return new V2Error(code, cause, 0);
}

/** The first value of `key` as a uint64 (0 when absent), or the given error. */
function getUint64(f: Form, key: string, err: () => V2Error): bigint {
  const vals = f.get(key);
  if (vals === undefined) return 0n;
  const r = v.safeParse(Uint64, vals[0]);
  if (!r.success) throw err();
  return r.output;
}

function getBool(f: Form, key: string, cause = `invalid value for "${key}"`): boolean {
  const vals = f.get(key);
  if (vals === undefined) return false;
  const r = v.safeParse(GoBool, vals[0]);
  if (!r.success) throw requestError(V2Code.InvalidField, cause);
  return r.output;
}

export interface ParsedKeyRequest {
  readonly req: V2KeyRequest;
  readonly noValueOnSuccess: boolean;
}

/**
 * etcd's parseKeyRequest. `keyPath` is the URL path after /v2/keys (decoded); `nowMs` the clock
 * that turns a TTL into an expiry time (the proposer's clock, as in etcd).
 */
export function parseKeyRequest(
  method: string,
  keyPath: string,
  contentType: string | null,
  body: string | null,
  rawQuery: string,
  nowMs: number,
): ParsedKeyRequest {
  let f: Form;
  try {
    f = parseForm(method, contentType, body, rawQuery);
  } catch (e) {
    if (e instanceof FormError) throw requestError(V2Code.InvalidForm, e.message);
    throw e;
  }
  const path = joinPath(STORE_KEYS, keyPath);
  const prevIndex = getUint64(f, "prevIndex", () => requestError(V2Code.IndexNaN, `invalid value for "prevIndex"`));
  const since = getUint64(f, "waitIndex", () => requestError(V2Code.IndexNaN, `invalid value for "waitIndex"`));
  const recursive = getBool(f, "recursive");
  const sorted = getBool(f, "sorted");
  const wait = getBool(f, "wait");
  const dir = getBool(f, "dir");
  const quorum = getBool(f, "quorum");
  const stream = getBool(f, "stream");
  if (wait && method !== "GET") throw requestError(V2Code.InvalidField, `"wait" can only be used with GET requests`);
  const prevValue = formValue(f, "prevValue");
  if (f.has("prevValue") && prevValue === "") throw requestError(V2Code.PrevValueRequired, `"prevValue" cannot be empty`);
  const noValueOnSuccess = getBool(f, "noValueOnSuccess");
  let ttl: bigint | undefined;
  if (formValue(f, "ttl").length > 0) {
    const r = v.safeParse(Uint64, formValue(f, "ttl"));
    if (!r.success) throw requestError(V2Code.TTLNaN, `invalid value for "ttl"`);
    ttl = r.output;
  }
  let prevExist: boolean | undefined;
  if (f.has("prevExist")) prevExist = getBool(f, "prevExist", "invalid value for prevExist");
  let refresh: boolean | undefined;
  if (f.has("refresh")) {
    refresh = getBool(f, "refresh", "invalid value for refresh");
    if (refresh) {
      if (f.has("value") && formValue(f, "value") !== "") throw requestError(V2Code.RefreshValue, "A value was provided on a refresh");
      if (ttl === undefined) throw requestError(V2Code.RefreshTTLRequired, "No TTL value set");
    }
  }
  // Go: Now().Add(time.Duration(ttl) * time.Second).UnixNano(), int64 arithmetic that wraps.
  let expiration = 0n;
  if (ttl !== undefined) {
    const d = BigInt.asIntN(64, BigInt.asIntN(64, ttl) * 1_000_000_000n);
    expiration = BigInt.asIntN(64, BigInt(nowMs) * 1_000_000n + d);
  }
  const req: V2KeyRequest = {
    method,
    path,
    val: formValue(f, "value"),
    dir,
    prevValue,
    prevIndex,
    ...(prevExist !== undefined ? { prevExist } : {}),
    expiration,
    wait,
    since,
    recursive,
    sorted,
    quorum,
    stream,
    ...(refresh !== undefined ? { refresh } : {}),
  };
  return { req, noValueOnSuccess };
}

/**
 * path.Join of the store prefix and the client's key, cleaned. The key is cleaned as a rooted
 * path first, so ".." can never leave the keys namespace (Go's ServeMux redirects such paths
 * before etcd's handler sees them; ours does too, this is the second line).
 */
function joinPath(prefix: string, key: string): string {
  const parts: string[] = [];
  for (const seg of key.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return parts.length === 0 ? prefix : `${prefix}/${parts.join("/")}`;
}

/** Removes the keys namespace from a path in an error's cause (etcd's trimErrorPrefix). */
function trimCause(e: V2Error): V2Error {
  if (!e.cause.startsWith(STORE_KEYS)) return e;
  return new V2Error(e.errorCode, e.cause.slice(STORE_KEYS.length), e.index);
}

export interface KeysDeps {
  readonly svc: V2Service;
  readonly access: Access;
  readonly logger: Logger;
  readonly clock: () => number;
}

/**
 * Serves one /v2/keys request (method already checked). `keyPath` is the decoded path after
 * /v2/keys, `rawQuery` the query string as sent.
 */
export async function serveKeys(
  d: KeysDeps,
  req: Request,
  keyPath: string,
  rawQuery: string,
  caller: Caller,
  cluster: Record<string, string>,
): Promise<Response> {
  const body = req.method === "POST" || req.method === "PUT" || req.method === "PATCH" ? await req.text() : null;
  let parsed: ParsedKeyRequest;
  try {
    parsed = parseKeyRequest(req.method, keyPath, req.headers.get("content-type"), body, rawQuery, d.clock());
  } catch (e) {
    if (e instanceof V2Error) return v2Error(e, cluster);
    throw e;
  }
  if (!(await d.access.key(caller, keyPath, parsed.req.recursive))) {
    return v2Error(new V2Error(V2Code.Unauthorized, "Insufficient credentials", 0), cluster);
  }
  let ans: V2Answer;
  try {
    ans = await d.svc.do(parsed.req);
  } catch (e) {
    if (e instanceof V2Error) return v2Error(trimCause(e), cluster);
    const text = e instanceof Error ? e.message : String(e);
    d.logger.warn("unexpected v2 response error", { "internal-server-error": text });
    return v2Error(new V2Error(V2Code.RaftInternal, text, 0), cluster);
  }
  if (ans.watcher !== undefined) return watchResponse(ans, ans.watcher, parsed.req.stream, cluster, req.signal);
  if (ans.event === undefined) {
    return v2Error(new V2Error(V2Code.RaftInternal, "received response with no Event/Watcher", 0), cluster);
  }
  const ev = ans.event;
  const omit =
    parsed.noValueOnSuccess &&
    (ev.action === Action.Set || ev.action === Action.CompareAndSwap || ev.action === Action.Create || ev.action === Action.Update);
  const headers = {
    ...cluster,
    "content-type": "application/json",
    "x-etcd-index": String(ev.etcdIndex),
    "x-raft-index": String(ans.index),
    "x-raft-term": String(ans.term),
  };
  return fixed(isCreated(ev) ? 201 : 200, eventJson(ev, STORE_KEYS, omit) + "\n", headers);
}

const encoder = new TextEncoder();

/**
 * A watch answer: headers at once (X-Etcd-Index = where the watch started), then one event (a
 * long poll) or every event as it happens (stream=true) until the client goes away.
 */
function watchResponse(ans: V2Answer, w: V2Watcher, stream: boolean, cluster: Record<string, string>, signal: AbortSignal): Response {
  const headers = {
    ...cluster,
    "content-type": "application/json",
    "x-etcd-index": String(w.startIndex),
    "x-raft-index": String(ans.index),
    "x-raft-term": String(ans.term),
  };
  if (signal.aborted) w.end();
  else signal.addEventListener("abort", () => w.end(), { once: true });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // An empty first chunk sends the headers now, as etcd flushes them before waiting.
      controller.enqueue(new Uint8Array(0));
    },
    async pull(controller) {
      const e = await w.next();
      if (e === undefined) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(eventJson(e, STORE_KEYS) + "\n"));
      if (!stream) {
        w.end();
        controller.close();
      }
    },
    cancel() {
      w.end();
    },
  });
  return new Response(body, { status: 200, headers });
}
