// A header block being continued: a HEADERS frame without END_HEADERS and the CONTINUATION
// frames that follow it (RFC 9113 §6.10). Each piece is decoded as it arrives (as Go's server
// does), so only a field split across frames is kept between them, never the whole block;
// and CONTINUATION frames per block are counted, so tiny or empty ones cannot be sent without
// end (CVE-2024-27316 and its family).

import { ErrorCode } from "./constants.ts";
import { ConnectionError } from "./errors.ts";
import { HpackError, type HpackDecoder } from "./hpack-decoder.ts";
import { octetsPastLimit } from "./limits.ts";

export class HeaderBlock {
  /** Stream id of the block being continued; 0 = none. */
  stream = 0;
  endStream = false;
  selfDependent = false;
  /**
   * The undecoded tail of the previous piece (part of one field representation) in acc[0,
   * restLen). acc grows by doubling, so a field split over many frames is copied O(its size)
   * times in all, not once per frame.
   */
  private acc: Buffer | null = null;
  private restLen = 0;
  private frames = 0;
  /** Octets of this block read after its header list passed the limit. */
  private past = 0;

  /** maxContinuations: CONTINUATION frames per block before ENHANCE_YOUR_CALM. */
  constructor(private readonly maxContinuations: number) {}

  /** A HEADERS frame without END_HEADERS. */
  begin(id: number, endStream: boolean, selfDependent: boolean): void {
    this.stream = id;
    this.endStream = endStream;
    this.selfDependent = selfDependent;
    this.restLen = 0;
    this.frames = 0;
    this.past = 0;
  }

  /** A CONTINUATION frame arrived. */
  continued(): void {
    if (++this.frames > this.maxContinuations) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "h2: too many CONTINUATION frames");
    }
  }

  /**
   * Decodes one piece (the HEADERS frame's or a CONTINUATION's fragment) into d. Sizes are
   * checked while decoding, so a block past the list limit never becomes strings; such a block
   * may go on for octetsPastLimit more octets, then it ends the connection.
   */
  decode(d: HpackDecoder, frag: Buffer, last: boolean, maxHeaderList: number): void {
    if (d.truncated && (this.past += frag.length) > octetsPastLimit(maxHeaderList)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: header list too large");
    }
    const data = this.join(frag);
    let at: number;
    try {
      at = d.feed(data, 0, data.length, last);
    } catch (e) {
      if (e instanceof HpackError) throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, e.message);
      throw e;
    }
    if (last) this.done();
    else this.keep(data, at);
  }

  /** What to decode next: the tail left by the previous piece, then `fragment`. */
  private join(fragment: Buffer): Buffer {
    const r = this.restLen;
    if (r === 0) return fragment;
    const n = r + fragment.length;
    if (this.acc!.length < n) {
      const grown = Buffer.allocUnsafe(Math.max(n, 2 * this.acc!.length));
      this.acc!.copy(grown, 0, 0, r);
      this.acc = grown;
    }
    fragment.copy(this.acc!, r);
    this.restLen = 0;
    return this.acc!.subarray(0, n);
  }

  /** Keeps data[from, end) (an incomplete representation) for the next piece; copied, so the read buffer it came from is not pinned. */
  private keep(data: Buffer, from: number): void {
    const n = Math.max(0, data.length - from);
    this.restLen = n;
    if (n === 0) return;
    if (this.acc !== null && data.buffer === this.acc.buffer && data.byteOffset === this.acc.byteOffset) {
      // The joined buffer itself: its tail moves to the front.
      if (from > 0) this.acc.copy(this.acc, 0, from, data.length);
      return;
    }
    if (this.acc === null || this.acc.length < n) this.acc = Buffer.allocUnsafe(Math.max(n, 256));
    data.copy(this.acc, 0, from);
  }

  /** The block is complete. */
  private done(): void {
    this.stream = 0;
    this.restLen = 0;
    // A large tail's buffer is not held between blocks.
    if (this.acc !== null && this.acc.length > 4096) this.acc = null;
  }
}
