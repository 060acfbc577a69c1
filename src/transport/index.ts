// The peer transport: raft messages on long-lived upgraded streams (POST /raft batches when there
// is no stream), snapshot streaming, lease forwarding and bootstrap probes between members over
// HTTP on the listen peer URLs.
export { createPeerTransport, defaultLimits, peerLimitsFor } from "./peer-transport.ts";
export { PeerRequestError } from "./errors.ts";
export type {
  PeerHandler, PeerMember, PeerStats, PeerTransport, PeerTransportLimits, PeerTransportOptions,
} from "./types.ts";
export {
  announcedImageLength, CLUSTER_VERSION, decodeBatch, encodeBatch, formatId, Header, imageLengthData, parseHexId, Paths, SERVER_VERSION,
  STREAM_PROTOCOL, Texts,
} from "./wire.ts";
export { FrameDecoder } from "./frame-decoder.ts";
