// Compact binary encoding of Raft messages and conf changes for the peer transport.
// Numbers are unsigned LEB128 varints (safe integers only), node IDs fixed 8-byte big-endian.
// Decoding validates everything and throws CodecError on malformed input; it never crashes.
//
// Message layout (version 1):
//   u8 version | u8 type | u64 to | u64 from | varint term, logTerm, index, commit, rejectHint
//   | u8 flags (1 = reject, 2 = snapshot) | bytes context | varint n, n × entry | [snapshot]
//   entry    = varint term, index | u8 type | bytes data
//   snapshot = varint index, term | ids voters | ids learners | bytes data
//   bytes    = varint length, raw;  ids = varint n, n × u64

import { ConfChangeType, type ConfChange } from "./conf-change.ts";
import { isMessageType, type Message } from "./message.ts";
import { EntryType, type Entry, type Snapshot } from "./types.ts";

export class CodecError extends Error {
  override readonly name = "CodecError";
}

const VERSION = 1;
const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const U64_MAX = (1n << 64n) - 1n;

class Writer {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private grow(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(n: number): void {
    this.grow(1);
    this.buf[this.pos++] = n;
  }
  u64(n: bigint): void {
    if (n < 0n || n > U64_MAX) throw new CodecError(`id out of range: ${n}`);
    this.grow(8);
    this.view.setBigUint64(this.pos, n);
    this.pos += 8;
  }
  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new CodecError(`not an unsigned safe integer: ${n}`);
    this.grow(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }
  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  ids(ids: readonly bigint[]): void {
    this.varint(ids.length);
    for (const id of ids) this.u64(id);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

class Reader {
  private pos = 0;
  private readonly view: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CodecError(`truncated input at byte ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  varint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw new CodecError("varint too long");
      const b = this.u8();
      n += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      mul *= 0x80;
    }
    if (!Number.isSafeInteger(n)) throw new CodecError("varint exceeds safe integer range");
    return n;
  }
  bytes(): Uint8Array {
    const len = this.varint();
    this.need(len);
    const out = this.buf.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  /** A count of items each at least `minSize` bytes: bounded by the remaining input. */
  count(minSize: number): number {
    const n = this.varint();
    if (n * minSize > this.buf.length - this.pos) throw new CodecError(`count ${n} exceeds remaining input`);
    return n;
  }
  ids(): bigint[] {
    const n = this.count(8);
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) out.push(this.u64());
    return out;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new CodecError(`${this.buf.length - this.pos} trailing bytes`);
  }
}

function entryType(n: number): EntryType {
  if (n === EntryType.Normal || n === EntryType.ConfChange) return n;
  throw new CodecError(`unknown entry type ${n}`);
}

export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer();
  w.u8(VERSION);
  w.u8(m.type);
  w.u64(m.to);
  w.u64(m.from);
  w.varint(m.term);
  w.varint(m.logTerm);
  w.varint(m.index);
  w.varint(m.commit);
  w.varint(m.rejectHint);
  w.u8((m.reject ? FLAG_REJECT : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0));
  w.bytes(m.context);
  w.varint(m.entries.length);
  for (const e of m.entries) {
    w.varint(e.term);
    w.varint(e.index);
    w.u8(e.type);
    w.bytes(e.data);
  }
  if (m.snapshot) {
    const s = m.snapshot;
    w.varint(s.meta.index);
    w.varint(s.meta.term);
    w.ids(s.meta.confState.voters);
    w.ids(s.meta.confState.learners);
    w.bytes(s.data);
  }
  return w.finish();
}

export function decodeMessage(buf: Uint8Array): Message {
  const r = new Reader(buf);
  const version = r.u8();
  if (version !== VERSION) throw new CodecError(`unknown message version ${version}`);
  const type = r.u8();
  if (!isMessageType(type)) throw new CodecError(`unknown message type ${type}`);
  const to = r.u64();
  const from = r.u64();
  const term = r.varint();
  const logTerm = r.varint();
  const index = r.varint();
  const commit = r.varint();
  const rejectHint = r.varint();
  const flags = r.u8();
  if ((flags & ~(FLAG_REJECT | FLAG_SNAPSHOT)) !== 0) throw new CodecError(`unknown flags ${flags}`);
  const context = r.bytes();
  const n = r.count(4);
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const eTerm = r.varint();
    const eIndex = r.varint();
    const eType = entryType(r.u8());
    entries.push({ term: eTerm, index: eIndex, type: eType, data: r.bytes() });
  }
  let snapshot: Snapshot | undefined;
  if (flags & FLAG_SNAPSHOT) {
    const sIndex = r.varint();
    const sTerm = r.varint();
    const voters = r.ids();
    const learners = r.ids();
    snapshot = { meta: { index: sIndex, term: sTerm, confState: { voters, learners } }, data: r.bytes() };
  }
  r.end();
  return {
    type, to, from, term, logTerm, index, entries, commit,
    ...(snapshot ? { snapshot } : {}),
    reject: (flags & FLAG_REJECT) !== 0, rejectHint, context,
  };
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new Writer();
  w.u8(cc.type);
  w.u64(cc.nodeId);
  w.u64(cc.id);
  w.bytes(cc.context);
  return w.finish();
}

export function decodeConfChange(buf: Uint8Array): ConfChange {
  const r = new Reader(buf);
  const type = r.u8();
  if (
    type !== ConfChangeType.AddNode && type !== ConfChangeType.RemoveNode &&
    type !== ConfChangeType.UpdateNode && type !== ConfChangeType.AddLearnerNode
  ) throw new CodecError(`unknown conf change type ${type}`);
  const nodeId = r.u64();
  const id = r.u64();
  const context = r.bytes();
  r.end();
  return { type, nodeId, id, context };
}
