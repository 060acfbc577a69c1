export { rpcTable, rpcServices, methodOf } from "./table.ts";
export type { RpcMethod, UnaryMethod, ServerStreamMethod, BidiMethod, BidiHandler, StreamSink, CallScope, MethodPolicy } from "./method.ts";
export type { AuthRule } from "./auth-rules.ts";
