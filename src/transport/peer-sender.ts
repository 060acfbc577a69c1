// One peer's outgoing message stream: a bounded queue and at most one POST /raft in flight, which
// carries everything queued when it starts. Order is kept because batches go one after another.
// A failed batch is dropped (raft resends what matters), the peer is reported unreachable, and the
// next batch waits a backoff (100 ms doubling to 1 s, reset by a success) and tries the next URL.
import { encodeMessage } from "../raft/codec.ts";
import type { Message } from "../raft/message.ts";
import type { PeerHttpClient, PeerResponse } from "./http-client.ts";
import { frameBatch, Paths, Texts } from "./wire.ts";

export interface SenderLimits {
  /** Messages kept per peer; the oldest are dropped beyond it. */
  readonly maxQueue: number;
  /** A batch stops growing past this many encoded bytes (it always holds at least one message). */
  readonly maxBatchBytes: number;
  /** Deadline of one POST /raft. */
  readonly requestTimeoutMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

export interface SenderContext {
  readonly http: PeerHttpClient;
  readonly limits: SenderLimits;
  /** Headers every request to peer `to` carries (cluster ID, sender and receiver IDs, version). */
  headers(to: bigint): Record<string, string>;
  now(): number;
  onUnreachable(id: bigint): void;
  /** The peer answered 410: this member was removed. */
  onRemoved(): void;
  /** The peer answered 412: a member of another cluster, or not the member `id`. */
  onPreconditionFailed(id: bigint, res: PeerResponse): void;
}

export class PeerSender {
  private urls: URL[];
  private urlIndex = 0;
  // Invariant: queue.length <= limits.maxQueue.
  private queue: Message[] = [];
  private inflight = false;
  private backoffMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** Time of the last successful exchange (any request); undefined until one succeeds. */
  lastActive: number | undefined;
  /** Counters for tests and metrics. */
  requests = 0;
  dropped = 0;

  constructor(
    readonly id: bigint,
    urls: readonly string[],
    private readonly ctx: SenderContext,
  ) {
    this.urls = urls.map((u) => new URL(u));
  }

  setUrls(urls: readonly string[]): void {
    this.urls = urls.map((u) => new URL(u));
    this.urlIndex = 0;
  }

  /** The URL to try now; rotates after each failure. */
  currentUrl(): URL | undefined {
    return this.urls.length === 0 ? undefined : this.urls[this.urlIndex % this.urls.length];
  }

  allUrls(): readonly URL[] {
    return this.urls;
  }

  enqueue(m: Message): void {
    if (this.stopped) return;
    if (this.queue.length >= this.ctx.limits.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(m);
  }

  /** Starts a batch unless one is in flight or the peer is backing off. */
  kick(): void {
    if (this.stopped || this.inflight || this.timer !== undefined || this.queue.length === 0) return;
    const url = this.currentUrl();
    if (url === undefined) {
      this.dropped += this.queue.length;
      this.queue = [];
      return;
    }
    const encoded: Uint8Array[] = [];
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes < this.ctx.limits.maxBatchBytes)) {
      const e = encodeMessage(this.queue[n]!);
      encoded.push(e);
      bytes += e.length + 4;
      n++;
    }
    this.queue = n === this.queue.length ? [] : this.queue.slice(n);
    this.inflight = true;
    this.requests++;
    const target = new URL(Paths.raft, url);
    this.ctx.http
      .request(target, {
        method: "POST",
        headers: { ...this.ctx.headers(this.id), "content-type": "application/octet-stream" },
        body: frameBatch(encoded),
        timeoutMs: this.ctx.limits.requestTimeoutMs,
      })
      .then(
        (res) => {
          if (res.status >= 200 && res.status < 300) return this.succeeded();
          if (res.status === 410 && res.body.toString().trim() === Texts.removed) this.ctx.onRemoved();
          if (res.status === 412) this.ctx.onPreconditionFailed(this.id, res);
          this.failed();
        },
        () => this.failed(),
      );
  }

  markActive(): void {
    this.lastActive = this.ctx.now();
  }

  private succeeded(): void {
    this.inflight = false;
    this.backoffMs = 0;
    this.markActive();
    this.kick();
  }

  private failed(): void {
    this.inflight = false;
    if (this.stopped) return;
    this.urlIndex = (this.urlIndex + 1) % Math.max(1, this.urls.length);
    const { backoffMinMs, backoffMaxMs } = this.ctx.limits;
    this.backoffMs = this.backoffMs === 0 ? backoffMinMs : Math.min(this.backoffMs * 2, backoffMaxMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, this.backoffMs);
    this.ctx.onUnreachable(this.id);
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
