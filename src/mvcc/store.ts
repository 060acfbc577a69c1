// The MVCC store: revisions, the current-key index and the kv history table.
//
// Writes happen in memory first (index + pending history rows) and reach SQLite when the
// state machine flushes the batch's statements in its one transaction. Revisions are
// assigned here, never by SQLite. Reads at the current revision use only the index;
// reads at older revisions and watch replays read the history table.
import type { InStatement, Row, SqlDb, SqlValue } from "../storage/sql-db.ts";
import { type KeyRange, toKey } from "./bytes.ts";
import { KeyIndex, type LiveKey } from "./key-index.ts";
import type { KeyState } from "./range.ts";
import { crc32c } from "../storage/wal-crc32c.ts";
import { encodeKeyValueInto, keyValueSize, putRevisionKey, REVISION_KEY_SIZE } from "./etcd-kv-bytes.ts";
import { ValueArena } from "./value-arena.ts";

/** One key change at one revision, kept for the watch hub. kv undefined = deletion. */
export interface Change {
  readonly key: Uint8Array;
  /** latin1 form of key when already known (live changes), "" otherwise. */
  readonly k: string;
  readonly revision: number;
  readonly kv: LiveKey | undefined;
  /** The key's state before the change, when known (always for live changes). */
  readonly prev: KeyState | undefined;
}

/** A revision outside the store's history. */
export class RevisionError extends Error {
  constructor(readonly kind: "compacted" | "future") {
    super(kind === "compacted" ? "mvcc: required revision has been compacted" : "mvcc: required revision is a future revision");
  }
}

const KV_COLS = "(revision, sub, key, value, create_revision, version, lease, tombstone)";
/** Rows per INSERT statement, largest first; ends with 1 so every count can be made. */
const INSERT_SIZES = [256, 32, 4, 1] as const;
const EMPTY = new Uint8Array(0);
const STATE_COLS = "key, value, create_revision, revision, version, lease, tombstone";
/** etcd hashes its bucket's name before the bucket's rows. */
const KEY_BUCKET = new TextEncoder().encode("key");

export interface StoreMeta {
  revision: number;
  compactRevision: number;
  scheduledCompact: number;
}

export class MvccStore {
  readonly index = new KeyIndex();
  /** Bytes of the index's keys and values (see value-arena.ts). */
  readonly arena = new ValueArena();
  /** Invariant: revision ≥ 1 and ≥ compactRevision. */
  revision: number;
  compactRevision: number;
  /** A compaction whose superseded rows are not all deleted yet (0 = none). */
  scheduledCompact: number;
  private rowArgs: SqlValue[] = [];
  private rowCount = 0;
  private changes: Change[] = [];

  private constructor(
    private readonly db: SqlDb,
    m: StoreMeta,
  ) {
    this.revision = m.revision;
    this.compactRevision = m.compactRevision;
    this.scheduledCompact = m.scheduledCompact;
  }

  /** Loads the index of live keys from history (latest row per key, unless a tombstone). */
  static async open(db: SqlDb, m: StoreMeta): Promise<MvccStore> {
    const s = new MvccStore(db, m);
    const rs = await db.execute(
      `SELECT ${STATE_COLS} FROM (SELECT ${STATE_COLS}, ROW_NUMBER() OVER (PARTITION BY key ORDER BY revision DESC) AS rn FROM kv) WHERE rn = 1 AND tombstone = 0 ORDER BY key`,
    );
    for (const row of rs.rows) {
      const st = rowState(row);
      s.index.set(s.arena.pack(toKey(st.key), st.key, st.value, st.createRevision, st.modRevision, st.version, st.lease));
    }
    return s;
  }

  beginWrite(): WriteTxn {
    return new WriteTxn(this);
  }

