// unix:// and unixs:// peer URLs, which etcd accepts: the socket file is the URL's host:port
// (relative to the working directory), unixs is TLS over it.

/** True for unix:// and unixs:// URLs. */
export function isUnixUrl(url: URL): boolean {
  return url.protocol === "unix:" || url.protocol === "unixs:";
}

/** TLS is spoken on https:// and unixs:// URLs. */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === "https:" || url.protocol === "unixs:";
}

/** The socket file of a unix URL. */
export function socketPath(url: URL): string {
  return decodeURIComponent(url.host);
}
