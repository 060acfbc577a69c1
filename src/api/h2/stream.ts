// Server-side stream state (RFC 9113 §5.1). The connection owns the protocol logic; a stream
// holds its state and forwards the handler's calls to the connection.

import type { HeaderList } from "./hpack-encoder.ts";
import type { H2Stream } from "./types.ts";

/** What a stream needs from its connection. */
export interface StreamHost {
  sendHeaders(s: ServerStream, fields: HeaderList, endStream: boolean): void;
  sendData(s: ServerStream, data: Uint8Array): void;
  sendEnd(s: ServerStream, trailers: HeaderList | undefined): void;
  sendReset(s: ServerStream, code: number): void;
}

export class ServerStream implements H2Stream {
  ondata: ((chunk: Uint8Array) => void) | null = null;
  onend: (() => void) | null = null;
  onclose: ((reset: boolean) => void) | null = null;
  ondrain: (() => void) | null = null;
  closed = false;

  /** Response HEADERS sent. */
  responded = false;
  /** end() or respond(…, true) called: no more writes. Invariant: localEnded implies ending. */
  ending = false;
  /** END_STREAM written to the connection. */
  localEnded = false;
  /** END_STREAM received. */
  remoteEnded = false;

  /** Octets the peer lets us send (its SETTINGS_INITIAL_WINDOW_SIZE + updates). May go negative. */
  sendWindow: number;
  /** Octets the peer may still send us before our next WINDOW_UPDATE. */
  recvWindow: number;
  /** Octets received and delivered but not yet acknowledged with WINDOW_UPDATE. */
  recvUnacked = 0;

  /** DATA waiting for flow-control window; queue[0] is partly sent up to queueOffset. */
  queue: Uint8Array[] = [];
  queueOffset = 0;
  /** Octets in queue not yet sent. Invariant: equals the queue's total length minus queueOffset. */
  queuedBytes = 0;
  /** Went over the high-water mark; ondrain is owed once below the low-water mark. */
  needDrain = false;
  /** Resolvers of drained() promises: called with ondrain, or when the stream closes. */
  private drainWaiters: (() => void)[] = [];

  /** Trailers of an end() issued while DATA was still queued. */
  pendingTrailers: HeaderList | undefined = undefined;

  /** Declared content-length, -1 when absent; and octets of DATA received. */
  contentLength = -1;
  received = 0;

  constructor(
    readonly id: number,
    readonly headers: ReadonlyMap<string, string>,
    private readonly host: StreamHost,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  respond(headers: HeaderList, endStream = false): void {
    if (this.responded) throw new Error("h2: response headers already sent");
    if (this.closed) return;
    this.responded = true;
    if (endStream) this.ending = true;
    this.host.sendHeaders(this, headers, endStream);
  }

  write(data: Uint8Array): void {
    if (this.closed) return;
    if (!this.responded) throw new Error("h2: write before respond");
    if (this.ending) throw new Error("h2: write after end");
    if (data.length > 0) this.host.sendData(this, data);
  }

  /**
   * null while the stream is writable; else a promise that resolves when its queue has drained
   * below the low-water mark (the moment `ondrain` is called) or the stream closed. A producer
   * that awaits it after each write holds at most the high-water mark in memory.
   */
  drained(): Promise<void> | null {
    if (this.closed || !this.needDrain) return null;
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * The queue fell below the low-water mark after going over the high-water mark (the
   * connection's output side clears needDrain first), or the stream closed (`closing`):
   * drained() promises resolve, and ondrain is called unless the stream is gone.
   */
  releaseDrain(closing: boolean): void {
    const ws = this.drainWaiters;
    if (ws.length > 0) {
      this.drainWaiters = [];
      for (const w of ws) w();
    }
    if (closing) return;
    const cb = this.ondrain;
    if (cb !== null) cb();
  }

  end(trailers?: HeaderList): void {
    if (this.closed || this.ending) return;
    if (!this.responded) throw new Error("h2: end before respond");
    this.ending = true;
    this.host.sendEnd(this, trailers);
  }

  reset(code: number): void {
    if (this.closed) return;
    this.host.sendReset(this, code);
  }

  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  get writable(): boolean {
    return !this.needDrain && !this.closed;
  }
}