  /** @internal used by WriteTxn */
  addRow(rev: number, sub: number, key: Uint8Array, value: Uint8Array, create: number, version: number, lease: bigint, tomb: 0 | 1): void {
    this.rowArgs.push(rev, sub, key, value, create, version, lease === 0n ? "0" : lease.toString(), tomb);
    this.rowCount++;
  }

  /** @internal used by WriteTxn: repacks the arena once dead bytes outweigh live ones. */
  maybeRepack(): void {
    if (!this.arena.needsRepack) return;
    this.arena.reset();
    this.index.remap((e) => this.arena.pack(e.k, e.key, e.value, e.createRevision, e.modRevision, e.version, e.lease));
  }

  /** @internal used by WriteTxn */
  addChange(c: Change): void {
    this.changes.push(c);
  }

  /**
   * The pending history rows as multi-row INSERTs (few statements: SQLite is CPU-bound here).
   * Only a few statement shapes (INSERT_SIZES rows each) so the prepared statements stay few
   * and small: one per row count would keep up to hundreds of large programs prepared.
   */
  takeStatements(): InStatement[] {
    const out: InStatement[] = [];
    const args = this.rowArgs;
    let first = 0;
    for (const n of INSERT_SIZES) {
      for (; this.rowCount - first >= n; first += n) {
        out.push({ sql: INSERT_SQL.get(n)!, args: args.slice(first * 8, (first + n) * 8) });
      }
    }
    this.rowArgs = [];
    this.rowCount = 0;
    return out;
  }

  takeChanges(): Change[] {
    const c = this.changes;
    this.changes = [];
    return c;
  }

  /** Throws RevisionError when rev is outside [compactRevision, revision]; rev ≤ 0 = current. */
  checkRevision(rev: number): number {
    if (rev <= 0) return this.revision;
    if (rev > this.revision) throw new RevisionError("future");
    if (rev < this.compactRevision) throw new RevisionError("compacted");
    return rev;
  }

  /** Live keys of r at revision rev (from history), ascending by key. */
  async rangeAt(r: KeyRange, rev: number): Promise<KeyState[]> {
    const [where, args] = rangeWhere(r);
    const rs = await this.db.execute({
      sql: `SELECT ${STATE_COLS} FROM (SELECT ${STATE_COLS}, ROW_NUMBER() OVER (PARTITION BY key ORDER BY revision DESC) AS rn FROM kv WHERE ${where} AND revision <= ?) WHERE rn = 1 AND tombstone = 0 ORDER BY key`,
      args: [...args, rev],
    });
    return rs.rows.map(rowState);
  }

  /** The key's state at revision rev (undefined if absent or deleted). */
  async stateAt(key: Uint8Array, rev: number): Promise<KeyState | undefined> {
    const rs = await this.db.execute({
      sql: `SELECT ${STATE_COLS} FROM kv WHERE key = ? AND revision <= ? ORDER BY revision DESC LIMIT 1`,
      args: [key, rev],
    });
    const row = rs.rows[0];
    if (row === undefined || Number(row[6]) === 1) return undefined;
    return rowState(row);
  }

  /**
   * Changes of keys in r with from ≤ revision ≤ to, in revision order, reading at most
   * maxRevisions revisions. prev is not filled (the caller reads it if asked).
   */
  async changesBetween(r: KeyRange, from: number, to: number): Promise<Change[]> {
    const [where, args] = rangeWhere(r);
    const rs = await this.db.execute({
      sql: `SELECT ${STATE_COLS} FROM kv WHERE revision >= ? AND revision <= ? AND ${where} ORDER BY revision, sub`,
      args: [from, to, ...args],
    });
    return rs.rows.map((row) => {
      const st = rowState(row);
      const tomb = Number(row[6]) === 1;
      const kv: LiveKey | undefined = tomb ? undefined : { ...st, k: "" };
      return { key: st.key, k: "", revision: st.modRevision, kv, prev: undefined };
    });
  }

