export { rpcTable, rpcServices } from "./table.ts";
export type { RpcMethod, UnaryMethod, ServerStreamMethod, BidiMethod, BidiHandler, StreamSink } from "./method.ts";
