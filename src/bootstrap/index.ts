// Bootstrap: static flags, v2 discovery, v3 discovery and DNS SRV, each ending in one
// InitialCluster value; the client-side SRV lookup; the v2 discovery wire format and a small
// v3 gateway client shared with `conclave discovery`.
export { type BootstrapSource, formatUrlsMap, hasDuplicateUrl, type InitialCluster, parseUrlsMap } from "./initial-cluster.ts";
export {
  type BootstrapEffects,
  bootstrapSource,
  type ResolvedBootstrap,
  resolveInitialCluster,
  verifyInitialCluster,
} from "./resolve.ts";
export { BootstrapError } from "./errors.ts";
// What a discovery join throws (a catalogue entry: src/rpctypes/discovery.ts).
export { DiscoveryError } from "../rpctypes/index.ts";
export type { BootstrapLogger } from "./logger.ts";
export { type Resolver, type SrvRecord, systemResolver, tcpAddrString } from "./resolver.ts";
export { type SrvCluster, srvClusterNames } from "./srv.ts";
export { type ClientSrvOptions, type ClientSrvResult, discoverClientEndpoints, srvServiceName } from "./client-srv.ts";
export {
  type ClientTlsOptions,
  createHttpClient,
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
  NetworkError,
  TimeoutError,
} from "./http-client.ts";
export { formatV2Error, type V2ErrorBody, type V2Event, type V2Node } from "./v2-protocol.ts";
export { type Compare, endpointUrl, type KeyValue, type Op, prefixEnd, V3Client, type V3ClientOptions, V3Error, type WatchBatch } from "./v3-client.ts";
export { joinV2Discovery } from "./v2-discovery.ts";
export { joinV3Discovery, membersPrefix, sizeKey } from "./v3-discovery.ts";
export { discoveryFailure } from "./failure.ts";
