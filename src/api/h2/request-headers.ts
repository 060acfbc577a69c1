// Request header validation (RFC 9113 §8.2, §8.3): the decoded field list of a request's
// HEADERS becomes the stream's header map, or null when the request is malformed.

import type { HpackDecoder } from "./hpack-decoder.ts";

const PSEUDO = new Set([":method", ":path", ":scheme", ":authority", ":protocol"]);

/**
 * Builds the header map from the decoder's last block. Repeated names are joined with ", "
 * ("; " for cookie, §8.2.3). Returns null for: invalid or upper-case names, unknown, repeated or
 * late pseudo-headers, connection-specific fields, "te" other than "trailers", or missing
 * :method / :scheme / :path (CONNECT: :authority only).
 */
export function requestHeaders(d: HpackDecoder): Map<string, string> | null {
  if (d.badName) return null;
  const headers = new Map<string, string>();
  let regular = false;
  for (let i = 0; i < d.count; i++) {
    const name = d.names[i];
    const value = d.values[i];
    if (name.charCodeAt(0) === 58 /* : */) {
      if (regular || !PSEUDO.has(name) || headers.has(name)) return null;
      headers.set(name, value);
      continue;
    }
    regular = true;
    switch (name) {
      case "connection": case "keep-alive": case "proxy-connection": case "transfer-encoding": case "upgrade":
        return null;
      case "te":
        if (value !== "trailers") return null;
        break;
    }
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : prev + (name === "cookie" ? "; " : ", ") + value);
  }
  const method = headers.get(":method");
  if (method === undefined) return null;
  if (method === "CONNECT" && !headers.has(":protocol")) {
    return headers.has(":authority") && !headers.has(":scheme") && !headers.has(":path") ? headers : null;
  }
  return headers.get(":path") && headers.has(":scheme") ? headers : null;
}
