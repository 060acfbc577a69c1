// The receiving end of message streams: an HTTP/1.1 upgrade of `GET /raft/stream` that passes the
// same identity check as POST /raft, answered with 101; after it the socket carries message frames
// from the sender only. Each chunk's complete frames are delivered in one handler.receive call.
// A bad frame closes that stream alone; the sender reconnects and raft resends what was lost.
// The only bytes going back are acknowledgements: one byte at most STREAM_ACK_MS after data
// arrives, so the sender can tell a live receiver from a connection that only TCP keeps open.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Message } from "../raft/message.ts";
import { FrameDecoder } from "./frame-decoder.ts";
import { checkPeer, type PeerCheckOptions } from "./peer-check.ts";
import type { PeerHandler } from "./types.ts";
import { formatId, Header, parseHexId, Paths, remoteAddr, STREAM_PROTOCOL } from "./wire.ts";

export interface StreamServerOptions {
  readonly clusterId: () => bigint;
  readonly memberId: bigint;
  readonly handler: PeerHandler;
  readonly logger: { warn(m: string, f?: Record<string, unknown>): void };
  /** The identity check, shared with the peer routes. */
  readonly check: PeerCheckOptions;
  /** Largest frame accepted; a longer one closes the stream. */
  readonly maxFrameBytes: number;
}

export interface StreamServer {
  /** The `upgrade` listener of the peer HTTP servers. */
  onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
  /** Destroys every open inbound stream (upgraded sockets are no longer the HTTP server's). */
  close(): void;
  /** Open inbound streams (for tests and metrics). */
  readonly open: number;
}

/** Upper bound on the delay between data arriving and its acknowledgement. */
export const STREAM_ACK_MS = 50;
const ACK = new Uint8Array([0]);

const REASONS: Record<number, string> = {
  400: "Bad Request", 404: "Not Found", 410: "Gone", 412: "Precondition Failed",
};

export function createStreamServer(o: StreamServerOptions): StreamServer {
  const sockets = new Set<Socket>();
  const check = o.check;

  const answer = (socket: Socket, status: number, text: string) => {
    const body = Buffer.from(text);
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\n${Header.clusterId}: ${formatId(o.clusterId())}\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${text}`,
    );
  };

  const header = (req: IncomingMessage) => (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };

  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => {}); // a reset by the sender is an ordinary end of the stream
    const path = (req.url ?? "").split("?")[0];
    if (path !== Paths.stream || req.method !== "GET" || (req.headers.upgrade ?? "").toLowerCase() !== STREAM_PROTOCOL) {
      return answer(socket, 404, "404 Not Found");
    }
    const refused = checkPeer(check, header(req));
    if (refused) return answer(socket, refused.status, refused.text);
    const from = parseHexId(header(req)(Header.from));
    socket.setNoDelay(true);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_PROTOCOL}\r\n\r\n`);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const decoder = new FrameDecoder(o.maxFrameBytes);
    let ackTimer: ReturnType<typeof setTimeout> | undefined;
    socket.once("close", () => clearTimeout(ackTimer));
    const onData = (chunk: Buffer) => {
      ackTimer ??= setTimeout(() => {
        ackTimer = undefined;
        if (!socket.destroyed) socket.write(ACK);
      }, STREAM_ACK_MS);
      // A sender removed while its stream is open is cut off; its reconnection gets 410.
      if (from !== undefined && o.handler.isRemoved(from)) {
        socket.destroy();
        return;
      }
      if (from !== undefined) o.handler.peerBytesReceived?.(from, chunk.length);
      const msgs: Message[] = [];
      let failure: unknown;
      try {
        decoder.push(chunk, msgs);
      } catch (e) {
        failure = e;
      }
      if (msgs.length > 0) o.handler.receive(msgs);
      if (failure !== undefined) {
        o.logger.warn("closed a raft message stream after a malformed frame", {
          from: from === undefined ? "" : formatId(from), error: failure instanceof Error ? failure.message : String(failure),
        });
        o.handler.peerReceiveFailure?.(remoteAddr(socket));
        socket.off("data", onData);
        socket.destroy();
      }
    };
    socket.on("data", onData);
    if (head.length > 0) onData(head);
  };

  return {
    onUpgrade,
    close() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    get open() {
      return sockets.size;
    },
  };
}
