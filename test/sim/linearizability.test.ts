import { expect, test } from "bun:test";
import { checkKv, checkRegister, pruneUnobservedPuts, type KvOp } from "./linearizability.ts";

const put = (value: string, call: number, ret: number): KvOp => ({ key: "k", kind: "put", value, call, ret });
const get = (value: string | undefined, call: number, ret: number): KvOp => ({ key: "k", kind: "get", value, call, ret });

test("accepts linearizable register histories", () => {
  expect(checkRegister([put("a", 1, 2), get("a", 3, 4)])).toBe(true);
  // Concurrent put and get: the get may see either value.
  expect(checkRegister([put("a", 1, 2), put("b", 3, 6), get("a", 4, 5)])).toBe(true);
  expect(checkRegister([put("a", 1, 2), put("b", 3, 6), get("b", 4, 5)])).toBe(true);
  // A put with unknown outcome may take effect late, or never.
  expect(checkRegister([put("a", 1, Infinity), get(undefined, 2, 3), get("a", 4, 5)])).toBe(true);
  expect(checkRegister([put("a", 1, Infinity), get(undefined, 2, 3)])).toBe(true);
});

test("rejects non-linearizable register histories", () => {
  // Stale read after a completed write.
  expect(checkRegister([put("a", 1, 2), put("b", 3, 4), get("a", 5, 6)])).toBe(false);
  // Reading a value never written.
  expect(checkRegister([get("z", 1, 2)])).toBe(false);
  // Going back in time: b then a then b again with no second write of b.
  expect(checkRegister([put("a", 1, 10), put("b", 2, 3), get("b", 4, 5), get("a", 6, 7), get("b", 8, 9)])).toBe(false);
  // A read before the write was called cannot see it.
  expect(checkRegister([get("a", 1, 2), put("a", 3, 4)])).toBe(false);
});

test("indeterminate puts nobody read are pruned; the verdict stays the same", () => {
  const unread = Array.from({ length: 40 }, (_, i) => put(`u${i}`, 1 + i, Infinity));
  const stale = [put("a", 100, 101), put("b", 102, 103), get("a", 104, 105)];
  expect(pruneUnobservedPuts([...unread, ...stale])).toEqual(stale);
  // Forty concurrent indeterminate writes would make the search exponential without pruning.
  expect(checkKv([...unread, ...stale])).toEqual(["k"]);
  expect(checkKv([...unread, put("a", 100, 101), get("a", 102, 103)])).toEqual([]);
  // An indeterminate put that was read is kept and must be placed consistently.
  const readLate = [put("x", 1, Infinity), get(undefined, 2, 3), get("x", 4, 5), get(undefined, 6, 7)];
  expect(pruneUnobservedPuts(readLate)).toEqual(readLate);
  expect(checkKv(readLate)).toEqual(["k"]);
});
