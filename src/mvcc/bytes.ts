// Keys travel as Uint8Array but are indexed as latin1 strings: one char per byte, so JS
// string comparison (`<`) is exactly bytewise comparison, and strings hash well in a Map.

export function toKey(b: Uint8Array): string {
  // fromCharCode on small arrays beats Buffer/TextDecoder and is exact for every byte.
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

export function fromKey(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * A key interval in index form. end === undefined: the single key `start`;
 * end === "": every key ≥ start (etcd's range_end "\0"); otherwise [start, end).
 */
export interface KeyRange {
  readonly start: string;
  readonly end: string | undefined;
}

/** etcd's (key, range_end) pair to a KeyRange. range_end "\0" means "no upper bound". */
export function keyRange(key: Uint8Array, rangeEnd: Uint8Array): KeyRange {
  const start = toKey(key);
  if (rangeEnd.length === 0) return { start, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: "" };
  return { start, end: toKey(rangeEnd) };
}

export function inRange(r: KeyRange, k: string): boolean {
  if (r.end === undefined) return k === r.start;
  return k >= r.start && (r.end === "" || k < r.end);
}

/** True when the two ranges share at least one key. */
export function rangesOverlap(a: KeyRange, b: KeyRange): boolean {
  if (a.end === undefined) return inRange(b, a.start);
  if (b.end === undefined) return inRange(a, b.start);
  const aBelowB = a.end !== "" && a.end <= b.start;
  const bBelowA = b.end !== "" && b.end <= a.start;
  return !aBelowB && !bBelowA;
}

/** A range that can contain no key (start ≥ end). */
export function isEmptyRange(r: KeyRange): boolean {
  return r.end !== undefined && r.end !== "" && r.start >= r.end;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bytewise three-way comparison. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
