// Endpoint strings as clientv3 accepts them: "host:port", "http://host:port", "https://host:port".
// No scheme means cleartext unless TLS is configured (etcdctl's --cacert/--cert/--key or
// --insecure-transport=false), exactly as etcdctl decides.

export interface Endpoint {
  /** As given by the user (printed in endpoint health/status). */
  readonly raw: string;
  readonly host: string;
  readonly port: number;
  /** Scheme asked for TLS ("https://"), or null when the string had no scheme. */
  readonly scheme: "http" | "https" | null;
  /** host:port for the :authority pseudo-header. */
  readonly authority: string;
}

export class EndpointError extends Error {}

export function parseEndpoint(raw: string): Endpoint {
  let rest = raw.trim();
  let scheme: Endpoint["scheme"] = null;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(rest);
  if (m) {
    const s = m[1]!.toLowerCase();
    if (s !== "http" && s !== "https") throw new EndpointError(`unsupported scheme "${s}" in endpoint ${raw}`);
    scheme = s;
    rest = rest.slice(m[0].length);
  }
  const slash = rest.indexOf("/");
  if (slash >= 0) rest = rest.slice(0, slash);
  let host: string;
  let portText: string;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) throw new EndpointError(`bad endpoint ${raw}`);
    host = rest.slice(1, close);
    portText = rest.slice(close + 1).replace(/^:/, "");
  } else {
    const colon = rest.lastIndexOf(":");
    host = colon >= 0 ? rest.slice(0, colon) : rest;
    portText = colon >= 0 ? rest.slice(colon + 1) : "";
  }
  if (portText === "") portText = scheme === "https" ? "443" : scheme === "http" ? "80" : "";
  const port = Number(portText);
  if (host === "" || !/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new EndpointError(`bad endpoint ${raw}: expected host:port`);
  }
  const authority = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  return { raw, host, port, scheme, authority };
}
