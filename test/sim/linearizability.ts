// A linearizability checker for a key-value store, in the style of Wing & Gong with Lowe's
// memoization (as in Porcupine): each key is an independent register, checked on its own.
//
// Every operation has a call time and a return time. A put whose outcome is unknown (the client
// gave up or its node crashed) has return time Infinity: it may take effect at any point after
// its call, or effectively never (it can always be placed after everything else). Reads that
// never returned are left out: they had no effect.

export interface KvOp {
  readonly key: string;
  readonly kind: "put" | "get";
  /** put: the value written; get: the value read (undefined = key absent). */
  readonly value: string | undefined;
  readonly call: number;
  readonly ret: number;
}

type Cell = { op: number; isCall: boolean; match: Cell | undefined; prev: Cell | undefined; next: Cell | undefined };

/** Whether one key's history is linearizable with respect to a register that starts absent. */
export function checkRegister(ops: readonly KvOp[]): boolean {
  const events: { t: number; op: number; isCall: boolean }[] = [];
  ops.forEach((o, i) => {
    if (!(o.ret > o.call)) throw new Error(`operation returns before its call: ${JSON.stringify(o)}`);
    events.push({ t: o.call, op: i, isCall: true }, { t: o.ret, op: i, isCall: false });
  });
  // Calls before returns on equal times (only Infinity ties happen: all are returns).
  events.sort((a, b) => a.t - b.t || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Cell = { op: -1, isCall: false, match: undefined, prev: undefined, next: undefined };
  let last = head;
  const calls = new Map<number, Cell>();
  for (const ev of events) {
    const c: Cell = { op: ev.op, isCall: ev.isCall, match: undefined, prev: last, next: undefined };
    last.next = c;
    last = c;
    if (ev.isCall) calls.set(ev.op, c);
    else calls.get(ev.op)!.match = c;
  }
  const lift = (e: Cell) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Cell) => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  let state: string | undefined = undefined;
  let linearized = 0n;
  const cache = new Set<string>();
  const stack: { cell: Cell; state: string | undefined }[] = [];
  let entry = head.next;
  while (head.next !== undefined) {
    if (entry === undefined) return false;
    if (entry.isCall) {
      const o = ops[entry.op]!;
      let ok: boolean;
      let next: string | undefined;
      if (o.kind === "put") {
        ok = true;
        next = o.value;
      } else {
        ok = o.value === state;
        next = state;
      }
      if (ok) {
        const lin = linearized | (1n << BigInt(entry.op));
        const key = `${lin.toString(36)}|${next === undefined ? "\u0000" : next}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ cell: entry, state });
          state = next;
          linearized = lin;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // A return with its call not yet linearized: undo the most recent choice.
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      linearized &= ~(1n << BigInt(top.cell.op));
      unlift(top.cell);
      entry = top.cell.next;
    }
  }
  return true;
}

/**
 * Drops puts of unknown outcome whose value no read returned. Such a put can always be placed
 * last (its call precedes infinity) or, equivalently, left out: in any linearization no read
 * observes it, so it is followed directly by another put or by nothing, and removing it keeps
 * every read valid. Values must be unique per put. Without this, every indeterminate write is
 * a branch point for the search, exponential in their number.
 */
export function pruneUnobservedPuts(ops: readonly KvOp[]): KvOp[] {
  const read = new Set<string | undefined>();
  for (const o of ops) if (o.kind === "get") read.add(o.value);
  return ops.filter((o) => o.kind === "get" || o.ret !== Infinity || read.has(o.value));
}

/** Checks every key; returns the keys whose history is not linearizable. */
export function checkKv(history: readonly KvOp[]): string[] {
  const byKey = new Map<string, KvOp[]>();
  for (const op of pruneUnobservedPuts(history)) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  return [...byKey].filter(([, ops]) => !checkRegister(ops)).map(([k]) => k);
}
