// Discovery's part of the catalogue: etcd's v2 and v3 discovery errors and the texts of the v2
// client beneath v2 discovery, exact as a failed join prints them ("failed to join discovery
// cluster (discovery: cluster is full)"). A member decides its exit path by the text, as etcd
// compares its error values.

export const DiscoveryErrors = {
  // etcdserver/api/v2discovery
  invalidURL: "discovery: invalid URL",
  badSizeKey: "discovery: size key is bad",
  sizeNotFound: "discovery: size key not found",
  duplicateID: "discovery: found duplicate id",
  duplicateName: "discovery: found duplicate name",
  fullCluster: "discovery: cluster is full",
  tooManyRetries: "discovery: too many retries",
  badDiscoveryEndpoint: "discovery: bad discovery endpoint",
  // etcd 3.6 server/etcdserver/api/v3discovery
  invalidPeerURL: "discovery: invalid peer URL",
} as const;

/** go.etcd.io/etcd/client (v2), the client the v2 discovery protocol rides on. */
export const V2ClientErrors = {
  invalidJSON: "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.",
  emptyBody: "client: response body is empty",
  clusterUnavailable: "client: etcd cluster is unavailable or misconfigured",
} as const;

/** A discovery failure; `kind` names which of etcd's exit paths its text calls for. */
export class DiscoveryError extends Error {
  override readonly name = "DiscoveryError";

  /** Cluster full → the fallback; duplicate ID → the data-dir advice; duplicate name → its own lines. */
  get kind(): "full" | "duplicate-id" | "duplicate-name" | "other" {
    switch (this.message) {
      case DiscoveryErrors.fullCluster:
        return "full";
      case DiscoveryErrors.duplicateID:
        return "duplicate-id";
      case DiscoveryErrors.duplicateName:
        return "duplicate-name";
      default:
        return "other";
    }
  }
}
