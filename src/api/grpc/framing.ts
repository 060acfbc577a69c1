// gRPC length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length,
// then the message. Messages may be split across DATA frames or share one.
import { fromBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Code, Errors } from "../../rpctypes/index.ts";
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

const asBuffer = (c: Uint8Array): Buffer => (Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));

/**
 * Incremental decoder for one stream's request bytes. Rejects, with grpc-go's texts, frames
 * larger than `maxLen` (before buffering them) and compressed frames (no decompressor is
 * installed, like etcd).
 *
 * A message split over many DATA frames is kept as the list of its chunks and copied once,
 * when its last octet arrives: the work per chunk is constant however large the message is
 * (copying the pending bytes on every chunk made a 2 MB message sent one octet per frame cost
 * gigabytes of copying).
 */
export class FrameReader {
  // Invariant: pendingLen === sum of pending chunk lengths, and pendingLen < need after push.
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Octets the pending bytes need before the next step: the header, then the whole frame. */
  private need = FRAME_HEADER_BYTES;

  constructor(
    private readonly maxLen: number,
    private readonly encoding: string | undefined,
  ) {}

  /** True while a partial frame is buffered (a stream ending now was cut short). */
  get partial(): boolean {
    return this.pendingLen > 0;
  }

  /** Appends `chunk` and pushes every complete message onto `out`; throws EtcdError. */
  push(chunk: Uint8Array, out: Uint8Array[]): void {
    if (chunk.length === 0) return;
    let buf = asBuffer(chunk);
    if (this.pendingLen > 0) {
      this.pending.push(buf);
      this.pendingLen += buf.length;
      // Still short of the header or of the announced message: nothing to copy yet.
      if (this.pendingLen < this.need) return;
      buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
      this.pending = [];
      this.pendingLen = 0;
    }
    let off = 0;
    this.need = FRAME_HEADER_BYTES;
    while (buf.length - off >= FRAME_HEADER_BYTES) {
      const flag = buf[off]!;
      const len = buf.readUInt32BE(off + 1);
      this.check(flag, len);
      if (buf.length - off - FRAME_HEADER_BYTES < len) {
        this.need = FRAME_HEADER_BYTES + len;
        break;
      }
      out.push(buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len));
      off += FRAME_HEADER_BYTES + len;
    }
    if (off < buf.length) {
      this.pending.push(off === 0 ? buf : buf.subarray(off));
      this.pendingLen = buf.length - off;
    }
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

/**
 * Message nesting a request may have. Only a Txn nests (RequestOp → TxnRequest → …, two
 * messages a level), and etcd refuses one nested deeper than --max-txn-ops (each level spends
 * one operation of the budget) with "too many operations in txn request". 1000 messages is
 * 500 levels: past the default budget of 128, and shallow enough for the decoder's recursion
 * on the executable's stack.
 */
export const MAX_MESSAGE_DEPTH = 1000;

/** True for the decoder's refusal of deeper nesting (or the stack running out on it). */
export function isTooDeep(err: unknown): boolean {
  return err instanceof Error && (err.message.includes("maximum recursion depth") || (err instanceof RangeError && /call stack/i.test(err.message)));
}

/**
 * Decodes a request message. Nesting past MAX_MESSAGE_DEPTH is etcd's answer to a Txn nested
 * that deep (InvalidArgument), not a decoding failure; other malformed input throws as
 * fromBinary does.
 */
export function decodeRequest(schema: DescMessage, bytes: Uint8Array): Message {
  try {
    return fromBinary(schema, bytes, { recursionLimit: MAX_MESSAGE_DEPTH });
  } catch (err) {
    if (isTooDeep(err)) throw Errors.tooManyOps;
    throw err;
  }
}
