// The server side of RFC 6455 (WebSocket) framing, as much as the gateway's websocket form
// needs: the opening handshake's answer, an incremental frame reader with a message size
// limit, and unmasked server frames. No extensions are negotiated, so RSV bits are errors.
import { createHash } from "node:crypto";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** Close codes (RFC 6455 §7.4.1). */
export const CloseCode = { NORMAL: 1000, PROTOCOL_ERROR: 1002, TOO_BIG: 1009 } as const;

/** The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** One server frame (never masked, always FIN). */
export function encodeFrame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  out.set(payload, head);
  return out;
}

/** A close frame with a status code. */
export function closeFrame(code: number): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  return encodeFrame(Opcode.CLOSE, p);
}

export class WebSocketError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export interface FrameEvents {
  /** A complete data message (text or binary). */
  message(data: Buffer, opcode: number): void;
  ping(payload: Buffer): void;
  /** A close frame; `code` undefined when it carried none. */
  close(code: number | undefined): void;
}

/**
 * Reads client frames as they arrive. A client frame must be masked (RFC 6455 §5.1); control
 * frames are at most 125 octets and not fragmented; a data message (its fragments together)
 * over `maxMessage` octets is refused before it is buffered. Errors throw WebSocketError with
 * the close code to answer.
 */
export class FrameParser {
  // Invariant: have === sum of chunk lengths, and have < need whenever push returns.
  private chunks: Buffer[] = [];
  private have = 0;
  /** Octets needed before the next frame can be parsed (its header, then all of it). */
  private need = 2;
  /** Fragments of the data message being received, and its opcode (-1 = none). */
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private messageOpcode = -1;
  private closed = false;

  constructor(
    private readonly maxMessage: number,
    private readonly on: FrameEvents,
  ) {}

  push(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.have += chunk.length;
    // Chunks are joined only once enough octets are there: a large frame arriving in many
    // pieces is copied once, not once per piece.
    while (!this.closed && this.have >= this.need) {
      const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.have);
      const used = this.frame(buf);
      if (used < 0) {
        this.chunks = [buf];
        this.need = -used;
        return;
      }
      const rest = buf.subarray(used);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.have = rest.length;
      this.need = 2;
    }
  }

  /** Parses one frame at the start of buf; returns the octets it took, or minus the octets it needs. */
  private frame(buf: Buffer): number {
    const b0 = buf[0]!;
    const b1 = buf[1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (b0 & 0x70) throw new WebSocketError(CloseCode.PROTOCOL_ERROR, "websocket: RSV bits set without an extension");
    if ((b1 & 0x80) === 0) throw new WebSocketError(CloseCode.PROTOCOL_ERROR, "websocket: client frame is not masked");
    let len = b1 & 0x7f;
    let off = 2;
    if (len === 126) {
      if (buf.length < 4) return -4;
      len = buf.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (buf.length < 10) return -10;
      const hi = buf.readUInt32BE(2);
      len = hi * 2 ** 32 + buf.readUInt32BE(6);
      off = 10;
    }
    const control = opcode >= 0x8;
    if (control && (len > 125 || !fin)) throw new WebSocketError(CloseCode.PROTOCOL_ERROR, "websocket: malformed control frame");
    if (!control && this.fragmentBytes + len > this.maxMessage) {
      throw new WebSocketError(CloseCode.TOO_BIG, `websocket: message over ${this.maxMessage} octets`);
    }
    if (buf.length < off + 4 + len) return -(off + 4 + len);
    const mask = buf.subarray(off, off + 4);
    const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    this.deliver(opcode, fin, payload);
    return off + 4 + len;
  }

  private deliver(opcode: number, fin: boolean, payload: Buffer): void {
    switch (opcode) {
      case Opcode.PING:
        return this.on.ping(payload);
      case Opcode.PONG:
        return;
      case Opcode.CLOSE:
        this.closed = true;
        if (payload.length === 1) throw new WebSocketError(CloseCode.PROTOCOL_ERROR, "websocket: malformed close frame");
        return this.on.close(payload.length >= 2 ? payload.readUInt16BE(0) : undefined);
      case Opcode.TEXT:
      case Opcode.BINARY:
        if (this.messageOpcode !== -1) throw new WebSocketError(CloseCode.PROTOCOL_ERROR, "websocket: new message inside a fragmented one");
        if (fin) return this.on.message(payload, opcode);
        this.messageOpcode = opcode;
        this.fragments = [payload];
        this.fragmentBytes = payload.length;
        return;
      case Opcode.CONTINUATION: {
        if (this.messageOpcode === -1) throw new WebSocketError(CloseCode.PROTOCOL_ERROR, "websocket: continuation without a message");
        this.fragments.push(payload);
        this.fragmentBytes += payload.length;
        if (!fin) return;
        const whole = Buffer.concat(this.fragments, this.fragmentBytes);
        const op = this.messageOpcode;
        this.fragments = [];
        this.fragmentBytes = 0;
        this.messageOpcode = -1;
        return this.on.message(whole, op);
      }
      default:
        throw new WebSocketError(CloseCode.PROTOCOL_ERROR, `websocket: unknown opcode ${opcode}`);
    }
  }
}
