import { expect, test } from "bun:test";
import { KeyIndex, type LiveKey } from "../../src/mvcc/key-index.ts";
import { fromKey, keyRange, rangesOverlap, toKey } from "../../src/mvcc/bytes.ts";

function entry(k: string, rev: number): LiveKey {
  return { key: fromKey(k), k, value: new Uint8Array(0), createRevision: rev, modRevision: rev, version: 1, lease: 0n };
}

test("key index matches a sorted-array model under random inserts, updates, deletes and ranges", () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const idx = new KeyIndex();
  const model = new Map<string, number>();
  const key = () => String.fromCharCode(rnd(3) * 120, 97 + rnd(26), 97 + rnd(26));
  for (let i = 0; i < 20000; i++) {
    const op = rnd(10);
    const k = key();
    if (op < 6) {
      idx.set(entry(k, i));
      model.set(k, i);
    } else if (op < 9) {
      expect(idx.delete(k)?.k).toBe(model.has(k) ? k : undefined);
      model.delete(k);
    } else {
      const a = key();
      const b = key();
      const [lo, hi] = a < b ? [a, b] : [b, a];
      const got = [...idx.range({ start: lo, end: hi })].map((e) => `${e.k}@${e.modRevision}`);
      const want = [...model.entries()].filter(([mk]) => mk >= lo && mk < hi).sort(([x], [y]) => (x < y ? -1 : 1)).map(([mk, r]) => `${mk}@${r}`);
      expect(got).toEqual(want);
      // count() agrees without visiting the keys, also for reversed, open and point ranges.
      expect(idx.count({ start: lo, end: hi })).toBe(want.length);
      expect(idx.count({ start: hi, end: lo })).toBe(0);
      expect(idx.count({ start: lo, end: "" })).toBe([...model.keys()].filter((mk) => mk >= lo).length);
      expect(idx.count({ start: a, end: undefined })).toBe(model.has(a) ? 1 : 0);
    }
  }
  expect(idx.size).toBe(model.size);
  expect(idx.count({ start: "", end: "" })).toBe(model.size);
  expect([...idx.range({ start: "", end: "" })].length).toBe(model.size);
});

test("byte keys: latin1 form orders bytewise; etcd range_end forms", () => {
  const k = (...b: number[]) => toKey(new Uint8Array(b));
  expect(k(0x7f) < k(0x80)).toBe(true);
  expect(k(0xff) < k(0xff, 0)).toBe(true);
  expect(keyRange(new Uint8Array([1]), new Uint8Array([0]))).toEqual({ start: k(1), end: "" });
  expect(keyRange(new Uint8Array([1]), new Uint8Array(0))).toEqual({ start: k(1), end: undefined });
  expect(rangesOverlap({ start: "a", end: "c" }, { start: "c", end: undefined })).toBe(false);
  expect(rangesOverlap({ start: "a", end: "" }, { start: "zz", end: "zzz" })).toBe(true);
});
