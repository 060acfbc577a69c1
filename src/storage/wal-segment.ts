// Segment files and the scan that verifies them.
//
// A segment is named `<seq>-<firstIndex>.wal` (16 hex digits each, like etcd's member/wal):
// `seq` counts segments from 0 without gaps; `firstIndex` is the index the next appended entry
// had when the segment was started (every live entry in earlier segments is below it, which is
// what lets releaseTo() delete whole segments).
import { crc32c } from "./wal-crc32c.ts";
import { decodeRecord, HEADER_BYTES, MAX_RECORD_BYTES, type WalRecord } from "./wal-record.ts";

export interface SegmentName {
  readonly seq: number;
  readonly firstIndex: number;
  readonly name: string;
}

/** A damaged log that must not be used: never repaired silently. */
export class WalCorruptError extends Error {
  override readonly name = "WalCorruptError";
}

const hex16 = (n: number): string => n.toString(16).padStart(16, "0");

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export function parseSegmentName(name: string): SegmentName | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const seq = Number.parseInt(m[1]!, 16);
  const firstIndex = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined;
  return { seq, firstIndex, name };
}

export interface ScanResult {
  /** Bytes of verified records from the start of the file. */
  readonly validBytes: number;
  /** Running checksum after the last verified record. */
  readonly crc: number;
  /** True when a torn tail follows validBytes (only ever for the last segment). */
  readonly torn: boolean;
}

const SECTOR = 512;

/**
 * Verifies a segment record by record and hands each decoded record to `onRecord`, in order.
 *
 * In the last segment, a damaged final stretch that a crash in the middle of a write can leave
 * behind is reported as a torn tail (scan stops there): a header cut short, a length running past
 * the end of the file, an all-zero header, or a checksum mismatch in a record that ends the file
 * or covers a zero-filled sector (a page the crash kept from reaching disk, as etcd's
 * isTornEntry checks). Such records were never fsynced, so never acknowledged. Any other damage,
 * and any damage in an earlier segment, throws WalCorruptError.
 *
 * `expectSeed` is the previous segment's final checksum, which this segment's crc seed record
 * must repeat; undefined when no earlier segment survives.
 */
export function scanSegment(
  bytes: Uint8Array,
  path: string,
  opts: { readonly last: boolean; readonly expectSeed: number | undefined },
  onRecord: (r: WalRecord) => void,
): ScanResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  let off = 0;
  let crc = 0;
  const crcError = (at: number) => new WalCorruptError(`wal: crc mismatch in ${path} at offset ${at}`);
  while (off < len) {
    const torn = (): ScanResult => ({ validBytes: off, crc, torn: true });
    if (len - off < HEADER_BYTES) {
      if (opts.last) return torn();
      throw new WalCorruptError(`wal: unexpected end of ${path} at offset ${off}`);
    }
    const n = view.getUint32(off, true);
    const end = off + HEADER_BYTES + n;
    if (n === 0) {
      if (opts.last && allZero(bytes, off, off + HEADER_BYTES)) return torn();
      throw new WalCorruptError(`wal: invalid record length 0 in ${path} at offset ${off}`);
    }
    if (n > MAX_RECORD_BYTES || end > len) {
      if (opts.last) return torn();
      throw new WalCorruptError(`wal: unexpected end of ${path} at offset ${off}`);
    }
    const stored = view.getUint32(off + 4, true);
    const first = off === 0;
    if (first) {
      // The chain restarts from the seed this record carries.
      if (bytes[off + HEADER_BYTES] !== 1 || n !== 5) {
        throw new WalCorruptError(`wal: ${path} does not start with a crc seed record`);
      }
      crc = view.getUint32(off + HEADER_BYTES + 1, true);
    }
    const actual = crc32c(bytes, crc, off + HEADER_BYTES, end);
    if (actual !== stored) {
      // In the last segment, a bad record with nothing after it (the end of the file, or only the
      // zeros of a preallocated tail) is a torn write, as is one with a sector that never landed.
      if (opts.last && (end === len || allZero(bytes, end, len) || coversZeroSector(bytes, off, end))) return torn();
      throw crcError(off);
    }
    if (first && opts.expectSeed !== undefined && crc !== opts.expectSeed) throw crcError(off);
    const rec = decodeRecord(bytes, view, off + HEADER_BYTES, end);
    if (typeof rec === "string") throw new WalCorruptError(`wal: ${rec} in ${path} at offset ${off}`);
    if (rec.kind === "crcSeed" && !first) {
      throw new WalCorruptError(`wal: unexpected crc seed record in ${path} at offset ${off}`);
    }
    onRecord(rec);
    crc = actual;
    off = end;
  }
  return { validBytes: off, crc, torn: false };
}

/** Whether bytes[start, end) are all zero (a native comparison: a segment's tail may be a MiB). */
export function allZero(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start < 64) {
    for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
    return true;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).equals(Buffer.alloc(end - start));
}

/** Whether some sector overlapping [start, end) is zero from `start` on to the sector's end (or EOF). */
function coversZeroSector(bytes: Uint8Array, start: number, end: number): boolean {
  for (let s = start - (start % SECTOR); s < end; s += SECTOR) {
    if (allZero(bytes, Math.max(s, start), Math.min(s + SECTOR, bytes.length))) return true;
  }
  return false;
}
