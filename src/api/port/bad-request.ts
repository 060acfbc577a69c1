// What Go's net/http answers to a request it cannot parse (etcd's HTTP/1.1 side), for the
// failures the runtime's parser reports: a plain-text status line and body, then the
// connection is closed.
import type { Socket } from "node:net";

function answer(status: string): string {
  return `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${status}`;
}

/** The answer to a parser error code (llhttp's HPE_* names, which Node and Bun both use). */
export function badRequestAnswer(code: string | undefined, message: string): string {
  if (code === "HPE_HEADER_OVERFLOW") return answer("431 Request Header Fields Too Large");
  // llhttp reports a bad value byte with the token code: the message tells them apart.
  if (code === "HPE_LF_EXPECTED" || code === "HPE_INVALID_HEADER_VALUE" || /header value/i.test(message)) {
    return answer("400 Bad Request: invalid header value");
  }
  if (code === "HPE_INVALID_HEADER_TOKEN") return answer("400 Bad Request: invalid header name");
  return answer("400 Bad Request");
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
