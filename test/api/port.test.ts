// The client port's connection policy, each piece alone: the connection gate's eviction order,
// the member-wide output budget, throttled abuse logging, and where the limits come from.
import { describe, expect, test } from "bun:test";
import { ConnectionGate, connectionCap, keepaliveFromFlags, OutputBudget, ThrottledLog } from "../../src/api/port/index.ts";
import { openFilesLimit } from "../../src/runtime/fd-limit.ts";
import { socketAddress } from "../../src/runtime/sd-notify.ts";
import { FakeClock } from "../h2/fake-peer.ts";

describe("connection gate", () => {
  test("at the cap: the longest-waiting unfinished connection goes first, then the longest idle; busy ones never", () => {
    const g = new ConnectionGate(3);
    const closed: string[] = [];
    const admit = (name: string) => g.admit(() => closed.push(name));
    const a = admit("a")!;
    const b = admit("b")!;
    admit("c");
    g.set(a, "busy");
    g.set(b, "idle");
    // c has completed nothing yet: it makes room first.
    admit("d");
    expect(closed).toEqual(["c"]);
    // d is now the one waiting longest without a request.
    const e = admit("e")!;
    expect(closed).toEqual(["c", "d"]);
    g.set(e, "busy");
    // Nothing unfinished left: the idle one goes.
    const f = admit("f")!;
    expect(closed).toEqual(["c", "d", "b"]);
    g.set(f, "busy");
    // Every place busy: refused.
    expect(admit("g")).toBeNull();
    expect([g.size, g.evicted, g.refused]).toEqual([3, 3, 1]);
    g.release(a);
    expect(admit("h")).not.toBeNull();
  });

  test("an idle connection that becomes idle again moves to the back of the line", () => {
    const g = new ConnectionGate(2);
    const closed: string[] = [];
    const a = g.admit(() => closed.push("a"))!;
    const b = g.admit(() => closed.push("b"))!;
    g.set(a, "idle");
    g.set(b, "idle");
    g.set(a, "busy");
    g.set(a, "idle");
    g.admit(() => {});
    expect(closed).toEqual(["b"]);
  });
});

describe("output budget", () => {
  test("over the member-wide budget the largest holders are closed until it fits", () => {
    const clock = new FakeClock();
    const budget = new OutputBudget(100, 250, clock);
    const aborted: string[] = [];
    const member = (name: string, n: number) => ({ queuedBytes: n, abort: () => aborted.push(name) });
    budget.add(member("small", 10));
    budget.add(member("big", 80));
    budget.add(member("mid", 40));
    clock.advance(250);
    expect(aborted).toEqual(["big"]);
    clock.advance(250);
    expect(aborted).toEqual(["big"]);
    expect(budget.aborted).toBe(1);
    budget.stop();
  });
});

test("abuse warnings: at most one a second per message, the next saying how many were left out", () => {
  let t = 0;
  const lines: Array<[string, Record<string, unknown>]> = [];
  const log = new ThrottledLog({ warn: (m: string, f: Record<string, unknown>) => lines.push([m, f]) } as never, 1000, () => t);
  for (let i = 0; i < 50; i++) log.warn("closed a client connection", { i });
  log.warn("refused a client connection", {});
  t = 1000;
  log.warn("closed a client connection", { i: 50 });
  expect(lines).toEqual([
    ["closed a client connection", { i: 0 }],
    ["refused a client connection", {}],
    ["closed a client connection", { i: 50, "suppressed-since-last": 49 }],
  ]);
});

