// A header block being continued: a HEADERS frame without END_HEADERS and the CONTINUATION
// frames that follow it (RFC 9113 §6.10). Each piece is decoded as it arrives (as Go's server
// does), so only a field split across frames is kept between them, never the whole block;
// and CONTINUATION frames per block are counted, so tiny or empty ones cannot be sent without
// end (CVE-2024-27316 and its family).

import { ErrorCode } from "./constants.ts";
import { ConnectionError } from "./errors.ts";

export class HeaderBlock {
  /** Stream id of the block being continued; 0 = none. */
  stream = 0;
  endStream = false;
  selfDependent = false;
  /** The undecoded tail of the previous piece (part of one field representation). */
  private rest: Buffer | null = null;
  private frames = 0;

  /** maxContinuations: CONTINUATION frames per block before ENHANCE_YOUR_CALM. */
  constructor(private readonly maxContinuations: number) {}

  /** A HEADERS frame without END_HEADERS. */
  begin(id: number, endStream: boolean, selfDependent: boolean): void {
    this.stream = id;
    this.endStream = endStream;
    this.selfDependent = selfDependent;
    this.rest = null;
    this.frames = 0;
  }

  /** A CONTINUATION frame arrived. */
  continued(): void {
    if (++this.frames > this.maxContinuations) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "h2: too many CONTINUATION frames");
    }
  }

  /** What to decode next: the tail left by the previous piece, then `fragment`. */
  join(fragment: Buffer): Buffer {
    const r = this.rest;
    this.rest = null;
    return r === null ? fragment : Buffer.concat([r, fragment]);
  }

  /** Keeps data[from, end) (an incomplete representation) for the next piece; copied, so the read buffer it came from is not pinned. */
  keep(data: Buffer, from: number): void {
    this.rest = from < data.length ? Buffer.from(data.subarray(from)) : null;
  }

  /** The block is complete. */
  done(): void {
    this.stream = 0;
    this.rest = null;
  }
}
