// Watches over one bidi Watch stream per Watcher, as clientv3's watcher does: creates are
// answered in request order; "created" replies are not handed to the caller; after a broken
// stream every live watch is created again from the revision after the last one it saw. A
// create refused for its token ("invalid auth token", "revision of auth store is old": a
// restarted member, an expired JWT, an auth change) is retried with a new token, as clientv3
// 3.5 does (3.4 gave up).
import { Watch, type WatchResponse } from "../gen/rpc_pb.ts";
import { type Client, isTokenCancelReason, isTokenError, type TypedStream } from "./client.ts";
import { Code, Errors } from "../rpctypes/index.ts";
import { ClientError } from "./errors.ts";
import type { WatchRequestSchema, WatchResponseSchema } from "../gen/rpc_pb.ts";

export interface WatchOptions {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** 0 = from now on. */
  startRevision?: bigint;
  prevKv?: boolean;
  progressNotify?: boolean;
  /** hasleader=true (etcdctl always sets it). */
  requireLeader?: boolean;
}

/** A watch response as the caller sees it; `error` is set on the last one when the watch ends. */
export interface WatchUpdate {
  response: WatchResponse;
  /** For a canceled watch: why (compaction, server cancel). */
  error?: ClientError;
}

export function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.canceled && !r.created && r.compactRevision === 0n && (r.header?.revision ?? 0n) !== 0n;
}

export interface WatchHandle {
  cancel(): void;
}

interface Sub {
  opts: WatchOptions;
  onUpdate: (u: WatchUpdate) => void;
  onClose: (err: ClientError | undefined) => void;
  id: bigint | undefined;
  nextRev: bigint;
  done: boolean;
  /** Token refreshes for this watch since it last got an answer (bounds the retries). */
  refreshes: number;
}

const RESUME_WAIT_MS = 200;
/** Token refreshes in a row for one watch before its error is reported. */
const MAX_REFRESHES = 3;
const REFRESH_DEADLINE_MS = 10_000;

export class Watcher {
  private stream: TypedStream<typeof WatchRequestSchema, typeof WatchResponseSchema> | undefined;
  private opening: Promise<void> | undefined;
  private readonly subs = new Set<Sub>();
  /** Subs whose create request was sent and not yet answered, in order. */
  private pending: Sub[] = [];
  private readonly byId = new Map<bigint, Sub>();
  private closed = false;

  constructor(private readonly client: Client, private readonly requireLeader = true) {}

  watch(opts: WatchOptions, onUpdate: (u: WatchUpdate) => void, onClose: (err: ClientError | undefined) => void = () => {}): WatchHandle {
    const sub: Sub = { opts, onUpdate, onClose, id: undefined, nextRev: opts.startRevision ?? 0n, done: false, refreshes: 0 };
    this.subs.add(sub);
    void this.ensure().then(() => this.create(sub), (e) => this.fail(e));
    return { cancel: () => this.cancel(sub) };
  }

  requestProgress(): void {
    void this.ensure().then(() => this.stream?.send({ requestUnion: { case: "progressRequest", value: {} } }));
  }

  close(): void {
    this.closed = true;
    this.stream?.cancel();
    for (const s of this.subs) this.finish(s, undefined);
  }

