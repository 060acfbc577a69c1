// A header block being continued: a HEADERS frame without END_HEADERS and the CONTINUATION
// frames that follow it (RFC 9113 §6.10). Bounded in octets and in frames, so neither large
// nor tiny CONTINUATION frames can be sent without end (CVE-2024-27316 and its family).

import { ErrorCode } from "./constants.ts";
import { ConnectionError } from "./errors.ts";

export class HeaderBlock {
  /** Stream id of the block being continued; 0 = none. */
  stream = 0;
  endStream = false;
  selfDependent = false;
  private parts: Buffer[] = [];
  private len = 0;
  private frames = 0;
  /** Offset of the last fragment within the block returned by add() (0 for a single frame). */
  lastFragmentAt = 0;

  /**
   * maxBlock: octets a block may have before the connection ends with PROTOCOL_ERROR (Go's
   * server closes a connection whose header block exceeds twice what it is willing to decode).
   * maxContinuations: CONTINUATION frames per block before ENHANCE_YOUR_CALM.
   */
  constructor(
    private readonly maxBlock: number,
    private readonly maxContinuations: number,
  ) {}

  /** A HEADERS frame without END_HEADERS. */
  begin(id: number, endStream: boolean, selfDependent: boolean, fragment: Buffer): void {
    this.check(fragment.length);
    this.stream = id;
    this.endStream = endStream;
    this.selfDependent = selfDependent;
    this.parts = [fragment];
    this.len = fragment.length;
    this.frames = 0;
  }

  /** A CONTINUATION frame; returns the whole block on END_HEADERS, else null. */
  add(fragment: Buffer, endHeaders: boolean): Buffer | null {
    if (++this.frames > this.maxContinuations) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "h2: too many CONTINUATION frames");
    }
    this.check(this.len + fragment.length);
    if (fragment.length > 0) this.parts.push(fragment);
    this.lastFragmentAt = this.len;
    this.len += fragment.length;
    if (!endHeaders) return null;
    const block = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.len);
    this.stream = 0;
    this.parts = [];
    this.len = 0;
    return block;
  }

  private check(total: number): void {
    if (total > this.maxBlock) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "h2: header list too large");
  }
}
