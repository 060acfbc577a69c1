// Plain HTTP on the client port: one exchange type for HTTP/1.1 and HTTP/2, the router.
export { fromHttp1, fromHttp2, readBody, header, type HttpExchange } from "./exchange.ts";
export { HttpRouter, DEFAULT_VERSION, type HttpRoute, type HttpRouterOptions } from "./router.ts";
export { exchangeOf, serveFetch, type FetchHandler } from "./fetch-bridge.ts";
