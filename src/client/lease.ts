// Lease keep-alive as clientv3 does it: one LeaseKeepAlive stream, a request right away and
// then every TTL/3 after each answer; an answer with TTL <= 0 means the lease is gone. A stream
// ended by a token error is opened again with a new token (clientv3's stream retry does the
// same); after any other failure it is opened again half a second later, as clientv3 does.
import { Lease, type LeaseKeepAliveResponse } from "../gen/rpc_pb.ts";
import { type Client, isTokenError } from "./client.ts";
import { Code, Errors } from "../rpctypes/index.ts";
import { ClientError } from "./errors.ts";

/** Token refreshes in a row (without an answer between them) before the error is reported. */
const MAX_REFRESHES = 3;

/** One renewal; a lease that is gone is reported as "requested lease not found". */
export async function keepAliveOnce(client: Client, id: bigint, deadline: number): Promise<LeaseKeepAliveResponse> {
  const s = await client.openStream(Lease.method.leaseKeepAlive, { deadline, requireLeader: true });
  const timer = setTimeout(() => s.cancel(), Math.min(2_147_483_647, Math.max(0, deadline - Date.now())));
  try {
    s.send({ ID: id });
    const r = await s.next();
    if (r === undefined) throw s.error ?? new ClientError(Code.Canceled, "context deadline exceeded", "context");
    if (r.TTL <= 0n) throw new ClientError(Code.NotFound, Errors.leaseNotFound.message);
    return r;
  } finally {
    clearTimeout(timer);
    s.cancel();
  }
}

export interface KeepAliveHandle {
  stop(): void;
  /** Resolves when the loop ends: lease expired/revoked (undefined) or stopped. */
  readonly done: Promise<ClientError | undefined>;
}

/**
 * Keeps a lease alive until stop() or until the lease is gone. Each answer is passed to
 * onResponse. A broken stream is reopened (the lease may still be alive on another member).
 */
export function keepAlive(client: Client, id: bigint, onResponse: (r: LeaseKeepAliveResponse) => void): KeepAliveHandle {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: { cancel(): void } | undefined;
  let resolveDone!: (e: ClientError | undefined) => void;
  const done = new Promise<ClientError | undefined>((r) => {
    resolveDone = r;
  });
  const finish = (e: ClientError | undefined) => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    current?.cancel();
    resolveDone(e);
  };
  let refreshes = 0;
  const run = async () => {
    while (!stopped) {
      let s;
      try {
        s = await client.openStream(Lease.method.leaseKeepAlive, { deadline: Date.now() + 60_000, requireLeader: true });
      } catch (e) {
        if (e instanceof ClientError && e.kind === "status" && e.code !== Code.Unavailable) return finish(e);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (stopped) {
        s.cancel();
        return;
      }
      current = s;
      s.send({ ID: id });
      for (;;) {
        const r = await s.next();
        if (r === undefined) break;
        if (r.TTL <= 0n) return finish(undefined);
        refreshes = 0;
        onResponse(r);
        const wait = Math.max(500, Number(r.TTL) * 1000 / 3);
        timer = setTimeout(() => {
          if (!stopped && !s.ended) s.send({ ID: id });
        }, wait);
      }
      if (timer) clearTimeout(timer);
      if (stopped) return;
      const e = s.error;
      if (e !== undefined && e.kind === "status" && isTokenError(e.message) && client.hasCredentials) {
        if (++refreshes > MAX_REFRESHES) return finish(e);
        try {
          await client.refreshToken(Date.now() + 10_000);
        } catch (err) {
          return finish(err instanceof ClientError ? err : e);
        }
        continue;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  void run();
  return { stop: () => finish(undefined), done };
}
