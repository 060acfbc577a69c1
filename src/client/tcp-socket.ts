// Cleartext TCP through Bun's native socket, with the part of node:net's Socket the HTTP/2 client
// uses (H2Socket). In a cold process, loading node:net costs 2-3 ms and its connect 2-3 ms more;
// Bun.connect connects in about 1 ms (docs/benchmarks.md § ctl start). Where Bun is absent
// (Deno, Node) the channel dials with node:net instead.
import type { Socket as NativeSocket } from "bun";
import type { H2Socket } from "../api/h2/index.ts";

interface Listeners {
  data: Array<(chunk: Buffer) => void>;
  error: Array<(err: Error) => void>;
  close: Array<() => void>;
  drain: Array<() => void>;
}

type BunConnect = typeof import("bun").connect;

/** Bun.connect, when running under Bun. */
export function bunConnect(): BunConnect | undefined {
  const bun = (globalThis as { Bun?: { connect?: BunConnect } }).Bun;
  return typeof bun?.connect === "function" ? bun.connect.bind(bun) : undefined;
}

export class TcpSocket implements H2Socket {
  destroyed = false;
  private native: NativeSocket | undefined;
  /** Bytes the kernel did not take yet, written on drain in order (node:net buffers them too). */
  private pending: Uint8Array[] = [];
  /** end() was asked while bytes were pending: half-close once they are out. */
  private ending = false;
  private closeQueued = false;
  private readonly listeners: Listeners = { data: [], error: [], close: [], drain: [] };

  on<K extends keyof Listeners>(event: K, fn: Listeners[K][number]): this {
    (this.listeners[event] as Array<typeof fn>).push(fn);
    return this;
  }

  /** Connects; rejects with the connect error (its code, e.g. ECONNREFUSED, as node:net gives it). */
  static async connect(connect: BunConnect, host: string, port: number): Promise<TcpSocket> {
    const t = new TcpSocket();
    t.native = await connect({
      hostname: host,
      port,
      socket: {
        binaryType: "buffer",
        data: (_s, chunk) => {
          for (const fn of t.listeners.data) fn(chunk);
        },
        drain: () => t.flushPending(),
        // The peer half-closed: like node:net without allowHalfOpen, end our side too.
        end: () => t.end(),
        error: (_s, err) => t.emitError(err),
        close: (_s, err) => {
          if (err) t.emitError(err);
          t.closeSoon();
        },
      },
    });
    return t;
  }

  setNoDelay(noDelay = true): void {
    this.native?.setNoDelay(noDelay);
  }

  write(data: Uint8Array): boolean {
    if (this.destroyed || this.native === undefined) return false;
    if (this.pending.length > 0) {
      this.pending.push(data);
      return false;
    }
    const n = this.native.write(data);
    if (n < data.length) {
      this.pending.push(data.subarray(Math.max(0, n)));
      return false;
    }
    return true;
  }

  end(): void {
    if (this.destroyed || this.ending) return;
    this.ending = true;
    if (this.pending.length === 0) this.native?.end();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pending = [];
    this.native?.terminate();
    this.closeSoon();
  }

  private flushPending(): void {
    while (this.pending.length > 0 && this.native !== undefined && !this.destroyed) {
      const head = this.pending[0]!;
      const n = this.native.write(head);
      if (n < head.length) {
        this.pending[0] = head.subarray(Math.max(0, n));
        return;
      }
      this.pending.shift();
    }
    if (this.destroyed) return;
    if (this.ending) this.native?.end();
    else for (const fn of this.listeners.drain) fn();
  }

  private emitError(err: Error): void {
    for (const fn of this.listeners.error) fn(err);
  }

  /** Reports the close once, after the call that caused it has returned (as node:net does). */
  private closeSoon(): void {
    if (this.closeQueued) return;
    this.closeQueued = true;
    this.destroyed = true;
    queueMicrotask(() => {
      for (const fn of this.listeners.close) fn();
    });
  }
}
