// A raw HTTP/2 client over a real socket, for tests and attack scripts that send frames no
// well-behaved client would: it writes whatever frames it is given and records every frame
// the server sends (GOAWAY codes, RST_STREAMs, decoded HEADERS).
import { connect, type Socket } from "node:net";
import { CLIENT_PREFACE, encodeHeaderBlock, HpackDecoder, maxEncodedLength } from "../../src/api/h2/index.ts";
import { FrameReader } from "../../src/api/h2/frame-reader.ts";

export const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;

export interface RawFrame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
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

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

/** The request headers of a gRPC call to `path`. */
export function grpcHeaders(path: string, extra: Array<[string, string]> = []): Array<[string, string]> {
  return [[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "127.0.0.1"], ["content-type", "application/grpc"], ["te", "trailers"], ...extra];
}

/** A length-prefixed gRPC message. */
export function grpcMessage(msg: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

export interface Goaway {
  code: number;
  debug: string;
}

export class RawH2 {
  readonly frames: RawFrame[] = [];
  goaway: Goaway | undefined;
  /** True once the server closed the connection (or it failed). */
  closedFlag = false;
  readonly closed: Promise<void>;
  private readonly decoder = new HpackDecoder();
  private cont: { frame: RawFrame; parts: Buffer[] } | null = null;
  private waiters: Array<() => void> = [];
  private readonly reader = new FrameReader(1 << 24, (type, flags, id, buf, s, e) => this.onFrame(type, flags, id, Buffer.from(buf.subarray(s, e))), false);

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.closedFlag = true;
        this.notify();
        resolve();
      });
    });
    socket.on("error", () => {});
    socket.on("data", (c: Buffer) => {
      try {
        this.reader.push(c);
      } catch {
        socket.destroy();
      }
    });
  }

  /**
   * Connects, sends the preface and an empty SETTINGS, and (with `ackSettings`) waits for the
   * server's SETTINGS and acknowledges it, so that later frames are never interleaved with the ack.
   */
  static async connect(port: number, host = "127.0.0.1", ackSettings = true): Promise<RawH2> {
    const c = await new Promise<RawH2>((resolve, reject) => {
      const s = connect(port, host, () => {
        const c = new RawH2(s);
        c.ackSettings = ackSettings;
        s.write(Buffer.concat([Buffer.from(CLIENT_PREFACE), frame(T.SETTINGS, 0, 0)]));
        resolve(c);
      });
      s.once("error", reject);
    });
    if (ackSettings) await c.until(() => c.closedFlag || c.frames.some((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0), 10_000, "server SETTINGS");
    return c;
  }

  ackSettings = true;

  /** Writes frames; false once the socket buffer is full (the caller may wait for drain). */
  send(...bufs: Buffer[]): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
  }

  /** HEADERS (+ END_STREAM) for a new stream. */
  headers(id: number, fields: Array<[string, string]>, endStream: boolean): Buffer {
    return frame(T.HEADERS, F.END_HEADERS | (endStream ? F.END_STREAM : 0), id, block(fields));
  }

  /** Resolves once `pred` holds (checked on every frame and at close), or rejects after `ms`. */
  until(pred: () => boolean, ms: number, what: string): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${ms} ms: ${what}`));
      }, ms);
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  /** RST_STREAM codes received, by stream. */
  resets(): Map<number, number> {
    const m = new Map<number, number>();
    for (const f of this.frames) if (f.type === T.RST_STREAM) m.set(f.id, f.payload.readUInt32BE(0));
    return m;
  }

  /** The decoded response HEADERS of a stream (the first block). */
  responseHeaders(id: number): Array<[string, string]> | undefined {
    return this.frames.find((f) => f.id === id && f.type === T.HEADERS && f.fields !== undefined)?.fields;
  }

  close(): void {
    this.socket.destroy();
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    const f: RawFrame = { type, flags, id, payload };
    if (type === T.HEADERS || type === T.CONTINUATION) {
      if (type === T.HEADERS) this.cont = { frame: f, parts: [] };
      this.cont?.parts.push(payload);
      if (flags & F.END_HEADERS && this.cont !== null) {
        this.decoder.decode(Buffer.concat(this.cont.parts));
        this.cont.frame.fields = Array.from({ length: this.decoder.count }, (_, i) => [this.decoder.names[i]!, this.decoder.values[i]!] as [string, string]);
        this.cont = null;
      }
    }
    if (type === T.GOAWAY) this.goaway = { code: payload.readUInt32BE(4), debug: payload.subarray(8).toString() };
    if (type === T.SETTINGS && (flags & F.ACK) === 0 && this.ackSettings) this.send(frame(T.SETTINGS, F.ACK, 0));
    this.frames.push(f);
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
