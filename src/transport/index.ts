// The peer transport: raft message batches, snapshot streaming, lease forwarding and bootstrap
// probes between members over HTTP on the listen peer URLs.
export { createPeerTransport, defaultLimits } from "./peer-transport.ts";
export { PeerRequestError } from "./errors.ts";
export type {
  PeerHandler, PeerMember, PeerTransport, PeerTransportLimits, PeerTransportOptions,
} from "./types.ts";
export {
  CLUSTER_VERSION, decodeBatch, encodeBatch, formatId, Header, parseHexId, Paths, SERVER_VERSION, Texts,
} from "./wire.ts";
