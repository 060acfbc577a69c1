// URL lists with etcd's rules (types.NewURLs, net.SplitHostPort, checkBindURLs) and Go's
// error texts. Parsing follows Go's net/url, not WHATWG: "127.0.0.1:2379" is an error in
// etcd and must stay one here, and a path is rejected rather than normalised to "/".

import { ValueError, goQuote } from "./go-values.ts";

/** One parsed URL. `text` is Go's url.String() form, `host` Go's url.Host ("h:port"). */
export interface GoUrl {
  readonly scheme: string;
  readonly host: string;
  readonly text: string;
}

/** Go's url.getScheme: "" when the string has no scheme. */
function getScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+.-]/.test(c)) {
      if (i === 0) return ["", raw];
      continue;
    }
    if (c === ":") {
      if (i === 0) throw new ValueError(`parse ${goQuote(raw)}: missing protocol scheme`);
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ["", raw];
  }
  return ["", raw];
}

/** Characters Go's net/url accepts unescaped in a host. */
const HOST_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%]*$/;

/** The parts of Go's url.Parse that NewURLs looks at. Throws Go's `parse "..."` errors. */
function goParse(raw: string): { scheme: string; host: string; path: string; opaque: string; rest: string } {
  const fail = (why: string) => new ValueError(`parse ${goQuote(raw)}: ${why}`);
  if (/[\x00-\x1f\x7f]/.test(raw)) throw fail("net/url: invalid control character in URL");
  const hash = raw.indexOf("#");
  const noFrag = hash >= 0 ? raw.slice(0, hash) : raw;
  const [schemeRaw, afterScheme] = getScheme(noFrag);
  const scheme = schemeRaw.toLowerCase();
  const q = afterScheme.indexOf("?");
  let rest = q >= 0 ? afterScheme.slice(0, q) : afterScheme;
  const suffix = (q >= 0 ? afterScheme.slice(q) : "") + (hash >= 0 ? raw.slice(hash) : "");
  if (!rest.startsWith("/")) {
    if (scheme !== "") return { scheme, host: "", path: "", opaque: rest, rest: suffix };
    const seg = rest.split("/")[0] ?? "";
    if (seg.includes(":")) throw fail("first path segment in URL cannot contain colon");
  }
  let host = "";
  if (rest.startsWith("//") && (scheme !== "" || !rest.startsWith("///"))) {
    let authority = rest.slice(2);
    rest = "";
    const slash = authority.indexOf("/");
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    const at = authority.lastIndexOf("@");
    host = at >= 0 ? authority.slice(at + 1) : authority;
    if (host.startsWith("[")) {
      const end = host.indexOf("]");
      if (end < 0) throw fail("missing ']' in host");
      const port = host.slice(end + 1);
      if (port !== "" && !/^:[0-9]*$/.test(port)) throw fail(`invalid port ${goQuote(port)} after host`);
    } else {
      const colon = host.lastIndexOf(":");
      if (colon >= 0) {
        const port = host.slice(colon);
        if (!/^:[0-9]*$/.test(port)) throw fail(`invalid port ${goQuote(port)} after host`);
      }
    }
    const bad = [...host].find((c) => !HOST_CHARS.test(c));
    if (bad !== undefined) throw fail(`invalid character ${goQuote(bad)} in host name`);
  }
  return { scheme, host, path: rest, opaque: "", rest: suffix };
}

/** net.SplitHostPort with Go's error texts. */
export function splitHostPort(hostport: string): { host: string; port: string } {
  const fail = (why: string) => new ValueError(`address ${hostport}: ${why}`);
  const i = hostport.lastIndexOf(":");
  if (i < 0) throw fail("missing port in address");
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith("[")) {
    const end = hostport.indexOf("]");
    if (end < 0) throw fail("missing ']' in address");
    if (end + 1 === hostport.length) throw fail("missing port in address");
    if (end + 1 !== i) {
      throw fail(hostport[end + 1] === ":" ? "too many colons in address" : "missing port in address");
    }
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(":")) throw fail("too many colons in address");
  }
  if (hostport.slice(j).includes("[")) throw fail("unexpected '[' in address");
  if (hostport.slice(k).includes("]")) throw fail("unexpected ']' in address");
  return { host, port: hostport.slice(i + 1) };
}

