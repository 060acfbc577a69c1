// One peer's outgoing messages: a bounded queue drained over a long-lived stream (an upgraded
// connection, stream-client.ts) when one is open, and over POST /raft otherwise.
//
// Stream: everything queued in one event-loop job is framed and written with one socket.write; a
// write the socket cannot take yet (write returned false) holds later messages in the queue until
// `drain`. A stream that closes reports the peer unreachable and is re-dialled with a backoff
// (100 ms doubling to 1 s, reset by a success) on the peer's URLs in turn, and so is a peer that
// answers 404 "error sender not found" (it does not list this member yet). A stream is kept to
// every peer whether or not there is traffic: followers never message each other, yet etcd's
// health checks and active-peer counts expect a connection to each. A peer that answers the
// upgrade with anything else (an older member: 404) is asked again every 30 s.
// The receiver acknowledges what it reads; a stream whose writes stay unacknowledged past the
// request deadline (a stopped or cut-off peer) is closed like a failed one.
//
// POST: at most one request in flight, which carries everything queued when it starts. A failed
// batch is dropped (raft resends what matters), the peer is reported unreachable, and the next
// batch waits the same kind of backoff and tries the next URL.
//
// Order is kept: a stream write never overtakes a POST in flight, and batches go one after another.
import type { Socket } from "node:net";
import { encodeMessage } from "../raft/codec.ts";
import type { Message } from "../raft/message.ts";
import type { ClientTls, PeerHttpClient, PeerResponse } from "./http-client.ts";
import { dialStream, type Dial } from "./stream-client.ts";
import { formatId, frameBatch, Paths, Texts } from "./wire.ts";

