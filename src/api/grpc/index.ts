// gRPC for the client port: framing, status mapping, the transport-neutral call, and its
// bindings to node:http2 and to the h2 engine.
export { GrpcCall, finishWithError, type GrpcPort, type GrpcRequestMeta, type GrpcCallOptions } from "./call.ts";
export { createNodeGrpcHandler } from "./node-binding.ts";
export { createEngineGrpcHandler } from "./engine-binding.ts";
export { encodeFrame, FrameReader, FRAME_HEADER_BYTES } from "./framing.ts";
export { toStatus, grpcError, encodeGrpcMessage, decodeGrpcMessage, type GrpcStatus } from "./status.ts";
