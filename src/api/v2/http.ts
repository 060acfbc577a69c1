// Responses the v2 handlers share, written the way etcd's Go handlers write them: Go's
// http.Error texts, {"message":…} errors, v2 error bodies with X-Etcd-Index, Go's JSON encoding.
import { goString, V2Error } from "../../server/v2-service.ts";

const TEXT_HEADERS = { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" };

/**
 * A complete body with its Content-Length (the client port's bridge then writes head and body in
 * one go instead of streaming).
 */
export function fixed(status: number, body: string, headers: Record<string, string>): Response {
  const bytes = encoder.encode(body);
  return new Response(bytes, { status, headers: { ...headers, "content-length": String(bytes.length) } });
}

const encoder = new TextEncoder();

/** Go's http.Error: the text and a newline. */
export function goError(status: number, text: string, headers: Record<string, string> = {}): Response {
  return fixed(status, text + "\n", { ...headers, ...TEXT_HEADERS });
}

/** Go's http.NotFound. */
export function notFound(): Response {
  return goError(404, "404 page not found");
}

/** etcd's allowMethod refusal. */
export function methodNotAllowed(allowed: readonly string[], headers: Record<string, string> = {}): Response {
  return goError(405, "Method Not Allowed", { ...headers, allow: allowed.join(",") });
}

/** etcd's httptypes.HTTPError: {"message":…} without a trailing newline. */
export function messageError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return fixed(status, `{"message":${goString(message)}}`, { ...headers, "content-type": "application/json" });
}

/** A v2 error body: {"errorCode","message","cause","index"} and a newline. */
export function v2ErrorBody(e: V2Error): string {
  let body = `{"errorCode":${e.errorCode},"message":${goString(e.message)}`;
  if (e.cause !== "") body += `,"cause":${goString(e.cause)}`;
  return body + `,"index":${e.index}}\n`;
}

export function v2ErrorHeaders(e: V2Error): Record<string, string> {
  return { "content-type": "application/json", "x-etcd-index": String(e.index) };
}

/** A v2 error answer with X-Etcd-Index. */
export function v2Error(e: V2Error, headers: Record<string, string> = {}): Response {
  return fixed(e.status, v2ErrorBody(e), { ...headers, ...v2ErrorHeaders(e) });
}

/** A JSON body as Go's json.Encoder writes it (with the trailing newline). */
export function jsonLine(status: number, json: string, headers: Record<string, string> = {}): Response {
  return fixed(status, json + "\n", { ...headers, "content-type": "application/json" });
}

export type GoJson = string | number | boolean | null | readonly GoJson[] | { readonly [k: string]: GoJson | undefined };

/** Go's encoding/json for plain values: keys in the given order, HTML-safe strings. */
export function goJson(v: GoJson): string {
  if (v === null) return "null";
  if (typeof v === "string") return goString(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(goJson).join(",")}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as { readonly [k: string]: GoJson | undefined })) {
    if (x !== undefined) parts.push(`${goString(k)}:${goJson(x)}`);
  }
  return `{${parts.join(",")}}`;
}

/**
 * Go's ServeMux path cleaning: a path with "//", "." or ".." elements is redirected to its clean
 * form (a trailing slash is kept). Returns the clean path, or undefined when it is clean.
 */
export function uncleanPath(p: string): string | undefined {
  if (p === "") return "/";
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  let clean = "/" + parts.join("/");
  if (p.endsWith("/") && clean !== "/") clean += "/";
  return clean === p ? undefined : clean;
}

/** Go's url.PathUnescape: %XX bytes read as UTF-8; undefined for a malformed escape. */
export function pathUnescape(p: string): string | undefined {
  if (!p.includes("%")) return p;
  try {
    return decodeURIComponent(p);
  } catch {
    // Valid escapes of bytes that are not UTF-8: decode by hand with replacement characters.
    const bytes: number[] = [];
    const enc = new TextEncoder();
    for (let i = 0; i < p.length; i++) {
      if (p[i] === "%") {
        const hex = p.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else for (const b of enc.encode(p[i]!)) bytes.push(b);
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
}
