// Callers waiting for the state machine to reach an index (etcd's wait.WaitTime): linearizable
// auth checks wait here for the auth store a token was issued at. Each waiter ends exactly once
// — applied, timed out, aborted or stopped — and leaves the list when it ends.
import { Errors } from "../rpctypes/index.ts";

interface Waiter {
  index: number;
  resolve(): void;
  reject(e: unknown): void;
}

export interface AppliedWaitersDeps {
  appliedIndex(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(h: unknown): void;
}

export class AppliedWaiters {
  private readonly waiters: Waiter[] = [];
  private stopped = false;

  constructor(private readonly d: AppliedWaitersDeps) {}

  /** The state machine applied up to `index`: wake everyone waiting for it or less. */
  applied(index: number): void {
    if (this.waiters.length === 0) return;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.index <= index) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves once `index` is applied; rejects after `ms`, on abort (both: timeout) or at stop. */
  wait(index: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (index <= this.d.appliedIndex()) return Promise.resolve();
    if (this.stopped) return Promise.reject(Errors.stopped);
    return new Promise((resolve, reject) => {
      const timer = this.d.setTimer(() => done(Errors.timeout), ms);
      const onAbort = () => done(Errors.timeout);
      const w: Waiter = { index, resolve: () => done(undefined), reject: (e: unknown) => done(e) };
      let settled = false;
      const done = (err: unknown) => {
        if (settled) return;
        settled = true;
        this.d.clearTimer(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        if (err === undefined) resolve();
        else reject(err);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  /** The member stops: every waiter fails with etcd's "server stopped". */
  stop(): void {
    this.stopped = true;
    for (const w of this.waiters.splice(0)) w.reject(Errors.stopped);
  }
}
