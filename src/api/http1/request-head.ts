// An HTTP/1.x request head (RFC 9112 §2-§6): request line and header fields, parsed from the
// bytes before the empty line, and how the body that follows is framed. Strict where request
// smuggling hides (Content-Length with Transfer-Encoding, conflicting lengths, obs-fold, bare
// CR/LF or whitespace before a colon); everything refused answers as Go's net/http answers
// (etcd's HTTP/1.1 side): 400, with Go's reason where Go gives one, 431, 501 or 505.
import type { IncomingHttpHeaders } from "node:http";

export interface RequestHead {
  readonly method: string;
  /** The request target as sent (origin form "/path?query" for clients of this port). */
  readonly url: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: number;
  /** Lower-case names; repeated fields joined with ", " (set-cookie kept as an array). */
  readonly headers: IncomingHttpHeaders;
  /** How the body is framed: none, a length, or chunked. */
  readonly body: { readonly kind: "none" } | { readonly kind: "length"; readonly length: number } | { readonly kind: "chunked" };
  /** Whether the connection stays open after this exchange (before the answer decides). */
  readonly keepAlive: boolean;
  /** The client sent `Expect: 100-continue`. */
  readonly expectContinue: boolean;
}

export class HeadError extends Error {
  constructor(
    readonly status: 400 | 431 | 501 | 505,
    message: string,
    /** The reason Go's server gives after the status text ("invalid header value"), if any. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

const STATUS_TEXT: Record<HeadError["status"], string> = {
  400: "Bad Request",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  505: "HTTP Version Not Supported",
};

/**
 * Go's net/http answer to a request it cannot read (server.go): the status line, Content-Type
 * and Connection: close, and the status again as the body (closed by the connection's end).
 */
export function refusalAnswer(status: HeadError["status"], reason?: string): string {
  const line = `${status} ${STATUS_TEXT[status]}${reason === undefined ? "" : `: ${reason}`}`;
  const body = status === 501 ? "Unsupported transfer encoding" : line;
  return `HTTP/1.1 ${line}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${body}`;
}

/** RFC 9110 token characters (method, field names). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible ASCII, obs-text, spaces and tabs (no CR, LF or NUL). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A `%` not followed by two hex digits. */
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
/** The largest body length accepted at all (a limit for readers comes on top). */
const MAX_LENGTH = Number.MAX_SAFE_INTEGER;

/** Parses the head (without the final CRLF CRLF), decoded as latin1. */
export function parseHead(text: string): RequestHead {
  const lines = text.split("\r\n");
  const requestLine = lines[0] ?? "";
  const parts = requestLine.split(" ");
  if (parts.length !== 3) throw new HeadError(400, "malformed request line");
  const [method, url, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw new HeadError(400, "malformed method");
  if (url === "" || /[\x00-\x20\x7f]/.test(url)) throw new HeadError(400, "malformed request target");
  // Go's url.ParseRequestURI refuses a bad escape in the path (the query is kept raw).
  if (BAD_ESCAPE.test(pathOf(url))) throw new HeadError(400, "malformed escape in the request target");
  const vm = /^HTTP\/1\.([01])$/.exec(version);
  if (vm === null) {
    if (/^HTTP\/\d\.\d$/.test(version)) throw new HeadError(505, "HTTP version not supported", "unsupported protocol version");
    throw new HeadError(400, "malformed HTTP version");
  }
  const minor = Number(vm[1]);
  const headers: IncomingHttpHeaders = {};
  const raw = headers as Record<string, string | string[] | undefined>;
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // A bare LF ends a line for Go's reader too, leaving a line without a colon; a bare CR is
    // a byte the name or value checks below refuse, with Go's words for each.
    if (line.includes("\n")) throw new HeadError(400, "bare LF in a header");
    if (line.startsWith(" ") || line.startsWith("\t")) throw new HeadError(400, "obsolete line folding");
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HeadError(400, "malformed header field");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HeadError(400, "malformed header name", "invalid header name");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) throw new HeadError(400, "malformed header value", "invalid header value");
    const key = name.toLowerCase();
    if (key === "content-length") {
      if (!/^\d+$/.test(value)) throw new HeadError(400, "malformed Content-Length");
      const n = Number(value);
      if (n > MAX_LENGTH || (contentLength !== undefined && contentLength !== n)) throw new HeadError(400, "conflicting Content-Length");
      contentLength = n;
    } else if (key === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    }
    const prev = raw[key];
    if (prev === undefined) raw[key] = key === "set-cookie" ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else raw[key] = `${prev}, ${value}`;
  }
  if (minor === 1 && headers.host === undefined) throw new HeadError(400, "missing Host header", "missing required Host header");
  let body: RequestHead["body"] = { kind: "none" };
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) throw new HeadError(400, "both Content-Length and Transfer-Encoding");
    if (transferEncoding.toLowerCase() !== "chunked") throw new HeadError(501, "unsupported Transfer-Encoding");
    body = { kind: "chunked" };
  } else if (contentLength !== undefined && contentLength > 0) {
    body = { kind: "length", length: contentLength };
  }
  const conn = (headers.connection ?? "").toLowerCase();
  const keepAlive = minor === 1 ? !/(^|,)\s*close\s*(,|$)/.test(conn) : /(^|,)\s*keep-alive\s*(,|$)/.test(conn);
  const expectContinue = minor === 1 && (headers.expect ?? "").toLowerCase() === "100-continue";
  return { method, url, minor, headers, body, keepAlive, expectContinue };
}

function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}
