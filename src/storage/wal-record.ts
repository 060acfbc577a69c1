// The WAL's on-disk record format.
//
//   record  = [u32 length][u32 crc][u8 type][payload]          (little-endian)
//   length  = 1 + payload bytes (the bytes the crc covers: type and payload)
//   crc     = crc32c(type ++ payload) continued from the previous record's crc (a chain across the
//             whole log: a lost, reordered or altered record breaks every later checksum)
//
// Record types and payloads (u64 = two u32 halves, low first):
//   crcSeed   u32 seed. First record of every segment; the chain restarts from `seed`, which is
//             the previous segment's final crc (0 for the very first segment).
//   entry     u64 index, u64 term, u8 entryType, data...
//   hardState u64 term, u64 vote, u64 commit
//   snapshot  u8 mode (0 compact: entries <= index are covered by a state-machine snapshot;
//             1 restore: the log was replaced by a received snapshot, every earlier entry is void),
//             u64 index, u64 term, u32 nVoters, u64 voters..., u32 nLearners, u64 learners...
import { crc32c } from "./wal-crc32c.ts";
import type { ConfState, Entry, EntryType, HardState, SnapshotMeta } from "../raft/types.ts";

export const RecordType = { CrcSeed: 1, Entry: 2, HardState: 3, Snapshot: 4 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export const HEADER_BYTES = 8;
/** Larger records are refused on write and read as damage: etcd's request limit is 1.5 MiB. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export type SnapshotMode = "compact" | "restore";

export type WalRecord =
  | { readonly kind: "crcSeed"; readonly seed: number }
  | { readonly kind: "entry"; readonly entry: Entry }
  | { readonly kind: "hardState"; readonly hardState: HardState }
  | { readonly kind: "snapshot"; readonly meta: SnapshotMeta; readonly mode: SnapshotMode };

const TWO32 = 4294967296;

function checkU64(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`wal: ${what} is not a valid index/term: ${n}`);
}

/** Builds a batch of records in one growing buffer; checksums are filled in by seal(). */
export class RecordEncoder {
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  private len = 0;
  /** (index, term, offset of the entry's data in this buffer) for every entry record. */
  readonly locs: number[] = [];

  get byteLength(): number {
    return this.len;
  }

  reset(): void {
    this.len = 0;
    this.locs.length = 0;
  }

  crcSeed(seed: number): void {
    const p = this.begin(RecordType.CrcSeed, 4);
    this.view.setUint32(p, seed >>> 0, true);
  }

  entry(e: Entry): void {
    checkU64(e.index, "entry index");
    checkU64(e.term, "entry term");
    const p = this.begin(RecordType.Entry, 17 + e.data.length);
    this.u64(p, e.index);
    this.u64(p + 8, e.term);
    this.buf[p + 16] = e.type;
    this.buf.set(e.data, p + 17);
    this.locs.push(e.index, e.term, p + 17);
  }

  hardState(hs: HardState): void {
    checkU64(hs.term, "hardState term");
    checkU64(hs.commit, "hardState commit");
    const p = this.begin(RecordType.HardState, 24);
    this.u64(p, hs.term);
    this.view.setBigUint64(p + 8, hs.vote, true);
    this.u64(p + 16, hs.commit);
  }

  snapshot(meta: SnapshotMeta, mode: SnapshotMode): void {
    checkU64(meta.index, "snapshot index");
    checkU64(meta.term, "snapshot term");
    const { voters, learners } = meta.confState;
    const p = this.begin(RecordType.Snapshot, 1 + 16 + 8 + 8 * (voters.length + learners.length));
    this.buf[p] = mode === "restore" ? 1 : 0;
    this.u64(p + 1, meta.index);
    this.u64(p + 9, meta.term);
    let q = p + 17;
    for (const ids of [voters, learners]) {
      this.view.setUint32(q, ids.length, true);
      q += 4;
      for (const id of ids) {
        this.view.setBigUint64(q, id, true);
        q += 8;
      }
    }
  }

  /**
   * Fills in the chained checksums, the first record continuing from `crc`. Returns a view of the
   * encoded bytes (valid until the next reset or append) and the crc of the last record.
   */
  seal(crc: number): { bytes: Uint8Array; crc: number } {
    let c = crc;
    let p = 0;
    while (p < this.len) {
      const n = this.view.getUint32(p, true);
      if (this.buf[p + HEADER_BYTES] === RecordType.CrcSeed && this.view.getUint32(p + HEADER_BYTES + 1, true) !== c) {
        throw new Error("wal: crc seed record does not continue the chain");
      }
      c = crc32c(this.buf, c, p + HEADER_BYTES, p + HEADER_BYTES + n);
      this.view.setUint32(p + 4, c, true);
      p += HEADER_BYTES + n;
    }
    return { bytes: this.buf.subarray(0, this.len), crc: c };
  }

  /** Writes a header with a placeholder crc and the type byte; returns the payload offset. */
  private begin(type: RecordType, payloadBytes: number): number {
    const n = 1 + payloadBytes;
    if (n > MAX_RECORD_BYTES) throw new Error(`wal: record of ${n} bytes exceeds the ${MAX_RECORD_BYTES}-byte limit`);
    this.reserve(HEADER_BYTES + n);
    const p = this.len;
    this.view.setUint32(p, n, true);
    this.view.setUint32(p + 4, 0, true);
    this.buf[p + HEADER_BYTES] = type;
    this.len += HEADER_BYTES + n;
    return p + HEADER_BYTES + 1;
  }

  private reserve(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private u64(p: number, n: number): void {
    this.view.setUint32(p, n >>> 0, true);
    this.view.setUint32(p + 4, Math.floor(n / TWO32), true);
  }
}

/**
 * Decodes the record whose type byte is at `start` and which ends at `end` (checksum already
 * verified). Returns a description of the problem instead when the bytes are not a valid record.
 * Entry data is copied so the segment buffer can be freed.
 */
export function decodeRecord(bytes: Uint8Array, view: DataView, start: number, end: number): WalRecord | string {
  const type = bytes[start];
  const p = start + 1;
  const size = end - p;
  const u64 = (q: number): number => {
    const hi = view.getUint32(q + 4, true);
    if (hi >= 0x200000) return -1; // not a safe integer
    return hi * TWO32 + view.getUint32(q, true);
  };
  switch (type) {
    case RecordType.CrcSeed:
      if (size !== 4) return "bad crc seed record";
      return { kind: "crcSeed", seed: view.getUint32(p, true) };
    case RecordType.Entry: {
      if (size < 17) return "short entry record";
      const index = u64(p);
      const term = u64(p + 8);
      const etype = bytes[p + 16]!;
      if (index < 0 || term < 0 || (etype !== 0 && etype !== 1)) return "bad entry record";
      return { kind: "entry", entry: { index, term, type: etype as EntryType, data: bytes.slice(p + 17, end) } };
    }
    case RecordType.HardState: {
      if (size !== 24) return "bad hardState record";
      const term = u64(p);
      const commit = u64(p + 16);
      if (term < 0 || commit < 0) return "bad hardState record";
      return { kind: "hardState", hardState: { term, vote: view.getBigUint64(p + 8, true), commit } };
    }
    case RecordType.Snapshot: {
      if (size < 25) return "short snapshot record";
      const mode = bytes[p];
      const index = u64(p + 1);
      const term = u64(p + 9);
      if ((mode !== 0 && mode !== 1) || index < 0 || term < 0) return "bad snapshot record";
      let q = p + 17;
      const lists: bigint[][] = [];
      for (let k = 0; k < 2; k++) {
        if (q + 4 > end) return "short snapshot record";
        const n = view.getUint32(q, true);
        q += 4;
        if (q + 8 * n > end) return "short snapshot record";
        const ids: bigint[] = [];
        for (let i = 0; i < n; i++, q += 8) ids.push(view.getBigUint64(q, true));
        lists.push(ids);
      }
      if (q !== end) return "bad snapshot record";
      const confState: ConfState = { voters: lists[0]!, learners: lists[1]! };
      return { kind: "snapshot", meta: { index, term, confState }, mode: mode === 1 ? "restore" : "compact" };
    }
    default:
      return `unknown record type ${type}`;
  }
}
