// Serialises outgoing frames into an arena so that everything produced during one event-loop
// turn goes to the socket as a single write. Octets already handed to the socket are never
// overwritten: when the arena fills up a new one is allocated and the old one lives on only as
// long as the socket holds the slices it was given.

import { FRAME_HEADER_SIZE, Flag, FrameType } from "./constants.ts";
import { encodeHeaderBlock, maxEncodedLength, type HeaderList } from "./hpack-encoder.ts";

/**
 * Arenas start small and double, up to ARENA_SIZE, each time one fills: a connection that
 * writes a lot soon takes 64 KiB at a time, one that writes little (a client opening
 * connections by the hundred, as a rapid-reset attacker does) costs 4 KiB, not 64.
 */
const FIRST_ARENA_SIZE = 4 * 1024;
const ARENA_SIZE = 64 * 1024;

export class FrameWriter {
  private arenaSize = FIRST_ARENA_SIZE;
  private buf = Buffer.allocUnsafe(FIRST_ARENA_SIZE);
  /** Octets in [start, end) are queued; [0, start) belong to earlier writes. */
  private start = 0;
  private end = 0;

  /** Number of queued octets not yet taken. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Hands the queued octets over (to socket.write) and forgets them; null when nothing is queued. */
  take(): Buffer | null {
    if (this.end === this.start) return null;
    const out = this.buf.subarray(this.start, this.end);
    this.start = this.end;
    return out;
  }

  private ensure(n: number): void {
    if (this.end + n <= this.buf.length) return;
    const queued = this.end - this.start;
    // Geometric growth while octets are queued, so a long turn never copies quadratically.
    this.arenaSize = Math.min(ARENA_SIZE, this.arenaSize * 2);
    const next = Buffer.allocUnsafe(Math.max(this.arenaSize, 2 * (queued + n)));
    this.buf.copy(next, 0, this.start, this.end);
    this.buf = next;
    this.start = 0;
    this.end = queued;
  }

  private header(len: number, type: number, flags: number, streamId: number): void {
    const b = this.buf;
    const o = this.end;
    b[o] = len >>> 16;
    b[o + 1] = (len >>> 8) & 0xff;
    b[o + 2] = len & 0xff;
    b[o + 3] = type;
    b[o + 4] = flags;
    b.writeUInt32BE(streamId, o + 5);
    this.end = o + FRAME_HEADER_SIZE;
  }

  data(streamId: number, endStream: boolean, payload: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.ensure(FRAME_HEADER_SIZE + n);
    this.header(n, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId);
    if (n > 0) {
      this.buf.set(from === 0 && to === payload.length ? payload : payload.subarray(from, to), this.end);
      this.end += n;
    }
  }

  /** HEADERS (+ CONTINUATION when the block exceeds maxFrameSize, the peer's limit). */
  headers(streamId: number, fields: HeaderList, endStream: boolean, maxFrameSize: number): void {
    const bound = maxEncodedLength(fields);
    this.ensure(FRAME_HEADER_SIZE + bound);
    const at = this.end;
    const blockEnd = encodeHeaderBlock(fields, this.buf, at + FRAME_HEADER_SIZE);
    const len = blockEnd - at - FRAME_HEADER_SIZE;
    const endFlag = endStream ? Flag.END_STREAM : 0;
    if (len <= maxFrameSize) {
      this.header(len, FrameType.HEADERS, Flag.END_HEADERS | endFlag, streamId);
      this.end = blockEnd;
      return;
    }
    const block = Buffer.from(this.buf.subarray(at + FRAME_HEADER_SIZE, blockEnd));
    this.end = at;
    this.ensure(len + FRAME_HEADER_SIZE * Math.ceil(len / maxFrameSize));
    for (let off = 0; off < len; off += maxFrameSize) {
      const n = Math.min(maxFrameSize, len - off);
      const last = off + n === len;
      const type = off === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
      const flags = (off === 0 ? endFlag : 0) | (last ? Flag.END_HEADERS : 0);
      this.header(n, type, flags, streamId);
      block.copy(this.buf, this.end, off, off + n);
      this.end += n;
    }
  }

  rstStream(streamId: number, code: number): void {
    this.ensure(FRAME_HEADER_SIZE + 4);
    this.header(4, FrameType.RST_STREAM, 0, streamId);
    this.buf.writeUInt32BE(code, this.end);
    this.end += 4;
  }

  windowUpdate(streamId: number, increment: number): void {
    this.ensure(FRAME_HEADER_SIZE + 4);
    this.header(4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.buf.writeUInt32BE(increment, this.end);
    this.end += 4;
  }

  settings(values: ReadonlyArray<readonly [number, number]>): void {
    this.ensure(FRAME_HEADER_SIZE + 6 * values.length);
    this.header(6 * values.length, FrameType.SETTINGS, 0, 0);
    for (const [id, value] of values) {
      this.buf.writeUInt16BE(id, this.end);
      this.buf.writeUInt32BE(value, this.end + 2);
      this.end += 6;
    }
  }

  settingsAck(): void {
    this.ensure(FRAME_HEADER_SIZE);
    this.header(0, FrameType.SETTINGS, Flag.ACK, 0);
  }

  pingAck(payload: Uint8Array, from: number): void {
    this.ensure(FRAME_HEADER_SIZE + 8);
    this.header(8, FrameType.PING, Flag.ACK, 0);
    this.buf.set(payload.subarray(from, from + 8), this.end);
    this.end += 8;
  }

  /** A PING of our own (keepalive); its payload is all zero octets. */
  ping(): void {
    this.ensure(FRAME_HEADER_SIZE + 8);
    this.header(8, FrameType.PING, 0, 0);
    this.buf.fill(0, this.end, this.end + 8);
    this.end += 8;
  }

  goaway(lastStreamId: number, code: number, debug: string): void {
    const text = Buffer.from(debug, "utf8");
    this.ensure(FRAME_HEADER_SIZE + 8 + text.length);
    this.header(8 + text.length, FrameType.GOAWAY, 0, 0);
    this.buf.writeUInt32BE(lastStreamId, this.end);
    this.buf.writeUInt32BE(code, this.end + 4);
    text.copy(this.buf, this.end + 8);
    this.end += 8 + text.length;
  }
}