describe("limits from the environment and the flags", () => {
  test("the connection cap keeps 256 descriptors for the member", () => {
    expect(connectionCap(400)).toBe(144);
    expect(connectionCap(20_000)).toBe(19_744);
    expect(connectionCap(100)).toBe(64);
    expect(connectionCap(undefined)).toBe(10_000);
  });

  test("the soft open-files limit is read from /proc/self/limits", () => {
    const limits = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                20000                files\n`;
    expect(openFilesLimit(() => limits("1024"))).toBe(1024);
    expect(openFilesLimit(() => limits("unlimited"))).toBe(Number.MAX_SAFE_INTEGER);
    expect(openFilesLimit(() => "garbage")).toBeUndefined();
    expect(openFilesLimit(() => {
      throw new Error("no /proc");
    })).toBeUndefined();
    expect(openFilesLimit()).toBeGreaterThan(0);
  });

  test("grpc keepalive flags with etcd's zero semantics", () => {
    expect(keepaliveFromFlags(5000, 7_200_000, 20_000)).toEqual({ minTimeMs: 5000, permitWithoutStream: false, intervalMs: 7_200_000, timeoutMs: 20_000 });
    // 0 min time: no policy from etcd, grpc-go's own 5 minutes.
    expect(keepaliveFromFlags(0, 1000, 1000).minTimeMs).toBe(300_000);
    // Either of interval and timeout 0: grpc-go's defaults for both.
    expect(keepaliveFromFlags(5000, 0, 1000)).toMatchObject({ intervalMs: 7_200_000, timeoutMs: 20_000 });
    expect(keepaliveFromFlags(5000, 1000, 0)).toMatchObject({ intervalMs: 7_200_000, timeoutMs: 20_000 });
  });
});

test("systemd's NOTIFY_SOCKET as a sockaddr_un: a path with its terminator, or an abstract name", () => {
  const p = socketAddress("/run/systemd/notify")!;
  expect(p.len).toBe(2 + 19 + 1);
  expect([...p.addr.subarray(0, 4)]).toEqual([1, 0, 0x2f, 0x72]);
  const a = socketAddress("@abstract")!;
  expect(a.len).toBe(2 + 9);
  expect([...a.addr.subarray(2, 4)]).toEqual([0, 0x61]);
  expect(socketAddress("x".repeat(108))).toBeUndefined();
  expect(socketAddress("")).toBeUndefined();
});

describe("HTTP/1.1 timeouts", () => {
  test("headers due within the read-header timeout; an idle kept-alive connection closed after the idle timeout; none while a request is served", async () => {
    const { Http1Sessions } = await import("../../src/api/port/index.ts");
    const { EventEmitter } = await import("node:events");
    const clock = new FakeClock();
    const gate = new ConnectionGate(10);
    const sessions = new Http1Sessions({ readHeaderTimeoutMs: 10_000, idleTimeoutMs: 60_000 }, clock, gate);
    class FakeSock extends EventEmitter {
      destroyed = false;
      destroy(): void {
        this.destroyed = true;
        this.emit("close");
      }
    }
    const sock = () => new FakeSock();
    // Headers never complete: closed at the deadline (which counts time already spent).
    const slow = sock();
    sessions.attach(slow as never, gate.admit(() => {}), clock.now() + 8_000);
    clock.advance(7_999);
    expect(slow.destroyed).toBe(false);
    clock.advance(1);
    expect(slow.destroyed).toBe(true);
    // A request arrives in time; while it is served nothing times out; then the idle timeout runs.
    const s = sock();
    const entry = gate.admit(() => {})!;
    sessions.attach(s as never, entry, clock.now() + 10_000);
    clock.advance(5_000);
    const res = new EventEmitter();
    sessions.request({ socket: s } as never, res as never);
    expect(entry.state).toBe("busy");
    clock.advance(600_000);
    expect(s.destroyed).toBe(false);
    res.emit("finish");
    expect(entry.state).toBe("idle");
    clock.advance(59_999);
    expect(s.destroyed).toBe(false);
    // The next request starts: its headers are due in 10 s, no longer the idle timeout.
    s.emit("data", Buffer.from("GET"));
    clock.advance(9_999);
    expect(s.destroyed).toBe(false);
    clock.advance(1);
    expect(s.destroyed).toBe(true);
    // An upgraded connection (a websocket) is never timed out.
    const u = sock();
    sessions.attach(u as never, gate.admit(() => {}), clock.now() + 10_000);
    sessions.upgraded(u as never);
    clock.advance(3_600_000);
    expect(u.destroyed).toBe(false);
  });
});
