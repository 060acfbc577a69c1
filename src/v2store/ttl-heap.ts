// The nodes that expire, soonest first (etcd's ttlKeyHeap). Each node knows its slot
// (heapIndex) so that removal and re-keying are O(log n).
import type { V2Node } from "./node.ts";

export class TtlHeap {
  private readonly a: V2Node[] = [];

  get size(): number {
    return this.a.length;
  }

  top(): V2Node | undefined {
    return this.a[0];
  }

  push(n: V2Node): void {
    if (n.heapIndex >= 0) throw new Error("v2store: node already in the TTL heap");
    n.heapIndex = this.a.length;
    this.a.push(n);
    this.up(n.heapIndex);
  }

  pop(): V2Node | undefined {
    const t = this.a[0];
    if (t !== undefined) this.remove(t);
    return t;
  }

  remove(n: V2Node): void {
    const i = n.heapIndex;
    if (i < 0) return;
    const last = this.a.pop()!;
    n.heapIndex = -1;
    if (last === n) return;
    this.a[i] = last;
    last.heapIndex = i;
    if (!this.down(i)) this.up(i);
  }

  /** The node's expiry changed. */
  update(n: V2Node): void {
    if (n.heapIndex < 0) return this.push(n);
    if (!this.down(n.heapIndex)) this.up(n.heapIndex);
  }

  private less(i: number, j: number): boolean {
    return this.a[i]!.expireTime < this.a[j]!.expireTime;
  }

  private swap(i: number, j: number): void {
    const x = this.a[i]!;
    const y = this.a[j]!;
    this.a[i] = y;
    this.a[j] = x;
    x.heapIndex = j;
    y.heapIndex = i;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Returns whether the node moved. */
  private down(i0: number): boolean {
    let i = i0;
    const n = this.a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      if (l + 1 < n && this.less(l + 1, l)) c = l + 1;
      if (!this.less(c, i)) break;
      this.swap(i, c);
      i = c;
    }
    return i > i0;
  }
}
