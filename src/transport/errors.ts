// Failures of a forwarded request that are not the remote member's answer (no route to the
// leader, connection refused, timeout, a garbled reply). The server decides whether to retry or
// to answer the client with etcd's timeout error. An EtcdError from the remote handler is
// rethrown as an EtcdError instead.
export class PeerRequestError extends Error {
  override readonly name = "PeerRequestError";
}
