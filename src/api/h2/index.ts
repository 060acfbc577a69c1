// A minimal HTTP/2 server engine specialised for gRPC (RFC 9113, RFC 7541), over a socket
// handed to it: cleartext with prior knowledge, or TLS after ALPN chose "h2".

export { serveH2 } from "./connection.ts";
export type { H2Connection, H2Options, H2Stream } from "./types.ts";
export { ErrorCode, CLIENT_PREFACE } from "./constants.ts";
export { HpackDecoder, HpackError } from "./hpack-decoder.ts";
export { encodeHeaderBlock, maxEncodedLength, type HeaderList } from "./hpack-encoder.ts";
export { huffmanDecode, huffmanEncode, huffmanEncodedLength, HuffmanError } from "./huffman.ts";
export { connectH2, H2StreamError, type H2ClientConnection, type H2ClientStream } from "./client-connection.ts";