/** One URL as etcd's types.NewURLs accepts it. */
export function parseEtcdUrl(input: string): GoUrl {
  const raw = input.trim();
  const p = goParse(raw);
  if (!["http", "https", "unix", "unixs"].includes(p.scheme)) {
    throw new ValueError(`URL scheme must be http, https, unix, or unixs: ${raw}`);
  }
  try {
    splitHostPort(p.host);
  } catch {
    throw new ValueError(`URL address does not have the form "host:port": ${raw}`);
  }
  if (p.path !== "") throw new ValueError(`URL must not contain a path: ${raw}`);
  return { scheme: p.scheme, host: p.host, text: `${p.scheme}://${p.host}${p.rest}` };
}

/**
 * The WHATWG URL of a checked GoUrl. Done after etcd's checks so that a URL both parsers
 * reject (an empty host, say) gets etcd's message, not WHATWG's.
 */
export function toWebUrl(u: GoUrl): URL {
  try {
    return new URL(u.text);
  } catch {
    throw new ValueError(`URL address does not have the form "host:port": ${u.text}`);
  }
}

/** types.NewURLs: a comma list, each checked, sorted by string form as etcd does. */
export function parseUrlList(s: string): GoUrl[] {
  const all = s.split(",").map(parseEtcdUrl);
  return all.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

/** flags.UniqueURLs: "" means an empty list; duplicates collapse. */
export function parseUniqueUrlList(s: string): GoUrl[] {
  if (s === "") return [];
  const seen = new Set<string>();
  return parseUrlList(s).filter((u) => (seen.has(u.text) ? false : (seen.add(u.text), true)));
}

const IPV4_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4 = new RegExp(`^${IPV4_OCTET}(?:\\.${IPV4_OCTET}){3}$`);

/**
 * Go's net.ParseIP(host) != nil, without zones: dotted-quad IPv4 (no leading zeros) or IPv6
 * (the URL parser's IPv6 grammar, embedded IPv4 included). Local so that parsing flags does not
 * load node:net, which a one-shot command such as --version would pay for at start.
 */
export function isIpLiteral(host: string): boolean {
  if (IPV4.test(host)) return true;
  if (!host.includes(":") || host.includes("%") || host.includes("[") || host.includes("]")) return false;
  try {
    return new URL(`http://[${host}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/** embed.checkBindURLs: listen URLs need an IP literal or "localhost". */
export function checkBindUrls(urls: readonly GoUrl[]): void {
  for (const u of urls) {
    if (u.scheme === "unix" || u.scheme === "unixs") continue;
    const { host } = splitHostPort(u.host);
    if (host === "localhost") continue;
    if (!isIpLiteral(host)) {
      throw new ValueError(`expected IP in URL for binding (${u.text})`);
    }
  }
}

/** embed.checkHostURLs: advertised URLs need a non-empty host. */
export function checkHostUrls(urls: readonly GoUrl[]): void {
  for (const u of urls) {
    const { host } = splitHostPort(u.host);
    if (host === "") throw new ValueError(`unexpected empty host (${u.text})`);
  }
}

/** One `name=url` pair of --initial-cluster. A name listed twice has several URLs. */
export interface InitialClusterEntry {
  readonly name: string;
  readonly url: URL;
}

/**
 * types.NewURLsMap: `name=url,name=url`. Entries keep the order of first appearance of
 * each name; the URLs of one name are sorted (etcd keeps them as a sorted URLs value).
 */
export function parseInitialCluster(s: string): { name: string; urls: GoUrl[] }[] {
  const byName = new Map<string, string[]>();
  for (const item of s.split(",")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    const name = eq >= 0 ? item.slice(0, eq) : item;
    const value = eq >= 0 ? item.slice(eq + 1) : "";
    const list = byName.get(name) ?? [];
    list.push(value);
    byName.set(name, list);
  }
  return [...byName].map(([name, raws]) => ({ name, urls: parseUrlList(raws.join(",")) }));
}

/** The Go string form of a URL held in ServerConfig: `scheme://host:port` without a slash. */
export function urlString(u: URL): string {
  return `${u.protocol}//${u.host}${u.search}`;
}

/** `name=url,...` as etcd prints an initial cluster (and the discovery protocol sends it). */
export function formatInitialCluster(entries: readonly InitialClusterEntry[]): string {
  return entries.map((e) => `${e.name}=${urlString(e.url)}`).join(",");
}
