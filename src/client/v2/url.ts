// URL building the way etcd's v2 client does it with Go's net/url and path packages: paths
// cleaned (path.Clean, pathutil.CanonicalURLPath), escaped as url.URL.String escapes a path,
// query strings and form bodies as url.Values.Encode writes them (keys sorted).

const HEX = "0123456789ABCDEF";

function escape(s: string, keep: (c: number) => boolean, spacePlus: boolean): string {
  let o = "";
  for (const b of Buffer.from(s, "utf8")) {
    if (keep(b)) o += String.fromCharCode(b);
    else if (b === 0x20 && spacePlus) o += "+";
    else o += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return o;
}

const unreserved = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;

/** url.PathEscape-like escaping of a whole path (Go's encodePath mode keeps $&+,/:;=@). */
export function escapePath(p: string): string {
  return escape(p, (c) => unreserved(c) || "$&+,/:;=@".includes(String.fromCharCode(c)), false);
}

/** url.QueryEscape. */
export function queryEscape(s: string): string {
  return escape(s, unreserved, true);
}

/** url.Values.Encode: keys sorted, each value escaped, joined with &. */
export function encodeValues(v: Record<string, string>): string {
  return Object.keys(v)
    .sort()
    .map((k) => `${queryEscape(k)}=${queryEscape(v[k]!)}`)
    .join("&");
}

/** Go's path.Clean. */
export function pathClean(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const s = out.join("/");
  if (rooted) return `/${s}`;
  return s === "" ? "." : s;
}

/** Go's path.Join: the non-empty elements joined with "/", cleaned. */
export function pathJoin(...parts: string[]): string {
  const nonEmpty = parts.filter((x) => x !== "");
  return nonEmpty.length === 0 ? "" : pathClean(nonEmpty.join("/"));
}

/** pathutil.CanonicalURLPath: rooted, cleaned, a trailing slash kept. */
export function canonicalURLPath(p: string): string {
  if (p === "") return "/";
  if (!p.startsWith("/")) p = `/${p}`;
  let np = pathClean(p);
  if (p.endsWith("/") && np !== "/") np += "/";
  return np;
}

/** A parsed endpoint URL (Go's url.URL fields the client uses). */
export interface GoUrl {
  scheme: string;
  /** host[:port] as written. */
  host: string;
  path: string;
}

/**
 * url.Parse for an endpoint, with Go's error text for the mistakes people make
 * ("127.0.0.1:2379" without a scheme).
 */
export function parseGoUrl(raw: string): GoUrl {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(raw);
  if (m === null) {
    const colon = raw.indexOf(":");
    const slash = raw.indexOf("/");
    if (colon >= 0 && (slash < 0 || colon < slash)) throw new Error(`parse ${JSON.stringify(raw)}: first path segment in URL cannot contain colon`);
    return { scheme: "", host: "", path: raw };
  }
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (!rest.startsWith("//")) return { scheme, host: "", path: rest };
  const after = rest.slice(2);
  const end = after.search(/[/?#]/);
  const host = end < 0 ? after : after.slice(0, end);
  const tail = end < 0 ? "" : after.slice(end);
  const path = tail.replace(/[?#].*$/s, "");
  return { scheme, host, path };
}

/** url.URL.String for what parseGoUrl returns. */
export function goUrlString(u: GoUrl): string {
  const path = escapePath(u.path);
  if (u.host === "" && u.scheme !== "") return `${u.scheme}:${path}`;
  return `${u.scheme !== "" ? `${u.scheme}://` : ""}${u.host}${path}`;
}
