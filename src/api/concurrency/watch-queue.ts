// A pull-style view of one watcher on the server's WatchStream, for the waits of Lock and
// Election. Responses queue until taken; a server close, a cancel or the request's abort
// ends the queue with an error.
import { create } from "@bufbuild/protobuf";
import { WatchCreateRequestSchema, type WatchResponse } from "../../gen/rpc_pb.ts";
import { Code, EtcdError, Errors } from "../../rpctypes/index.ts";
import type { EtcdServer, RequestContext, WatchStream } from "../../server/types.ts";
import type { Rev } from "./keys.ts";


export class WatchQueue {
  private readonly queue: WatchResponse[] = [];
  private waiter: { resolve: (r: WatchResponse) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;
  private stream: WatchStream | null = null;
  private readonly onAbort = () => this.fail(Errors.canceled);

  constructor(
    server: EtcdServer,
    key: Uint8Array,
    rangeEnd: Uint8Array,
    startRevision: Rev,
    private readonly ctx: RequestContext,
  ) {
    if (ctx.signal?.aborted) {
      this.failure = Errors.canceled;
      return;
    }
    ctx.signal?.addEventListener("abort", this.onAbort);
    const stream = server.openWatchStream(
      (r) => this.push(r),
      // The caller's identity and hasleader; not its abort signal (handled above).
      { token: ctx.token, commonName: ctx.commonName, auth: ctx.auth, requireLeader: ctx.requireLeader },
      (err) => this.fail(err),
    );
    this.stream = stream;
    stream.create(create(WatchCreateRequestSchema, { key, rangeEnd, startRevision }));
    if (this.failure !== null) this.close();
  }

  private push(r: WatchResponse): void {
    if (this.failure !== null) return;
    if (r.canceled) {
      const err =
        r.compactRevision !== (0n as typeof r.compactRevision)
          ? Errors.compacted
          : new EtcdError(Code.Canceled, r.cancelReason || Errors.watchCanceled.message);
      this.fail(err);
      return;
    }
    if (r.created && r.events.length === 0) return;
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(r);
    } else this.queue.push(r);
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = err;
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
    this.close();
  }

  /** The next response carrying events; rejects once the watch ended. */
  next(): Promise<WatchResponse> {
    const r = this.queue.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  close(): void {
    this.ctx.signal?.removeEventListener("abort", this.onAbort);
    if (this.failure === null) this.failure = Errors.canceled;
    const s = this.stream;
    this.stream = null;
    s?.close();
  }
}
