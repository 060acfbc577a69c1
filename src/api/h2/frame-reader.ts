// Cuts the socket byte stream into frames. Complete frames inside one chunk are handed over as
// ranges of that chunk (no copy). A frame split across chunks is copied, octet by octet as they
// arrive, into a buffer of its own size (allocated once its header is known), and handed over
// from there: each of its octets is copied once, and no chunk is kept past its own turn. A
// kept chunk (up to 512 KB read at once) would live on for a whole frame's fragment of it;
// while a slowed connection's reading pauses (input-pacer.ts) that outlives the collector's
// young generation, and each such chunk stays in memory until the next full collection.

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
  /**
   * The frame split across chunks, being filled: its header alone (FRAME_HEADER_SIZE octets)
   * until that is complete, then the whole frame. null when none is.
   */
  private split: Buffer | null = null;
  /** Octets of `split` filled so far. Invariant: 0 < filled < split.length while split is set. */
  private filled = 0;

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
    }
    // A frame split across chunks: only its own missing octets are taken from this chunk (the
    // rest of the chunk is parsed in place below).
    while (this.split !== null) {
      const s = this.split;
      const take = Math.min(s.length - this.filled, chunk.length - off);
      chunk.copy(s, this.filled, off, off + take);
      this.filled += take;
      off += take;
      if (this.filled < s.length) return;
      if (s.length === FRAME_HEADER_SIZE) {
        // The header is complete: now the payload's length is known.
        const len = this.lengthAt(s, 0);
        if (len > 0) {
          this.split = Buffer.allocUnsafe(FRAME_HEADER_SIZE + len);
          s.copy(this.split, 0);
          continue;
        }
      }
      this.split = null;
      this.filled = 0;
      this.onFrame(s[3], s[4], streamIdAt(s, 0), s, FRAME_HEADER_SIZE, s.length);
      if (this.stopped) return;
    }
    const buf = chunk;
    const n = buf.length;
    let len = -1;
    while (!this.stopped && n - off >= FRAME_HEADER_SIZE) {
      len = this.lengthAt(buf, off);
      if (n - off < FRAME_HEADER_SIZE + len) break;
      const streamId = streamIdAt(buf, off);
      const start = off + FRAME_HEADER_SIZE;
      off = start + len;
      len = -1;
      this.onFrame(buf[start - 6], buf[start - 5], streamId, buf, start, off);
    }
    if (!this.stopped && off < n) {
      // The start of a split frame: copied out, so this chunk is not kept for it.
      this.split = Buffer.allocUnsafe(len >= 0 ? FRAME_HEADER_SIZE + len : FRAME_HEADER_SIZE);
      this.filled = buf.copy(this.split, 0, off, n);
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
