// Incremental decoding of `[u32 BE length][encoded message]` frames as they arrive on a stream:
// a frame may be split across chunks and a chunk may hold several frames. Bytes are copied only
// when a frame spans chunks, and then once per completed frame rather than once per chunk.
import { CodecError } from "../raft/codec.ts";
import type { Message } from "../raft/message.ts";
import { decodeWireMessage } from "./wire.ts";

export class FrameDecoder {
  // Invariant: have === sum of chunks' lengths, and have < need whenever push returns.
  private chunks: Buffer[] = [];
  private have = 0;
  /** Bytes the pending data needs before the next frame can be decoded (header, then whole frame). */
  private need = 4;

  constructor(private readonly maxFrameBytes: number) {}

  /**
   * Appends the chunk and decodes every complete frame into `out`, in order. Throws CodecError on a
   * malformed or oversized frame; the frames before it are already in `out`. After a throw the
   * decoder must not be used again (the stream is closed).
   */
  push(chunk: Buffer, out: Message[]): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.have += chunk.length;
    if (this.have < this.need) return;
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.have);
    this.chunks = [];
    this.have = 0;
    let pos = 0;
    for (;;) {
      const left = buf.length - pos;
      if (left < 4) {
        this.need = 4;
        break;
      }
      const len = buf.readUInt32BE(pos);
      if (len > this.maxFrameBytes) throw new CodecError(`frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes}`);
      if (left < 4 + len) {
        this.need = 4 + len;
        break;
      }
      out.push(decodeWireMessage(buf.subarray(pos + 4, pos + 4 + len)));
      pos += 4 + len;
    }
    if (pos < buf.length) {
      this.chunks.push(buf.subarray(pos));
      this.have = buf.length - pos;
    }
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.have;
  }
}
