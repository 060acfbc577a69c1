// A minimal HTTP/2 server engine specialised for gRPC (RFC 9113, RFC 7541), over a socket
// handed to it: cleartext with prior knowledge, or TLS after ALPN chose "h2". Each defence
// against abusive clients is a limit in limits.ts.

export { serveH2 } from "./connection.ts";
export type { H2Connection, H2Options, H2Stream } from "./types.ts";
export { ErrorCode, CLIENT_PREFACE } from "./constants.ts";
export {
  DEFAULT_KEEPALIVE, DEFAULT_LIMITS, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_HEADER_LIST_SIZE, realClock,
  type H2Clock, type H2Limits, type KeepalivePolicy,
} from "./limits.ts";
export { TOO_MANY_PINGS } from "./ping-policy.ts";
export { OutputGuard, type OutputGuardOptions } from "./output-guard.ts";
export { HpackDecoder, HpackError } from "./hpack-decoder.ts";
export { encodeHeaderBlock, maxEncodedLength, type HeaderList } from "./hpack-encoder.ts";
export { huffmanDecode, huffmanEncode, huffmanEncodedLength, HuffmanError } from "./huffman.ts";
export { connectH2, H2StreamError, type H2ClientConnection, type H2ClientStream, type H2Socket } from "./client-connection.ts";