  private ensure(): Promise<void> {
    if (this.stream !== undefined && !this.stream.ended) return Promise.resolve();
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      try {
        const s = await this.client.openStream(Watch.method.watch, {
          deadline: Date.now() + 3_600_000,
          requireLeader: this.requireLeader,
        });
        this.stream = s;
        this.pending = [];
        this.byId.clear();
        s.onmessage = (m) => this.onResponse(m);
        s.onend = (e) => this.onStreamEnd(s, e);
        return;
      } catch (e) {
        if (e instanceof ClientError && e.kind === "status" && e.code !== Code.Unavailable) throw e;
        await new Promise((r) => setTimeout(r, RESUME_WAIT_MS));
      }
    }
  }

  private create(sub: Sub): void {
    if (sub.done || this.stream === undefined) return;
    const o = sub.opts;
    this.pending.push(sub);
    this.stream.send({
      requestUnion: {
        case: "createRequest",
        value: {
          key: o.key,
          rangeEnd: o.rangeEnd ?? new Uint8Array(0),
          startRevision: sub.nextRev,
          prevKv: o.prevKv ?? false,
          progressNotify: o.progressNotify ?? false,
        },
      },
    });
  }

  private cancel(sub: Sub): void {
    if (sub.done) return;
    if (sub.id !== undefined && this.stream !== undefined && !this.stream.ended) {
      this.stream.send({ requestUnion: { case: "cancelRequest", value: { watchId: sub.id } } });
    }
    this.finish(sub, undefined);
  }

  private finish(sub: Sub, err: ClientError | undefined): void {
    if (sub.done) return;
    sub.done = true;
    this.subs.delete(sub);
    if (sub.id !== undefined) this.byId.delete(sub.id);
    sub.onClose(err);
    if (this.subs.size === 0 && this.stream !== undefined && !this.closed) {
      // Nothing left to watch: let the stream go (clientv3 closes idle watch streams too).
      this.stream.cancel();
      this.stream = undefined;
    }
  }

  private onResponse(r: WatchResponse): void {
    if (r.created) {
      const sub = this.pending.shift();
      if (sub === undefined) return;
      if ((r.canceled || r.watchId === -1n) && this.client.hasCredentials && isTokenCancelReason(r.cancelReason) && sub.refreshes < MAX_REFRESHES) {
        sub.refreshes++;
        this.restart(true);
        return;
      }
      if (r.canceled || r.watchId === -1n) {
        const err = new ClientError(Code.Unknown, r.cancelReason || Errors.watchCanceled.message);
        sub.onUpdate({ response: r, error: err });
        this.finish(sub, err);
        return;
      }
      sub.id = r.watchId;
      sub.refreshes = 0;
      // A watch "from now" resumes after the revision it was created at, so a new stream
      // misses nothing that happened in between.
      if (sub.nextRev === 0n && r.header !== undefined) sub.nextRev = r.header.revision + 1n;
      this.byId.set(r.watchId, sub);
      if (sub.done) this.stream?.send({ requestUnion: { case: "cancelRequest", value: { watchId: r.watchId } } });
      return;
    }
    if (r.watchId === -1n) {
      // A progress reply to requestProgress goes to every watch.
      for (const s of this.subs) if (s.id !== undefined) s.onUpdate({ response: r });
      return;
    }
    const sub = this.byId.get(r.watchId);
    if (sub === undefined) return;
    if (r.canceled) {
      const err =
        r.compactRevision !== 0n
          ? new ClientError(Code.OutOfRange, Errors.compacted.message)
          : new ClientError(Code.Unknown, r.cancelReason || Errors.watchCanceled.message);
      sub.onUpdate({ response: r, error: err });
      this.finish(sub, err);
      return;
    }
    const last = r.events.at(-1);
    if (last?.kv) sub.nextRev = last.kv.modRevision + 1n;
    else if (isProgressNotify(r) && r.header) sub.nextRev = r.header.revision + 1n;
    sub.onUpdate({ response: r });
  }

  private onStreamEnd(s: TypedStream<typeof WatchRequestSchema, typeof WatchResponseSchema>, e: ClientError | undefined): void {
    if (this.stream !== s) return;
    this.stream = undefined;
    if (this.closed || this.subs.size === 0) return;
    const tokenError = e !== undefined && e.kind === "status" && isTokenError(e.message) && this.client.hasCredentials;
    if (e !== undefined && e.kind === "status" && e.code !== Code.Unavailable && e.code !== Code.Internal && !tokenError) {
      for (const sub of [...this.subs]) this.finish(sub, e);
      return;
    }
    if (tokenError) {
      const worst = Math.max(...[...this.subs].map((s) => ++s.refreshes));
      if (worst > MAX_REFRESHES) {
        for (const sub of [...this.subs]) this.finish(sub, e);
        return;
      }
    }
    this.restart(tokenError);
  }

  /**
   * Drops the stream and creates every live watch again on a new one, from the revision after
   * the last event it delivered; with `refresh`, after fetching a new token.
   */
  private restart(refresh: boolean): void {
    const old = this.stream;
    this.stream = undefined;
    old?.cancel();
    setTimeout(() => {
      const ready = refresh ? this.client.refreshToken(Date.now() + REFRESH_DEADLINE_MS).then(() => this.ensure()) : this.ensure();
      void ready.then(
        () => {
          for (const sub of this.subs) {
            sub.id = undefined;
            this.create(sub);
          }
        },
        (err) => this.fail(err),
      );
    }, refresh ? 0 : RESUME_WAIT_MS);
  }

  private fail(e: unknown): void {
    const err = e instanceof ClientError ? e : new ClientError(Code.Unknown, String(e));
    for (const sub of [...this.subs]) this.finish(sub, err);
  }
}
