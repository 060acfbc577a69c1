// gRPC length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length,
// then the message. Messages may be split across DATA frames or share one.
import { Code } from "../../rpctypes/index.ts";
import { grpcError } from "./status.ts";

export const FRAME_HEADER_BYTES = 5;

/** Frames one encoded message (never compressed). */
export function encodeFrame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Incremental decoder for one stream's request bytes. Rejects, with grpc-go's texts, frames
 * larger than `maxLen` (before buffering them) and compressed frames (no decompressor is
 * installed, like etcd).
 */
export class FrameReader {
  private pending: Buffer | null = null;

  constructor(
    private readonly maxLen: number,
    private readonly encoding: string | undefined,
  ) {}

  /** True while a partial frame is buffered (a stream ending now was cut short). */
  get partial(): boolean {
    return this.pending !== null && this.pending.length > 0;
  }

  /** Appends `chunk` and pushes every complete message onto `out`; throws EtcdError. */
  push(chunk: Uint8Array, out: Uint8Array[]): void {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let off = 0;
    while (buf.length - off >= FRAME_HEADER_BYTES) {
      const flag = buf[off]!;
      const len = buf.readUInt32BE(off + 1);
      this.check(flag, len);
      if (buf.length - off - FRAME_HEADER_BYTES < len) break;
      out.push(buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len));
      off += FRAME_HEADER_BYTES + len;
    }
    if (off < buf.length) this.pending = buf.subarray(off);
  }

  private check(flag: number, len: number): void {
    if (flag === 1) {
      const enc = this.encoding;
      if (enc === undefined || enc === "" || enc === "identity") {
        throw grpcError(Code.Internal, "grpc: compressed flag set with identity or empty encoding");
      }
      throw grpcError(Code.Unimplemented, `grpc: Decompressor is not installed for grpc-encoding "${enc}"`);
    }
    if (flag !== 0) {
      throw grpcError(Code.Internal, `grpc: received unexpected payload format ${flag}`);
    }
    if (len > this.maxLen) {
      throw grpcError(
        Code.ResourceExhausted,
        `grpc: received message larger than max (${len} vs. ${this.maxLen})`,
      );
    }
  }
}
