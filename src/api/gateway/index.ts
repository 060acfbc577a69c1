// The v3 JSON gateway (grpc-gateway v1 encoding, etcd 3.4 routes).
export { Gateway, writeGatewayError, type GatewayOptions } from "./handler.ts";
export { httpStatusFromCode, statusText } from "../../rpctypes/index.ts";
export { encodeJson, decodeJson, messageFromJsonValue, toJsonValue } from "./json-codec.ts";
export { gatewayRoutes, canonicalGatewayPath } from "./routes.ts";
export { base64ErrorOffset } from "./base64.ts";
export { JsonSplitter } from "./json-splitter.ts";
