// grpc-timeout parsing (grpc-go's decodeTimeout, grpc-gateway's timeoutDecode) and the
// deadline's statuses per kind of call (src/api/pipeline/deadline.ts).
import { expect, test } from "bun:test";
import { CallDeadline, deadlineError, parseGatewayTimeout, parseGrpcTimeout, type DeadlineTimers } from "../../src/api/pipeline/deadline.ts";
import { Code, EtcdError } from "../../src/rpctypes/index.ts";

test("grpc-timeout: an integer of up to 8 digits and a unit, as grpc-go decodes it", () => {
  expect(parseGrpcTimeout("1H")).toBe(3_600_000);
  expect(parseGrpcTimeout("2M")).toBe(120_000);
  expect(parseGrpcTimeout("3S")).toBe(3000);
  expect(parseGrpcTimeout("500m")).toBe(500);
  expect(parseGrpcTimeout("1500u")).toBe(1.5);
  expect(parseGrpcTimeout("99999999n")).toBeCloseTo(99.999999);
  expect(parseGrpcTimeout("0m")).toBe(0);
  expect(parseGrpcTimeout("-5m")).toBe(-5); // ParseInt takes a sign: a deadline already past
  for (const bad of ["", "m", "10", "abc", "5x", "123456789S", "1.5S", " 5m", "5 m"]) expect(parseGrpcTimeout(bad)).toBeUndefined();
});

test("Grpc-Timeout on the gateway: no length limit, zero means none, malformed is InvalidArgument", () => {
  expect(parseGatewayTimeout(undefined)).toBeUndefined();
  expect(parseGatewayTimeout("0m")).toBeUndefined();
  expect(parseGatewayTimeout("123456789S")).toBe(123_456_789_000);
  expect(parseGatewayTimeout("700m")).toBe(700);
  const bad = parseGatewayTimeout("abc");
  expect(bad).toBeInstanceOf(EtcdError);
  expect((bad as EtcdError).code).toBe(Code.InvalidArgument);
  expect((bad as EtcdError).message).toBe("invalid grpc-timeout: abc");
  expect(parseGatewayTimeout("99999999999999999999S")).toBeInstanceOf(EtcdError); // past int64
});

test("each kind of call ends with etcd's status at its deadline", () => {
  expect([deadlineError("unary", false).code, deadlineError("unary", false).message]).toEqual([Code.Unknown, "context deadline exceeded"]);
  expect(deadlineError("server-stream", false).code).toBe(Code.Unknown);
  expect([deadlineError("proposal", false).code, deadlineError("proposal", false).message]).toEqual([Code.Unavailable, "etcdserver: request timed out"]);
  expect(deadlineError("bidi", false).code).toBe(Code.DeadlineExceeded);
  for (const k of ["unary", "proposal", "server-stream", "bidi"] as const) expect(deadlineError(k, true).code).toBe(Code.DeadlineExceeded);
});

/** Timers driven by hand. */
function manualTimers(): DeadlineTimers & { fire(): void; armed: number } {
  let fn: (() => void) | undefined;
  const t = {
    armed: 0,
    setTimeout(f: () => void) {
      fn = f;
      t.armed++;
      return 1;
    },
    clearTimeout() {
      fn = undefined;
      t.armed--;
    },
    fire() {
      const f = fn;
      fn = undefined;
      f?.();
    },
  };
  return t;
}

test("a deadline answers before the wait's cleanup, aborts the signal, and stays armed across a stream's steps", async () => {
  const timers = manualTimers();
  const dl = new CallDeadline(1000, undefined, timers);
  const err = deadlineError("unary", false);
  // A step that finishes does not disarm the deadline.
  expect(await dl.race(Promise.resolve(1), err)).toBe(1);
  const order: string[] = [];
  dl.signal.addEventListener("abort", () => order.push("abort"));
  const waiting = dl.race(new Promise<number>(() => {}), err).catch((e: unknown) => {
    order.push("answer");
    return e;
  });
  dl.onExpire(() => order.push("expire"));
  timers.fire();
  expect(await waiting).toBe(err);
  expect(dl.expired).toBe(true);
  expect(dl.signal.aborted).toBe(true);
  // The answer is decided (rejected) before the signal tells waits to clean up.
  expect(order.indexOf("expire")).toBeLessThan(order.indexOf("abort"));
  await expect(dl.race(Promise.resolve(2), err)).rejects.toBe(err);
});

test("the client going away aborts the call's signal; clear() disarms the timer", () => {
  const timers = manualTimers();
  const parent = new AbortController();
  const dl = new CallDeadline(1000, parent.signal, timers);
  expect(timers.armed).toBe(1);
  parent.abort();
  expect(dl.signal.aborted).toBe(true);
  expect(dl.expired).toBe(false);
  dl.clear();
  expect(timers.armed).toBe(0);
});

test("a deadline longer than a timer takes (a year, as a lock wait sends) is waited out in steps", () => {
  const delays: number[] = [];
  let fn: (() => void) | undefined;
  const timers: DeadlineTimers = {
    setTimeout(f: () => void, ms: number) {
      fn = f;
      delays.push(ms);
      return delays.length;
    },
    clearTimeout() {
      fn = undefined;
    },
  };
  const year = 365 * 24 * 3600 * 1000;
  const dl = new CallDeadline(year, undefined, timers);
  // Every step fits a 32-bit timer (a longer delay would fire at once).
  for (let i = 0; i < 20 && !dl.expired; i++) {
    expect(delays[delays.length - 1]!).toBeLessThanOrEqual(2 ** 31 - 1);
    fn!();
  }
  expect(dl.expired).toBe(true);
  expect(delays.reduce((a, b) => a + b, 0)).toBe(year);
  expect(delays.length).toBe(Math.ceil(year / (2 ** 31 - 1)));
});
