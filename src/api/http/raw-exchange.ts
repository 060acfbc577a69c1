// A request the HTTP/1.1 server handed over as an upgrade it does not perform (an Upgrade
// header other than a gateway websocket): served as a plain request on the raw socket, as
// Go's server serves it, with the whole answer written at the end and the connection closed.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { PassThrough } from "node:stream";
import type { HttpExchange } from "./exchange.ts";

export function rawExchange(req: IncomingMessage, socket: Socket, head: Buffer): HttpExchange {
  const body = new PassThrough();
  if (head.length > 0) body.write(head);
  // The body of an upgrade request is whatever follows; it ends when the client stops sending.
  socket.on("data", (c: Buffer) => body.write(c));
  socket.once("end", () => body.end());
  socket.on("error", () => {});
  let status = 200;
  let out: Record<string, string> = {};
  const parts: Buffer[] = [];
  let done = false;
  return {
    method: req.method ?? "GET",
    url: req.url ?? "/",
    headers: req.headers,
    body,
    writeHead(s, h) {
      status = s;
      out = h;
    },
    write(chunk) {
      if (done) return false;
      parts.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
      return true;
    },
    end(chunk) {
      if (done) return;
      done = true;
      if (chunk !== undefined) parts.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
      const payload = Buffer.concat(parts);
      let head = `HTTP/1.1 ${status} ${STATUS[status] ?? ""}\r\n`;
      for (const [k, v] of Object.entries(out)) if (k.toLowerCase() !== "transfer-encoding") head += `${k}: ${v}\r\n`;
      head += `Content-Length: ${payload.length}\r\nConnection: close\r\n\r\n`;
      body.end();
      if (!socket.destroyed) socket.end(Buffer.concat([Buffer.from(head, "latin1"), payload]));
    },
    get closed() {
      return done || socket.destroyed;
    },
    onClose: (fn) => void socket.once("close", fn),
    get writable() {
      return !done;
    },
    onDrain: () => {},
  };
}

const STATUS: Record<number, string> = {
  200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 412: "Precondition Failed",
  429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
};
