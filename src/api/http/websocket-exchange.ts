// The websocket form of the gateway, as etcd 3.4 serves it (grpc-websocket-proxy around its
// gateway mux, method forced to POST): every message the client sends becomes one line of the
// request body; every line the route answers becomes one text message. A stream that ends
// closes the connection (no close frame, as the proxy just closes it); a client's close frame
// is echoed and ends the request body. Only Origin, Referer and an Authorization taken from
// "Sec-WebSocket-Protocol: Bearer, <token>" (or a "token" cookie) reach the route.
import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { PassThrough } from "node:stream";
import { DEFAULT_LIMITS, OutputGuard, realClock } from "../h2/index.ts";
import type { HttpExchange } from "./exchange.ts";
import { acceptKey, closeFrame, encodeFrame, FrameParser, Opcode, WebSocketError } from "./websocket.ts";

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 405: "Method Not Allowed" };

/** The request head of an upgrade (node:http's IncomingMessage or the HTTP/1.1 engine's head). */
export interface UpgradeRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

const hasToken = (v: string | string[] | undefined, token: string) =>
  [v ?? ""].flat().some((x) => x.split(",").some((t) => t.trim().toLowerCase() === token));

/** gorilla/websocket's IsWebSocketUpgrade: the Connection and Upgrade headers ask for it. */
export function isWebSocketUpgrade(headers: IncomingHttpHeaders): boolean {
  return hasToken(headers.connection, "upgrade") && hasToken(headers.upgrade, "websocket");
}

/** gorilla's refusal of a bad handshake: Go's http.Error with Sec-Websocket-Version: 13. */
function refuse(socket: Socket, status: number): void {
  const body = `${STATUS_TEXT[status]}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\n` +
      `X-Content-Type-Options: nosniff\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The proxy's Authorization: "Bearer, foo" in Sec-WebSocket-Protocol becomes "Bearer foo"; a token cookie wins. */
function authorization(h: IncomingHttpHeaders): string | undefined {
  let auth: string | undefined;
  const swsp = typeof h["sec-websocket-protocol"] === "string" ? h["sec-websocket-protocol"] : undefined;
  if (swsp !== undefined && swsp !== "") {
    const i = swsp.indexOf("Bearer,");
    auth = i < 0 ? "" : `Bearer ${swsp.slice(i + 7).trim()}`;
  }
  const cookie = /(?:^|;\s*)token=([^;]*)/.exec(h.cookie ?? "");
  if (cookie !== null) auth = `Bearer ${cookie[1]}`;
  return auth;
}

/**
 * Completes the handshake of a websocket upgrade request and returns the exchange for the
 * router (method POST, same URL); undefined when the handshake was refused (answered here).
 * `maxMessage`: octets a client message may have (larger ones close with 1009). `oneRequest`:
 * the route reads a single request (unary, server-streaming): the body ends after the first
 * message, as the gateway's decoder reads one JSON value and answers without waiting for more.
 */
export function upgradeToExchange(
  req: UpgradeRequest,
  socket: Socket,
  head: Buffer,
  maxMessage: number,
  oneRequest: boolean,
): HttpExchange | undefined {
  const h = req.headers;
  if (req.method !== "GET") return void refuse(socket, 405);
  if (!hasToken(h["sec-websocket-version"], "13")) return void refuse(socket, 400);
  const key = typeof h["sec-websocket-key"] === "string" ? h["sec-websocket-key"].trim() : "";
  if (key === "") return void refuse(socket, 400);
  const bearer = typeof h["sec-websocket-protocol"] === "string" && h["sec-websocket-protocol"].startsWith("Bearer");
  socket.setNoDelay?.(true);
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
      (bearer ? "Sec-WebSocket-Protocol: Bearer\r\n" : "") + "\r\n",
  );

  const headers: IncomingHttpHeaders = {};
  if (h.origin !== undefined) headers.origin = h.origin;
  if (h.referer !== undefined) headers.referer = h.referer;
  const auth = authorization(h);
  if (auth !== undefined) headers.authorization = auth;

  const guard = new OutputGuard(
    {
      bound: DEFAULT_LIMITS.connectionOutputBound,
      hardCap: DEFAULT_LIMITS.connectionOutputHardCap,
      deadlineMs: DEFAULT_LIMITS.outputDeadlineMs,
      clock: realClock,
      onExceeded: () => socket.destroy(),
    },
    () => socket.writableLength,
  );
  const body = new PassThrough();
  let ended = false;
  const finishBody = () => {
    if (!body.writableEnded) body.end();
  };
  const parser = new FrameParser(maxMessage, {
    message(data) {
      if (ended || body.writableEnded) return;
      body.write(data);
      body.write("\n");
      if (oneRequest) finishBody();
    },
    ping(payload) {
      if (!socket.destroyed) socket.write(encodeFrame(Opcode.PONG, payload));
    },
    close(code) {
      // Echo the close, end the request; the connection goes once the route is done.
      ended = true;
      if (!socket.destroyed) socket.end(code === undefined ? encodeFrame(Opcode.CLOSE, Buffer.alloc(0)) : closeFrame(code));
      finishBody();
    },
  });
  const onData = (chunk: Buffer) => {
    try {
      parser.push(chunk);
    } catch (e) {
      ended = true;
      const code = e instanceof WebSocketError ? e.code : 1011;
      if (!socket.destroyed) socket.end(closeFrame(code));
      finishBody();
      socket.destroy();
    }
  };
  socket.on("data", onData);
  socket.on("error", () => {});
  socket.once("close", () => {
    ended = true;
    finishBody();
    guard.stop();
  });
  if (head.length > 0) onData(head);

  // Response lines become text messages; a partial line waits for its end.
  let pending = "";
  const send = (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.length > 0 && !socket.destroyed) socket.write(encodeFrame(Opcode.TEXT, Buffer.from(line)));
    }
    guard.update();
  };
  let responded = false;
  return {
    method: "POST",
    url: req.url ?? "/",
    headers,
    body,
    writeHead() {
      // The proxy's in-memory response writer drops the status and headers.
    },
    write(chunk) {
      if (socket.destroyed || responded) return false;
      send(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return socket.writableLength <= DEFAULT_LIMITS.streamHighWater;
    },
    end(chunk) {
      if (responded) return;
      if (chunk !== undefined && chunk.length > 0) send(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      responded = true;
      if (pending.length > 0 && !socket.destroyed) socket.write(encodeFrame(Opcode.TEXT, Buffer.from(pending)));
      pending = "";
      ended = true;
      finishBody();
      if (!socket.destroyed) socket.end();
    },
    get closed() {
      return responded || socket.destroyed || ended;
    },
    onClose: (fn) => void socket.once("close", fn),
    get writable() {
      return !socket.destroyed && socket.writableLength <= DEFAULT_LIMITS.streamHighWater;
    },
    onDrain: (fn) => void socket.on("drain", fn),
  };
}