  /**
   * Deletes one batch of rows superseded at the scheduled compaction revision, among
   * revisions in (lo, lo+batch]. Returns the next lo, or undefined when done.
   */
  compactionStep(lo: number, batch: number): { stmt: InStatement; next: number | undefined } {
    const c = this.scheduledCompact;
    if (c === 0) throw new Error("mvcc: no compaction scheduled");
    const hi = Math.min(lo + batch, c);
    return {
      stmt: {
        sql: `DELETE FROM kv WHERE rowid IN (SELECT a.rowid FROM kv a WHERE a.revision > ? AND a.revision <= ? AND (a.tombstone = 1 OR EXISTS (SELECT 1 FROM kv b WHERE b.key = a.key AND b.revision > a.revision AND b.revision <= ?)))`,
        args: [lo, hi, c],
      },
      next: hi >= c ? undefined : hi,
    };
  }

  /** The lowest revision in history (0 when empty); compaction starts below it. */
  async lowestRevision(): Promise<number> {
    const rs = await this.db.execute("SELECT MIN(revision) FROM kv");
    return Number(rs.rows[0]?.[0] ?? 0);
  }

  /**
   * etcd's HashKV value (mvcc's HashByRev), bit for bit: CRC-32C of the bucket name "key", then
   * of each history row's bytes as etcd's `key` bucket holds them (revision key, then the
   * KeyValue; see etcd-kv-bytes.ts), in revision order, for the rows with revision ≤ rev — but a
   * row at or below the compaction revision only if it is its key's latest revision at `rev` and
   * not a tombstone (etcd's `kvindex.Keep(rev)`). When no key is live at `rev` that set is empty
   * and etcd hashes every row still stored; so does this. So a member restored from an etcd
   * snapshot, or fed the same writes, reports the hash etcd reports.
   */
  async hashKV(rev: number): Promise<number> {
    const c = this.compactRevision;
    const live = await this.db.execute({
      sql: `SELECT 1 FROM kv a WHERE revision <= ? AND tombstone = 0
        AND NOT EXISTS (SELECT 1 FROM kv b WHERE b.key = a.key AND b.revision > a.revision AND b.revision <= ?) LIMIT 1`,
      args: [rev, rev],
    });
    const keepAll = live.rows.length === 0 ? 1 : 0;
    let crc = crc32c(KEY_BUCKET);
    let buf = new Uint8Array(256);
    const page = 2000;
    let cursor = { rev: -1, sub: 0 };
    for (;;) {
      const rs = await this.db.execute({
        sql: `SELECT ${STATE_COLS}, sub FROM kv a WHERE (revision > ? OR (revision = ? AND sub > ?)) AND revision <= ?
          AND (revision > ? OR ? OR (tombstone = 0 AND NOT EXISTS (SELECT 1 FROM kv b WHERE b.key = a.key AND b.revision > a.revision AND b.revision <= ?)))
          ORDER BY revision, sub LIMIT ?`,
        args: [cursor.rev, cursor.rev, cursor.sub, rev, c, keepAll, rev, page],
      });
      for (const row of rs.rows) {
        const st = rowState(row);
        const tomb = Number(row[6]) === 1;
        const kv = tomb ? { key: st.key, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n } : st;
        const need = REVISION_KEY_SIZE + 1 + keyValueSize(kv.key.length, kv.createRevision, kv.modRevision, kv.version, kv.value.length, kv.lease);
        if (need > buf.length) buf = new Uint8Array(Math.max(need, buf.length * 2));
        const k = putRevisionKey(buf, 0, st.modRevision, Number(row[7]), tomb);
        const end = encodeKeyValueInto(kv, buf, k);
        crc = crc32c(buf, crc, 0, end);
      }
      if (rs.rows.length < page) break;
      const last = rs.rows[rs.rows.length - 1]!;
      cursor = { rev: Number(last[3]), sub: Number(last[7]) };
    }
    return crc;
  }
}

