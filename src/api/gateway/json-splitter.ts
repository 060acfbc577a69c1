// Splits a byte stream holding several concatenated JSON values (a streaming gateway request
// body) into the text of each top-level value, as Go's json.Decoder reads them. A value still
// open past `maxValue` characters is refused (the request would be over the receive limit),
// so what a streaming request buffers is bounded.
import { messageTooLarge } from "./json-codec.ts";

export class JsonSplitter {
  private buf = "";
  private depth = 0;
  private inStr = false;
  private escape = false;
  private start = -1;
  private pos = 0;
  private readonly decoder = new TextDecoder();

  /**
   * maxValue: characters one value may take (the gateway allows twice the receive limit, for
   * base64); reportedMax: the limit named in the error (the receive limit itself).
   */
  constructor(
    private readonly maxValue = Infinity,
    private readonly reportedMax = maxValue,
  ) {}

  /** Feeds bytes; returns the complete top-level values seen so far. */
  push(chunk: Uint8Array): string[] {
    this.buf += this.decoder.decode(chunk, { stream: true });
    const out: string[] = [];
    const b = this.buf;
    for (let i = this.pos; i < b.length; i++) {
      const c = b.charCodeAt(i);
      if (this.inStr) {
        if (this.escape) this.escape = false;
        else if (c === 0x5c) this.escape = true;
        else if (c === 0x22) this.inStr = false;
        continue;
      }
      if (c === 0x22) {
        this.inStr = true;
        if (this.start < 0) this.start = i;
      } else if (c === 0x7b || c === 0x5b) {
        if (this.start < 0) this.start = i;
        this.depth++;
      } else if (c === 0x7d || c === 0x5d) {
        this.depth--;
        if (this.depth === 0 && this.start >= 0) {
          out.push(b.slice(this.start, i + 1));
          this.start = -1;
        }
      } else if (this.start < 0 && c > 0x20) {
        // A bare scalar at top level: keep it as its own value up to the next space.
        this.start = i;
      } else if (this.start >= 0 && this.depth === 0 && c <= 0x20) {
        out.push(b.slice(this.start, i));
        this.start = -1;
      }
    }
    if (this.start < 0) {
      this.buf = "";
      this.pos = 0;
    } else {
      this.buf = b.slice(this.start);
      this.pos = this.buf.length;
      this.start = 0;
      if (this.buf.length > this.maxValue) {
        const n = this.buf.length;
        this.buf = "";
        this.pos = 0;
        this.start = -1;
        throw messageTooLarge(n, this.reportedMax);
      }
    }
    return out;
  }

  /** What is left at end of input (an unterminated value), if anything. */
  rest(): string {
    return this.buf.trim();
  }
}
