// The client port: gRPC, the v3 JSON gateway, /health /version /metrics, Lock & Election.
export {
  startClientServer,
  maxRecvBytes,
  type ClientServer,
  type ClientServerOptions,
} from "./client-server.ts";
export { connectionCap, keepaliveFromFlags, type ClientPortLimits } from "./port/index.ts";
export type { HttpRoute } from "./http/router.ts";
export type { FetchHandler } from "./http/fetch-bridge.ts";
export { DEFAULT_VERSION } from "./http/router.ts";
export { httpStatusFromCode } from "../rpctypes/index.ts";
export { rpcTable } from "./rpc/index.ts";
export { v2Route, type V2ApiOptions } from "./v2/index.ts";
export { Pipeline } from "./pipeline/index.ts";
export { dashboardRoute, memberFetch, type DashboardOptions, type DialMaterial } from "./dashboard/index.ts";
