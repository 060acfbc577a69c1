// What Go's net/http answers to a request it cannot parse (etcd's HTTP/1.1 side), for the
// failures node:http's parser reports (`http1: "node"`; the port's own engine answers its
// refusals itself, in the same words): a plain-text status line and body, then the connection
// is closed.
import type { Socket } from "node:net";
import { refusalAnswer } from "../http1/index.ts";

/** The answer to a parser error code (llhttp's HPE_* names, which Node and Bun both use). */
export function badRequestAnswer(code: string | undefined, message: string): string {
  if (code === "HPE_HEADER_OVERFLOW") return refusalAnswer(431);
  // llhttp reports a bad value byte with the token code: the message tells them apart.
  if (code === "HPE_LF_EXPECTED" || code === "HPE_INVALID_HEADER_VALUE" || /header value/i.test(message)) {
    return refusalAnswer(400, "invalid header value");
  }
  if (code === "HPE_INVALID_HEADER_TOKEN") return refusalAnswer(400, "invalid header name");
  return refusalAnswer(400);
}

/** The HTTP/1.1 server's clientError handler: answer if the socket can still take it, then close. */
export function onClientError(err: Error & { code?: string }, sock: Socket): void {
  if (!sock.writable || sock.destroyed) {
    sock.destroy();
    return;
  }
  // Timeouts and resets end silently, as Go's server does.
  if (err.code === "ECONNRESET" || err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    sock.destroy();
    return;
  }
  sock.end(badRequestAnswer(err.code, err.message));
}
