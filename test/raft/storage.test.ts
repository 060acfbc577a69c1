import { expect, test } from "bun:test";
import { CompactedError, MemoryStorage, SnapOutOfDateError, UnavailableError, type Entry } from "../../src/raft/index.ts";

const e = (index: number, term: number, size = 0): Entry => ({ index, term, type: 0, data: new Uint8Array(size) });

test("MemoryStorage append, conflict truncation, compaction and snapshots", () => {
  const s = new MemoryStorage();
  expect([s.firstIndex(), s.lastIndex(), s.term(0)]).toEqual([1, 0, 0]);
  s.append([e(1, 1), e(2, 1), e(3, 2)]);
  expect(s.lastIndex()).toBe(3);
  // A conflicting append replaces the suffix.
  s.append([e(3, 3), e(4, 3)]);
  expect(s.entries(1, 5).map((x) => x.term)).toEqual([1, 1, 3, 3]);
  expect(() => s.append([e(7, 3)])).toThrow("missing log entry");
  expect(() => s.entries(1, 6)).toThrow(UnavailableError);
  // Size limit keeps at least one entry.
  s.append([e(5, 3, 100), e(6, 3, 100)]);
  expect(s.entries(5, 7, 1).length).toBe(1);
  expect(s.entries(5, 7, 1000).length).toBe(2);

  s.createSnapshot(4, { voters: [1n], learners: [] }, new Uint8Array([1]));
  s.compact(4);
  expect([s.firstIndex(), s.lastIndex(), s.term(4)]).toEqual([5, 6, 3]);
  expect(() => s.entries(4, 6)).toThrow(CompactedError);
  expect(() => s.term(3)).toThrow(CompactedError);
  expect(() => s.compact(4)).toThrow(CompactedError);
  expect(() => s.createSnapshot(3, { voters: [], learners: [] }, new Uint8Array())).toThrow(SnapOutOfDateError);
  // Appending entries that are partly compacted keeps only the new part.
  s.append([e(4, 3), e(5, 3, 100), e(6, 3, 100), e(7, 4)]);
  expect(s.lastIndex()).toBe(7);

  s.applySnapshot({ meta: { index: 10, term: 5, confState: { voters: [1n, 2n], learners: [] } }, data: new Uint8Array() });
  expect([s.firstIndex(), s.lastIndex(), s.term(10)]).toEqual([11, 10, 5]);
  expect(s.initialState().confState.voters).toEqual([1n, 2n]);
  expect(() => s.applySnapshot(s.snapshot())).toThrow(SnapOutOfDateError);
});
