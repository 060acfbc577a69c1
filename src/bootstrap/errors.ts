// The bootstrap layer's errors with etcd's exact texts (v2discovery, v3discovery, the v2
// client, srv and the server's bootstrap checks).

/** An error whose text is part of etcd's contract. */
export class BootstrapError extends Error {
  override readonly name = "BootstrapError";
}

// etcdserver/api/v2discovery
export const ErrInvalidURL = "discovery: invalid URL";
export const ErrBadSizeKey = "discovery: size key is bad";
export const ErrSizeNotFound = "discovery: size key not found";
export const ErrDuplicateID = "discovery: found duplicate id";
export const ErrDuplicateName = "discovery: found duplicate name";
export const ErrFullCluster = "discovery: cluster is full";
export const ErrTooManyRetries = "discovery: too many retries";
export const ErrBadDiscoveryEndpoint = "discovery: bad discovery endpoint";
// etcd 3.6 server/etcdserver/api/v3discovery
export const ErrInvalidPeerURL = "discovery: invalid peer URL";
// go.etcd.io/etcd/client (the v2 client the v2 discovery protocol rides on)
export const ErrInvalidJSON = "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.";
export const ErrEmptyBody = "client: response body is empty";
export const ErrClusterUnavailable = "client: etcd cluster is unavailable or misconfigured";

/**
 * A discovery failure as etcd's DiscoveryError carries it: `kind` tells the member which of
 * etcd's exit paths to take (cluster full → fallback, duplicate ID → the data-dir advice).
 */
export class DiscoveryError extends Error {
  override readonly name = "DiscoveryError";
  constructor(
    message: string,
    readonly kind: "full" | "duplicate-id" | "duplicate-name" | "other" = "other",
  ) {
    super(message);
  }
}
