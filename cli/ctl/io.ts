// Output written synchronously (like Go's fmt.Print to os.Stdout), so nothing is lost when the
// command exits and output interleaves with child processes (watch/lock exec) in order.
import { writeSync } from "node:fs";

function writeAll(fd: number, s: string | Uint8Array): void {
  let buf = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s.buffer, s.byteOffset, s.byteLength);
  while (buf.length > 0) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (e) {
      if ((e as { code?: string }).code === "EAGAIN") continue;
      if ((e as { code?: string }).code === "EPIPE") return;
      throw e;
    }
  }
}

export const out = (s: string | Uint8Array): void => writeAll(1, s);
export const err = (s: string): void => writeAll(2, s);
export const outln = (s = ""): void => writeAll(1, `${s}\n`);
export const errln = (s = ""): void => writeAll(2, `${s}\n`);

/** Whether a stream is a terminal (progress bars and hints go only to people). */
export function isTTY(fd: 1 | 2): boolean {
  const s = fd === 1 ? process.stdout : process.stderr;
  return Boolean((s as { isTTY?: boolean }).isTTY);
}

/** All of standard input as bytes. */
export async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Standard input line by line (each with its "\n" when present), read as it arrives. */
export class LineReader {
  private buf = "";
  private ended = false;
  private waiting: (() => void) | undefined;

  constructor() {
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d: string) => {
      this.buf += d;
      this.wake();
    });
    process.stdin.on("end", () => {
      this.ended = true;
      this.wake();
    });
    process.stdin.on("error", () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /** The next line including "\n", or the rest without one at EOF (undefined when nothing is left). */
  async line(): Promise<{ text: string; eof: boolean } | undefined> {
    for (;;) {
      const i = this.buf.indexOf("\n");
      if (i >= 0) {
        const text = this.buf.slice(0, i + 1);
        this.buf = this.buf.slice(i + 1);
        return { text, eof: false };
      }
      if (this.ended) {
        if (this.buf === "") return undefined;
        const text = this.buf;
        this.buf = "";
        return { text, eof: true };
      }
      await new Promise<void>((r) => {
        this.waiting = r;
      });
    }
  }

  close(): void {
    process.stdin.pause();
    process.stdin.destroy();
  }
}
