// The client library: etcd's v3 API over gRPC with clientv3's behaviour (failover, retries of
// safe calls, auth tokens, TLS, timeouts), watches, lease keep-alive and the lock/election recipes.
export { Client, type CallOptions, type ChannelLike, type ClientConfig, isTokenError, methodPath, TypedStream } from "./client.ts";
export type { ChannelOptions, GrpcStream, Metadata, TlsSettings } from "./channel.ts";
export { parseEndpoint, type Endpoint, EndpointError } from "./endpoint.ts";
export { canceled, ClientError, deadlineExceeded } from "./errors.ts";
export { bytes, prefixEnd } from "./keys.ts";
export { keepAlive, type KeepAliveHandle, keepAliveOnce } from "./lease.ts";
export { isProgressNotify, type WatchHandle, Watcher, type WatchOptions, type WatchUpdate } from "./watch.ts";
export { Election, Mutex, Session } from "./concurrency.ts";
export { Syncer } from "./mirror.ts";