/** After a peer refuses the upgrade (e.g. 404 from an older member), ask again after this long. */
export const STREAM_RETRY_AFTER_REFUSAL_MS = 30_000;

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
  /** Certificates for streams to https peer URLs. */
  readonly tls: ClientTls | undefined;
  /** False: POST /raft only (no streams are dialled). */
  readonly streams: boolean;
  readonly logger: { info(m: string, f?: Record<string, unknown>): void; warn(m: string, f?: Record<string, unknown>): void };
  readonly limits: SenderLimits;
  /** Headers every request to peer `to` carries (cluster ID, sender and receiver IDs, version). */
  headers(to: bigint): Record<string, string>;
  now(): number;
  onUnreachable(id: bigint): void;
  /** Message bytes handed to the connection for `id`. */
  onBytesSent(id: bigint, n: number): void;
  /** Messages (or a batch, or a stream's unacknowledged writes) to `id` that did not go out. */
  onSendFailures(id: bigint, n: number): void;
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
  /** When the open stream was established (ctx.now()); undefined while none is open. */
  streamSince: number | undefined;
  /** Counters for tests and metrics. */
  requests = 0;
  dropped = 0;
  /** socket.write calls on streams, and streams established. */
  streamWrites = 0;
  streamsOpened = 0;

  // The stream, when one is open; `blocked` while the socket's buffer waits for `drain`.
  private stream: Socket | undefined;
  private streamUrl: string | undefined;
  private blocked = false;
  private flushScheduled = false;
  private dial: Dial | undefined;
  private dialTimer: ReturnType<typeof setTimeout> | undefined;
  private dialIndex = 0;
  private dialBackoffMs = 0;
  /** When the oldest stream write not yet acknowledged by the receiver went out. */
  private unackedSince: number | undefined;
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** ctx.now() before which no upgrade is tried (the peer refused one). */
  private refusedUntil = -Infinity;
  /** The refusal is logged once per peer, not on every later attempt. */
  private refusalLogged = false;

  constructor(
    readonly id: bigint,
    urls: readonly string[],
    private readonly ctx: SenderContext,
  ) {
    this.urls = urls.map((u) => new URL(u));
    this.ensureStream();
  }

  setUrls(urls: readonly string[]): void {
    this.urls = urls.map((u) => new URL(u));
    this.urlIndex = 0;
    this.dialIndex = 0;
    // A stream to a URL the peer no longer has is closed; its close handler dials a current one.
    if (this.stream !== undefined && !this.urls.some((u) => u.href === this.streamUrl)) this.stream.destroy();
    this.ensureStream();
  }

  /** True while a stream to the peer is open. */
  get streaming(): boolean {
    return this.stream !== undefined;
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
      this.ctx.onSendFailures(this.id, 1);
    }
    this.queue.push(m);
  }

  /** Sends what is queued: on the stream when one is open, else as a POST /raft batch. */
  kick(): void {
    if (this.stopped || this.queue.length === 0) return;
    if (this.stream !== undefined) {
      // A POST in flight finishes first (its completion kicks again), so order is kept.
      if (!this.inflight && !this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => this.flush());
      }
      return;
    }
    this.ensureStream();
    this.post();
  }

  /** Writes the whole queue to the stream in one write. */
  private flush(): void {
    this.flushScheduled = false;
    const s = this.stream;
    if (this.stopped || s === undefined || this.blocked || this.inflight || this.queue.length === 0) return;
    const encoded = this.queue.map(encodeMessage);
    this.queue = [];
    this.streamWrites++;
    const frame = frameBatch(encoded);
    this.ctx.onBytesSent(this.id, frame.length);
    if (!s.write(frame)) this.blocked = true;
    this.watchStall(s);
  }

  /**
   * The receiver acknowledges data within STREAM_ACK_MS (stream-server.ts). Written data that stays
   * unacknowledged for the request deadline means a peer that is stopped or cut off while TCP
   * still holds the connection: the stream is closed like a failed one (etcd's 5 s write timeout).
   */
  private watchStall(s: Socket): void {
    if (this.unackedSince !== undefined) return;
    this.unackedSince = this.ctx.now();
    if (this.stallTimer === undefined) this.armStall(s, this.ctx.limits.requestTimeoutMs);
  }

  private armStall(s: Socket, ms: number): void {
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.stream !== s || this.unackedSince === undefined) return;
      const waited = this.ctx.now() - this.unackedSince;
      const limit = this.ctx.limits.requestTimeoutMs;
      if (waited < limit) return this.armStall(s, limit - waited);
      this.ctx.logger.warn("raft message stream not acknowledged in time; closing it", {
        remote: formatId(this.id), waitedMs: Math.round(waited),
      });
      s.destroy();
    }, ms);
  }

  private clearStall(): void {
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.unackedSince = undefined;
  }

  /** Dials a stream unless one is open, being dialled, backing off, disabled or refused lately. */
  private ensureStream(): void {
    if (!this.ctx.streams || this.stopped || this.stream !== undefined || this.dial !== undefined || this.dialTimer !== undefined) return;
    if (this.urls.length === 0 || this.ctx.now() < this.refusedUntil) return;
    const url = this.urls[this.dialIndex % this.urls.length]!;
    const dial = dialStream(url, this.ctx.headers(this.id), this.ctx.tls, this.ctx.limits.requestTimeoutMs);
    this.dial = dial;
    dial.result.then(
      (r) => {
        if (this.dial !== dial) {
          if (r.ok) r.socket.destroy();
          return;
        }
        this.dial = undefined;
        if (this.stopped) {
          if (r.ok) r.socket.destroy();
          return;
        }
        if (r.ok) return this.attach(r.socket, url);
        const res = r.response;
        const text = res.body.toString().trim();
        if (res.status === 410 && text === Texts.removed) this.ctx.onRemoved();
        else if (res.status === 412) this.ctx.onPreconditionFailed(this.id, res);
        else if (res.status === 404 && (text === Texts.senderNotFound || text === Texts.invalidFrom)) {
          // A member that speaks streams but does not list this one yet (it is starting, or has
          // not applied the change that added us): asked again like after a network failure,
          // as etcd's stream reader does.
        } else {
          // Not a member that speaks streams: POST /raft carries everything. The upgrade is
          // asked again later without waiting for traffic, so an upgraded peer gets its stream
          // back even when this member has nothing to send it (followers never message each other).
          this.refusedUntil = this.ctx.now() + STREAM_RETRY_AFTER_REFUSAL_MS;
          if (!this.refusalLogged) {
            this.refusalLogged = true;
            this.ctx.logger.info("peer does not accept message streams; sending over POST /raft", {
              remote: formatId(this.id), url: url.href, status: res.status,
            });
          }
          this.dialTimer = setTimeout(() => {
            this.dialTimer = undefined;
            this.ensureStream();
          }, STREAM_RETRY_AFTER_REFUSAL_MS);
          return;
        }
        this.dialFailed();
      },
      () => {
        if (this.dial !== dial) return;
        this.dial = undefined;
        this.dialFailed();
      },
    );
  }

  private dialFailed(): void {
    if (this.stopped) return;
    this.dialIndex = (this.dialIndex + 1) % Math.max(1, this.urls.length);
    this.dialBackoffMs = this.nextBackoff(this.dialBackoffMs);
    this.dialTimer = setTimeout(() => {
      this.dialTimer = undefined;
      this.ensureStream();
    }, this.dialBackoffMs);
  }

  private attach(socket: Socket, url: URL): void {
    this.stream = socket;
    this.streamUrl = url.href;
    this.blocked = false;
    this.dialBackoffMs = 0;
    this.streamsOpened++;
    this.streamSince = this.ctx.now();
    this.markActive();
    this.ctx.logger.info("established a TCP streaming connection with remote peer", { remote: formatId(this.id), url: url.href });
    socket.on("drain", () => {
      if (this.stream !== socket) return;
      this.blocked = false;
      this.kick();
    });
    // The receiver writes only acknowledgement bytes on this stream.
    socket.on("data", () => {
      if (this.stream !== socket) return;
      this.unackedSince = undefined;
      this.markActive();
    });
    socket.once("end", () => socket.destroy());
    socket.once("close", () => {
      if (this.stream !== socket) return;
      this.stream = undefined;
      this.streamUrl = undefined;
      this.streamSince = undefined;
      this.blocked = false;
      this.clearStall();
      if (this.stopped) return;
      this.ctx.logger.warn("lost TCP streaming connection with remote peer", { remote: formatId(this.id), url: url.href });
      // Whatever was written and not yet received is lost; raft resends what matters.
      this.ctx.onSendFailures(this.id, 1);
      this.ctx.onUnreachable(this.id);
      this.dialFailed();
      this.kick();
    });
    this.kick();
  }

  /** Starts a POST /raft batch unless one is in flight or the peer is backing off. */
  private post(): void {
    if (this.inflight || this.timer !== undefined) return;
    const url = this.currentUrl();
    if (url === undefined) {
      if (this.queue.length > 0) this.ctx.onSendFailures(this.id, this.queue.length);
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
    const body = frameBatch(encoded);
    this.ctx.onBytesSent(this.id, body.length);
    this.ctx.http
      .request(target, {
        method: "POST",
        headers: { ...this.ctx.headers(this.id), "content-type": "application/octet-stream" },
        body,
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

  /** Exponential backoff: the minimum after a success (0), doubling up to the maximum. */
  private nextBackoff(prev: number): number {
    const { backoffMinMs, backoffMaxMs } = this.ctx.limits;
    return prev === 0 ? backoffMinMs : Math.min(prev * 2, backoffMaxMs);
  }

  private failed(): void {
    this.inflight = false;
    if (this.stopped) return;
    this.urlIndex = (this.urlIndex + 1) % Math.max(1, this.urls.length);
    this.backoffMs = this.nextBackoff(this.backoffMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, this.backoffMs);
    this.ctx.onSendFailures(this.id, 1);
    this.ctx.onUnreachable(this.id);
    // A stream that opened meanwhile carries what queued behind this batch without waiting.
    if (this.stream !== undefined) this.kick();
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dialTimer !== undefined) clearTimeout(this.dialTimer);
    this.dialTimer = undefined;
    this.dial?.abort();
    this.dial = undefined;
    this.stream?.destroy();
    this.stream = undefined;
    this.clearStall();
  }
}