/** One write transaction: all its changes share main revision beginRev+1 (sub-revisions 0,1,…). */
export class WriteTxn {
  readonly beginRev: number;
  private sub = 0;
  private ended = false;

  constructor(private readonly s: MvccStore) {
    this.beginRev = s.revision;
  }

  get changed(): boolean {
    return this.sub > 0;
  }

  /** The revision reads inside this txn observe (includes the txn's own changes). */
  get readRevision(): number {
    return this.sub > 0 ? this.beginRev + 1 : this.beginRev;
  }

  put(reqKey: Uint8Array, k: string, reqValue: Uint8Array, lease: bigint): { prev: LiveKey | undefined; kv: LiveKey } {
    if (this.ended) throw new Error("mvcc: write after txn end");
    // The index keeps its own packed copy (value-arena.ts): decoded requests' bytes are views
    // into the entry buffer, which must not stay pinned. SQLite and the change record get the
    // views (the native binding would give a kept array its own malloc'd ArrayBuffer).
    const rev = this.beginRev + 1;
    const prev = this.s.index.get(k);
    const create = prev === undefined ? rev : prev.createRevision;
    const kv = this.s.arena.pack(k, reqKey, reqValue, create, rev, prev === undefined ? 1 : prev.version + 1, lease);
    if (prev !== undefined) this.s.arena.retire(prev);
    this.s.index.set(kv);
    this.s.addRow(rev, this.sub++, reqKey, reqValue, kv.createRevision, kv.version, lease, 0);
    this.s.addChange({ key: reqKey, k, revision: rev, kv, prev });
    return { prev, kv };
  }

  /** Deletes every live key in r (writing tombstones); returns the deleted states. */
  deleteRange(r: KeyRange): LiveKey[] {
    if (this.ended) throw new Error("mvcc: write after txn end");
    const victims = [...this.s.index.range(r)];
    for (const v of victims) this.deleteKey(v);
    return victims;
  }

  deleteKey(v: LiveKey): void {
    const rev = this.beginRev + 1;
    this.s.index.delete(v.k);
    this.s.arena.retire(v);
    const key = v.key;
    this.s.addRow(rev, this.sub++, key, EMPTY, 0, 0, 0n, 1);
    this.s.addChange({ key, k: v.k, revision: rev, kv: undefined, prev: v });
  }

  /** Ends the txn; the store revision moves by one iff anything changed. */
  end(): number {
    if (this.ended) throw new Error("mvcc: txn ended twice");
    this.ended = true;
    if (this.sub > 0) {
      if (this.s.revision !== this.beginRev) throw new Error("mvcc: concurrent write txns");
      this.s.revision = this.beginRev + 1;
      this.s.maybeRepack();
    }
    return this.s.revision;
  }
}

function placeholders(n: number): string {
  const one = "(?,?,?,?,?,?,?,?)";
  return new Array<string>(n).fill(one).join(",");
}

const INSERT_SQL = new Map<number, string>(INSERT_SIZES.map((n) => [n, `INSERT INTO kv ${KV_COLS} VALUES ${placeholders(n)}`]));

function rangeWhere(r: KeyRange): [string, SqlValue[]] {
  const start = fromLatin1(r.start);
  if (r.end === undefined) return ["key = ?", [start]];
  if (r.end === "") return ["key >= ?", [start]];
  return ["key >= ? AND key < ?", [start, fromLatin1(r.end)]];
}

function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function bytes(v: unknown): Uint8Array {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (v instanceof Uint8Array) return v;
  if (v === null || v === undefined) return EMPTY;
  throw new Error(`mvcc: unexpected blob value ${typeof v}`);
}

function rowState(row: Row): KeyState {
  return {
    key: bytes(row[0]),
    value: bytes(row[1]),
    createRevision: Number(row[2]),
    modRevision: Number(row[3]),
    version: Number(row[4]),
    lease: BigInt(row[5] as string),
  };
}

