// Call deadlines: the `grpc-timeout` a gRPC client sends (and the `Grpc-Timeout` header the
// JSON gateway forwards, as grpc-gateway does). A call still running at its deadline ends with
// the status etcd 3.4.23 ends it with (observed over raw HTTP/2 with grpc-go 1.26 underneath):
//
//   unary and server-streaming calls   Unknown "context deadline exceeded" (the handler
//                                      returns ctx.Err(), which grpc-go 1.26 sends as Unknown):
//                                      Lock, Campaign, linearizable reads, Observe, Snapshot
//   calls that propose                 Unavailable "etcdserver: request timed out" (etcd's
//                                      parseProposeCtxErr)
//   bidi streams (Watch, KeepAlive)    DeadlineExceeded "context deadline exceeded" (their
//                                      receive loop sees the transport's context error first)
//   a deadline already passed when     DeadlineExceeded "context deadline exceeded"
//   the call is dispatched
//   any call through the gateway       DeadlineExceeded (HTTP 504): the gateway is a gRPC client
//                                      whose own context expires
//
// A grpc-go client reports DeadlineExceeded in every case (its own timer fires too).
import { Code, EtcdError, Errors } from "../../rpctypes/index.ts";

/** What the call's handler returns at its deadline (sent as Unknown by etcd 3.4). */
export const contextDeadlineExceeded = new EtcdError(Code.Unknown, "context deadline exceeded");
/** The transport's (or a client's) deadline status. */
export const deadlineExceeded = new EtcdError(Code.DeadlineExceeded, "context deadline exceeded");

/** grpc-go's timeout units (HTTP/2 spec: TimeoutUnit). */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Go's strconv.ParseInt(s, 10, 64) shape: an optional sign and decimal digits. */
const INT = /^[+-]?[0-9]+$/;
const INT64_MAX = 9223372036854775807n;

/**
 * A `grpc-timeout` value in ms, or undefined when malformed (grpc-go's decodeTimeout: 2 to 9
 * characters, an integer and a unit; the server resets such a stream with PROTOCOL_ERROR).
 */
export function parseGrpcTimeout(v: string): number | undefined {
  if (v.length < 2 || v.length > 9) return undefined;
  return decode(v);
}

/**
 * A gateway `Grpc-Timeout` header in ms: undefined when absent or zero (no deadline, as
 * grpc-gateway), an EtcdError (InvalidArgument "invalid grpc-timeout: …") when malformed.
 */
export function parseGatewayTimeout(v: string | undefined): number | undefined | EtcdError {
  if (v === undefined || v === "") return undefined;
  const ms = v.length < 2 ? undefined : decode(v);
  if (ms === undefined) return new EtcdError(Code.InvalidArgument, `invalid grpc-timeout: ${v}`);
  return ms === 0 ? undefined : ms;
}

function decode(v: string): number | undefined {
  const unit = UNIT_MS[v[v.length - 1]!];
  const digits = v.slice(0, -1);
  if (unit === undefined || !INT.test(digits)) return undefined;
  // ParseInt refuses values outside int64.
  const big = BigInt(digits);
  if (big > INT64_MAX || big < -INT64_MAX - 1n) return undefined;
  return Number(big) * unit;
}

/** The kind of call a deadline ends, which decides its status (see the table above). */
export type DeadlineKind = "unary" | "proposal" | "server-stream" | "bidi";

/** The status a call of `kind` ends with at its deadline. `client`: the gateway's view. */
export function deadlineError(kind: DeadlineKind, client: boolean): EtcdError {
  if (client || kind === "bidi") return deadlineExceeded;
  return kind === "proposal" ? Errors.timeout : contextDeadlineExceeded;
}

export interface DeadlineTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
}

/** The longest delay a timer takes (a signed 32-bit count of ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const globalDeadlineTimers: DeadlineTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * One call's deadline. `signal` aborts at the deadline or when `parent` (the client going
 * away) aborts, so every wait that watches the request's signal stops; `onExpire` callbacks
 * run first, so the call's answer is the deadline's status and not the wait's cleanup error.
 */
export class CallDeadline {
  /**
   * Made when the signal is first asked for: most unary calls (a put, a range) never wait on it
   * (the pipeline races their answer with the deadline), and an AbortController with a listener
   * on the parent per call cost put at 1000 clients a quarter of its throughput (1.10-1.20x
   * etcd's before deadlines, 0.91x after; measured with compare.py on b65b4ea and its parent).
   */
  private ac: AbortController | undefined;
  private handle: unknown;
  private expiredFlag = false;
  private readonly listeners = new Set<() => void>();
  private readonly onParentAbort = () => this.ac?.abort();

  constructor(
    ms: number,
    private readonly parent: AbortSignal | undefined,
    private readonly timers: DeadlineTimers,
  ) {
    this.arm(Math.max(0, ms));
  }

  /**
   * Timers take at most MAX_TIMER_MS (a longer delay fires at once, with a warning): a longer
   * deadline (clients send up to years, e.g. for a lock wait) is waited out in steps.
   */
  private arm(ms: number): void {
    const step = Math.min(ms, MAX_TIMER_MS);
    this.handle = this.timers.setTimeout(() => (ms > step ? this.arm(ms - step) : this.expire()), step);
    (this.handle as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Aborts at the deadline, or when the parent (the client going away) aborts. */
  get signal(): AbortSignal {
    if (this.ac === undefined) {
      this.ac = new AbortController();
      if (this.expiredFlag || this.parent?.aborted) this.ac.abort();
      else this.parent?.addEventListener("abort", this.onParentAbort, { once: true });
    }
    return this.ac.signal;
  }

  get expired(): boolean {
    return this.expiredFlag;
  }

  /** Calls `fn` once at the deadline (at once if it has passed). */
  onExpire(fn: () => void): void {
    if (this.expiredFlag) fn();
    else this.listeners.add(fn);
  }

  /**
   * Settles with `p`, or rejects with `err` at the deadline, whichever comes first. The
   * deadline stays armed (a stream races each of its steps); clear() it when the call ends.
   */
  race<T>(p: Promise<T>, err: EtcdError): Promise<T> {
    if (this.expiredFlag) {
      p.catch(() => undefined);
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const onExpire = () => reject(err);
      this.listeners.add(onExpire);
      p.then(
        (v) => {
          this.listeners.delete(onExpire);
          resolve(v);
        },
        (e: unknown) => {
          this.listeners.delete(onExpire);
          reject(e);
        },
      );
    });
  }

  /** The call finished: no deadline any more. */
  clear(): void {
    this.timers.clearTimeout(this.handle);
    if (this.ac !== undefined) this.parent?.removeEventListener("abort", this.onParentAbort);
    this.listeners.clear();
  }

  private expire(): void {
    if (this.expiredFlag) return;
    this.expiredFlag = true;
    if (this.ac !== undefined) this.parent?.removeEventListener("abort", this.onParentAbort);
    const fns = [...this.listeners];
    this.listeners.clear();
    for (const fn of fns) fn();
    this.ac?.abort();
  }
}
