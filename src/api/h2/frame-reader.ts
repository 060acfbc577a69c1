// Cuts the socket byte stream into frames. Complete frames inside one chunk are handed over as
// ranges of that chunk (no copy); only a frame split across chunks is reassembled, once all of
// its octets have arrived (so a large frame trickling in is never copied more than once), and
// from the chunk that completes it only its own octets are copied.

import { CLIENT_PREFACE, ErrorCode, FRAME_HEADER_SIZE } from "./constants.ts";
import { ConnectionError } from "./errors.ts";

/** Called once per frame; payload is buf[start, end) and stays valid (chunks are never reused). */
export type FrameHandler = (type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number) => void;

export class FrameReader {
  /** Frames longer than this are a FRAME_SIZE_ERROR (our SETTINGS_MAX_FRAME_SIZE). */
  maxFrameSize: number;
  /** Set to stop handing out frames (after a connection error). */
  stopped = false;
  private prefaceAt: number;
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Octets needed before parsing can progress. Invariant: partsLen < need when partsLen > 0. */
  private need = FRAME_HEADER_SIZE;

  constructor(maxFrameSize: number, private readonly onFrame: FrameHandler, expectPreface = true) {
    this.maxFrameSize = maxFrameSize;
    this.prefaceAt = expectPreface ? 0 : CLIENT_PREFACE.length;
  }

  /** Consumes one chunk. Throws ConnectionError on a bad preface or an oversized frame. */
  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    let off = 0;
    if (this.prefaceAt < CLIENT_PREFACE.length) {
      while (this.prefaceAt < CLIENT_PREFACE.length && off < chunk.length) {
        if (chunk[off++] !== CLIENT_PREFACE[this.prefaceAt++]) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: invalid connection preface");
        }
      }
      if (off === chunk.length) return;
      chunk = chunk.subarray(off);
      off = 0;
    }
    // A frame split across chunks: only its own missing octets are taken from this chunk and
    // joined (the rest of the chunk is parsed in place below), so each octet is copied at most
    // once whatever the chunk and frame sizes.
    while (this.partsLen > 0) {
      const take = Math.min(this.need - this.partsLen, chunk.length - off);
      this.parts.push(chunk.subarray(off, off + take));
      this.partsLen += take;
      off += take;
      if (this.partsLen < this.need) return;
      const joined = Buffer.concat(this.parts, this.partsLen);
      this.parts = [];
      this.partsLen = 0;
      const len = this.lengthAt(joined, 0);
      if (joined.length < FRAME_HEADER_SIZE + len) {
        // Only the header was complete: now the payload's length is known.
        this.parts.push(joined);
        this.partsLen = joined.length;
        this.need = FRAME_HEADER_SIZE + len;
        continue;
      }
      this.need = FRAME_HEADER_SIZE;
      this.onFrame(joined[3], joined[4], streamIdAt(joined, 0), joined, FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + len);
      if (this.stopped) return;
    }
    const buf = chunk;
    const n = buf.length;
    this.need = FRAME_HEADER_SIZE;
    while (!this.stopped && n - off >= FRAME_HEADER_SIZE) {
      const len = this.lengthAt(buf, off);
      if (n - off < FRAME_HEADER_SIZE + len) {
        this.need = FRAME_HEADER_SIZE + len;
        break;
      }
      const streamId = streamIdAt(buf, off);
      const start = off + FRAME_HEADER_SIZE;
      off = start + len;
      this.onFrame(buf[start - 6], buf[start - 5], streamId, buf, start, off);
    }
    if (!this.stopped && off < n) {
      this.parts.push(off === 0 ? buf : buf.subarray(off));
      this.partsLen = n - off;
    }
  }

  /** The payload length in the frame header at off; past the maximum frame size it ends the connection. */
  private lengthAt(buf: Buffer, off: number): number {
    const len = (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2];
    if (len > this.maxFrameSize) {
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `h2: frame of ${len} octets exceeds the maximum frame size`);
    }
    return len;
  }
}

/** The stream id in the frame header at off (the reserved bit dropped). */
function streamIdAt(buf: Buffer, off: number): number {
  return ((buf[off + 5] & 0x7f) << 24 | (buf[off + 6] << 16) | (buf[off + 7] << 8) | buf[off + 8]) >>> 0;
}
