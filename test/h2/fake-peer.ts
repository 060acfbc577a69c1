// A scripted HTTP/2 client over an in-memory socket: feeds bytes to serveH2 synchronously and
// parses what the server wrote, so frame-level tests are deterministic (no network, no timers).
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { serveH2, type H2Connection, type H2Options, CLIENT_PREFACE, HpackDecoder, encodeHeaderBlock, maxEncodedLength } from "../../src/api/h2/index.ts";
import { FrameReader } from "../../src/api/h2/frame-reader.ts";

export const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;

export class FakeSocket extends EventEmitter {
  writes: Buffer[] = [];
  ended = false;
  destroyed = false;
  /** When true, write() reports a full buffer (the caller must wait for "drain"). */
  full = false;
  /** pause()/resume() calls: reading stopped while true. */
  paused = false;
  /** Octets written while full, as a real socket buffers them (writableLength). */
  buffered = 0;
  write(b: Uint8Array): boolean {
    this.writes.push(Buffer.from(b));
    if (this.full) this.buffered += b.length;
    return !this.full;
  }
  get writableLength(): number {
    return this.buffered;
  }
  /** The client reads everything: the buffer empties and "drain" fires. */
  drain(): void {
    this.full = false;
    this.buffered = 0;
    this.emit("drain");
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  setNoDelay(): void {}
}

/** A clock the test moves by hand; timers fire inside advance(). */
export class FakeClock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.timers.length;
  }
}

export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
  /** Decoded fields of a complete HEADERS block (on the HEADERS frame). */
  fields?: Array<[string, string]>;
}

export function frame(type: number, flags: number, id: number, payload: Uint8Array | number[] = []): Buffer {
  const p = Buffer.from(payload as Uint8Array);
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id, 5);
  return Buffer.concat([h, p]);
}

export function block(fields: Array<[string, string]>): Buffer {
  const out = Buffer.alloc(maxEncodedLength(fields));
  return out.subarray(0, encodeHeaderBlock(fields, out, 0));
}

export const GET: Array<[string, string]> = [[":method", "POST"], [":scheme", "http"], [":path", "/x"], [":authority", "a"]];

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

export class Peer {
  readonly sock = new FakeSocket();
  readonly conn: H2Connection;
  private readonly decoder = new HpackDecoder();
  private read = 0;
  private parsed: Frame[] = [];
  private cont: { frame: Frame; parts: Buffer[] } | null = null;
  private readonly reader = new FrameReader(1 << 24, (type, flags, id, buf, s, e) => {
    const f: Frame = { type, flags, id, payload: Buffer.from(buf.subarray(s, e)) };
    if (type === T.HEADERS || type === T.CONTINUATION) {
      if (type === T.HEADERS) this.cont = { frame: f, parts: [] };
      this.cont!.parts.push(f.payload);
      if (flags & F.END_HEADERS) {
        const all = Buffer.concat(this.cont!.parts);
        this.decoder.decode(all);
        this.cont!.frame.fields = Array.from({ length: this.decoder.count }, (_, i) => [this.decoder.names[i], this.decoder.values[i]] as [string, string]);
        this.cont = null;
      }
    }
    this.parsed.push(f);
  }, false);

  constructor(opts: H2Options, preface = true) {
    this.conn = serveH2(this.sock as unknown as Socket, opts);
    if (preface) this.send(Buffer.concat([Buffer.from(CLIENT_PREFACE), frame(T.SETTINGS, 0, 0)]));
  }

  send(...chunks: Buffer[]): void {
    for (const c of chunks) this.sock.emit("data", c);
  }

  /** Lets the server's write batching run (it flushes in a microtask). */
  async settle(): Promise<void> {
    await new Promise((r) => setImmediate(r));
  }

  /** Frames written by the server since the last call. */
  async frames(): Promise<Frame[]> {
    await this.settle();
    while (this.read < this.sock.writes.length) this.reader.push(this.sock.writes[this.read++]);
    const out = this.parsed;
    this.parsed = [];
    return out;
  }

  /** Frames since the last call, without SETTINGS/WINDOW_UPDATE/PING housekeeping on stream 0. */
  async streamFrames(): Promise<Frame[]> {
    return (await this.frames()).filter((f) => f.id !== 0);
  }
}

export function goawayCode(frames: Frame[]): number | undefined {
  const g = frames.find((f) => f.type === T.GOAWAY);
  return g?.payload.readUInt32BE(4);
}

/** The debug text of the first GOAWAY. */
export function goawayText(frames: Frame[]): string | undefined {
  const g = frames.find((f) => f.type === T.GOAWAY);
  return g?.payload.subarray(8).toString();
}
