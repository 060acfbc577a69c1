// The current-key index: live keys in byte order with their latest metadata and value, so
// reads at the current revision never touch SQLite. A hash map answers point lookups; a
// list of sorted leaves (a two-level B+tree) answers ordered range scans.
import type { KeyRange } from "./bytes.ts";

export interface LiveKey {
  readonly key: Uint8Array;
  readonly k: string; // latin1 form of key
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: bigint; // 0n = none
}
// LiveKey objects are immutable: a put replaces the entry, so change records and watch
// events may keep references to them.

const MAX_LEAF = 512;

export class KeyIndex {
  private readonly byKey = new Map<string, LiveKey>();
  // Invariant: every leaf is non-empty and sorted; leaves[i] keys < leaves[i+1] keys.
  private leaves: LiveKey[][] = [];

  get size(): number {
    return this.byKey.size;
  }

  get(k: string): LiveKey | undefined {
    return this.byKey.get(k);
  }

  /** Insert a new key or replace the entry of an existing one. */
  set(e: LiveKey): void {
    const old = this.byKey.get(e.k);
    this.byKey.set(e.k, e);
    const li = this.leafFor(e.k);
    if (li < 0) {
      this.leaves.push([e]);
      return;
    }
    const leaf = this.leaves[li]!;
    const pos = lowerBound(leaf, e.k);
    if (old !== undefined) {
      if (leaf[pos]?.k !== e.k) throw new Error("key index: map and leaves disagree");
      leaf[pos] = e;
      return;
    }
    leaf.splice(pos, 0, e);
    if (leaf.length > MAX_LEAF) {
      const right = leaf.splice(leaf.length >> 1);
      this.leaves.splice(li + 1, 0, right);
    }
  }

  delete(k: string): LiveKey | undefined {
    const old = this.byKey.get(k);
    if (old === undefined) return undefined;
    this.byKey.delete(k);
    const li = this.leafFor(k);
    const leaf = this.leaves[li]!;
    const pos = lowerBound(leaf, k);
    if (leaf[pos]?.k !== k) throw new Error("key index: map and leaves disagree");
    leaf.splice(pos, 1);
    if (leaf.length === 0) this.leaves.splice(li, 1);
    else if (li > 0 && leaf.length + this.leaves[li - 1]!.length <= MAX_LEAF / 2) {
      this.leaves[li - 1]!.push(...leaf);
      this.leaves.splice(li, 1);
    }
    return old;
  }

  /** Replaces every entry with fn(entry), which must keep its key (k). */
  remap(fn: (e: LiveKey) => LiveKey): void {
    for (const leaf of this.leaves) {
      for (let i = 0; i < leaf.length; i++) {
        const e = fn(leaf[i]!);
        if (e.k !== leaf[i]!.k) throw new Error("key index: remap changed a key");
        leaf[i] = e;
        this.byKey.set(e.k, e);
      }
    }
  }

  /** Live keys in r, ascending. */
  *range(r: KeyRange): IterableIterator<LiveKey> {
    if (r.end === undefined) {
      const e = this.byKey.get(r.start);
      if (e !== undefined) yield e;
      return;
    }
    let li = Math.max(0, this.leafFor(r.start));
    let pos = li < this.leaves.length ? lowerBound(this.leaves[li]!, r.start) : 0;
    for (; li < this.leaves.length; li++, pos = 0) {
      const leaf = this.leaves[li]!;
      for (; pos < leaf.length; pos++) {
        const e = leaf[pos]!;
        if (r.end !== "" && e.k >= r.end) return;
        yield e;
      }
    }
  }

  /**
   * The number of live keys in r without visiting them: whole leaves are counted by their
   * length (O(log n + leaves in r)), so a count over a million keys allocates nothing.
   */
  count(r: KeyRange): number {
    if (r.end === undefined) return this.byKey.has(r.start) ? 1 : 0;
    const ls = this.leaves;
    if (ls.length === 0) return 0;
    const li = Math.max(0, this.leafFor(r.start));
    const endLeaf = r.end === "" ? ls.length - 1 : Math.max(0, this.leafFor(r.end));
    if (endLeaf < li) return 0;
    const from = lowerBound(ls[li]!, r.start);
    const to = r.end === "" ? ls[endLeaf]!.length : lowerBound(ls[endLeaf]!, r.end);
    if (endLeaf === li) return Math.max(0, to - from);
    let n = ls[li]!.length - from + to;
    for (let i = li + 1; i < endLeaf; i++) n += ls[i]!.length;
    return n;
  }

  /** Index of the leaf whose first key ≤ k (or 0), -1 when empty. */
  private leafFor(k: string): number {
    const ls = this.leaves;
    if (ls.length === 0) return -1;
    let lo = 0;
    let hi = ls.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ls[mid]![0]!.k <= k) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function lowerBound(leaf: LiveKey[], k: string): number {
  let lo = 0;
  let hi = leaf.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (leaf[mid]!.k < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
