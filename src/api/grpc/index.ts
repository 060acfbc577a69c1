// gRPC on node:http2 streams: framing, status mapping, the stream handler.
export { createGrpcHandler, respondError, type GrpcHandlerOptions } from "./handler.ts";
export { encodeFrame, FrameReader, FRAME_HEADER_BYTES } from "./framing.ts";
export { toStatus, grpcError, encodeGrpcMessage, decodeGrpcMessage, type GrpcStatus } from "./status.ts";
