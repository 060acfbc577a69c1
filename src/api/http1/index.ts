// A small HTTP/1.1 server engine for the client port's plain HTTP (gateway, v2 API, health,
// metrics), over a socket handed to it after the HTTP/2 preface sniff or TLS ALPN.
export { DEFAULT_MAX_HEAD_BYTES, serveH1, type H1Options } from "./connection.ts";
export { HeadError, parseHead, refusalAnswer, type RequestHead } from "./request-head.ts";
