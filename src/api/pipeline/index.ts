// The request pipeline: one context, one fixed order of checks, for every protocol.
export { Pipeline } from "./pipeline.ts";
export { buildContext, tokenOf, type CallMeta } from "./context.ts";
export { authorize, authorizeRenew, watchPermission } from "./authorize.ts";
export { contextDeadlineExceeded, deadlineExceeded, parseGatewayTimeout, parseGrpcTimeout } from "./deadline.ts";
