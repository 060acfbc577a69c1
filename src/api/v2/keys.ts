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
import { type Form, type FormBody, FormError, formValue, parseForm } from "./form.ts";
import type { HttpExchange } from "../http/exchange.ts";
import { fixed, v2ErrorBody, v2ErrorHeaders } from "./http.ts";

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
  body: FormBody,
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

/** A keys answer: a complete body, or a watcher whose events follow the head. */
export type KeysAnswer =
  | { readonly kind: "body"; readonly status: number; readonly headers: Record<string, string>; readonly body: string }
  | { readonly kind: "watch"; readonly headers: Record<string, string>; readonly watcher: V2Watcher; readonly stream: boolean };

function errorAnswer(e: V2Error, cluster: Record<string, string>): KeysAnswer {
  return { kind: "body", status: e.status, headers: { ...cluster, ...v2ErrorHeaders(e) }, body: v2ErrorBody(e) };
}

/**
 * One /v2/keys request, transport aside (method already checked): `keyPath` is the decoded path
 * after /v2/keys, `rawQuery` the query string as sent, `body` the request body (PUT/POST).
 */
export async function answerKeys(
  d: KeysDeps,
  method: string,
  keyPath: string,
  rawQuery: string,
  contentType: string | null,
  body: FormBody,
  caller: Caller,
  cluster: Record<string, string>,
): Promise<KeysAnswer> {
  let parsed: ParsedKeyRequest;
  try {
    parsed = parseKeyRequest(method, keyPath, contentType, body, rawQuery, d.clock());
  } catch (e) {
    if (e instanceof V2Error) return errorAnswer(e, cluster);
    throw e;
  }
  if (!(await d.access.key(caller, keyPath, parsed.req.recursive))) {
    return errorAnswer(new V2Error(V2Code.Unauthorized, "Insufficient credentials", 0), cluster);
  }
  let ans: V2Answer;
  try {
    ans = await d.svc.do(parsed.req);
  } catch (e) {
    if (e instanceof V2Error) return errorAnswer(trimCause(e), cluster);
    const text = e instanceof Error ? e.message : String(e);
    d.logger.warn("unexpected v2 response error", { "internal-server-error": text });
    return errorAnswer(new V2Error(V2Code.RaftInternal, text, 0), cluster);
  }
  if (ans.watcher !== undefined) {
    const headers = {
      ...cluster,
      "content-type": "application/json",
      "x-etcd-index": String(ans.watcher.startIndex),
      "x-raft-index": String(ans.index),
      "x-raft-term": String(ans.term),
    };
    return { kind: "watch", headers, watcher: ans.watcher, stream: parsed.req.stream };
  }
  if (ans.event === undefined) {
    return errorAnswer(new V2Error(V2Code.RaftInternal, "received response with no Event/Watcher", 0), cluster);
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
  return { kind: "body", status: isCreated(ev) ? 201 : 200, headers, body: eventJson(ev, STORE_KEYS, omit) + "\n" };
}

/** The event lines a watch answer writes after its head: one (a long poll) or all (stream). */
async function* watchLines(w: V2Watcher, stream: boolean): AsyncGenerator<string> {
  for (;;) {
    const e = await w.next();
    if (e === undefined) return;
    yield eventJson(e, STORE_KEYS) + "\n";
    if (!stream) {
      w.end();
      return;
    }
  }
}

const encoder = new TextEncoder();

/** The answer as a Web Response (the hono routes). */
export function keysResponse(a: KeysAnswer, signal: AbortSignal): Response {
  if (a.kind === "body") return fixed(a.status, a.body, a.headers);
  const w = a.watcher;
  if (signal.aborted) w.end();
  else signal.addEventListener("abort", () => w.end(), { once: true });
  const lines = watchLines(w, a.stream);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // An empty first chunk sends the headers now, as etcd flushes them before waiting.
      controller.enqueue(new Uint8Array(0));
    },
    async pull(controller) {
      const next = await lines.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    cancel() {
      w.end();
    },
  });
  return new Response(body, { status: 200, headers: a.headers });
}

/** The answer written straight to the client port's exchange (the fast path, no Web objects). */
export async function writeKeysAnswer(a: KeysAnswer, ex: HttpExchange): Promise<void> {
  if (a.kind === "body") {
    ex.writeHead(a.status, { ...a.headers, "content-length": String(Buffer.byteLength(a.body)) });
    ex.end(a.body);
    return;
  }
  const w = a.watcher;
  ex.onClose(() => w.end());
  if (ex.closed) w.end();
  ex.writeHead(200, a.headers);
  // The head goes out now, as etcd flushes it before waiting.
  ex.write(new Uint8Array(0));
  for await (const line of watchLines(w, a.stream)) {
    if (ex.closed) break;
    ex.write(line);
  }
  w.end();
  ex.end();
}
