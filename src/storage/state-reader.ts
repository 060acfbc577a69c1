// A read-only, consistent view of the state database at one applied index, on a connection of
// its own: it opens a read transaction, so in WAL mode it keeps seeing the state as of that
// moment while the member goes on applying on its own connection. What etcd's snapshot gets
// from a bbolt read transaction. Reads are paged so that memory stays small whatever the size
// of the database.
//
// Open it while nothing is being applied (between two apply batches, after committing them),
// or the view may sit between two batches of one group.
import Database from "libsql";
import { AUTH_ROWS_SQL, type AuthTableRows, authTableRows } from "./auth-rows.ts";

export interface StateHeader {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
  /** A compaction whose superseded rows are not all deleted yet (0 = none). */
  readonly scheduledCompact: number;
}

/** Position in the history: (revision, sub) of the last row read. */
export interface KvCursor {
  readonly revision: number;
  readonly sub: number;
}

/** A history row without its bytes (sizes only). */
export interface KvSizeRow extends KvCursor {
  readonly keyLength: number;
  readonly valueLength: number;
  readonly createRevision: number;
  readonly version: number;
  readonly lease: bigint;
  readonly tombstone: boolean;
}

export interface KvRow extends KvSizeRow {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface LeaseRow {
  readonly id: bigint;
  readonly ttl: number;
  readonly remaining: number;
}

export interface AlarmRow {
  readonly memberId: bigint;
  readonly alarm: number;
}

export interface MemberStateRow {
  readonly id: bigint;
  readonly name: string;
  readonly peerURLs: string[];
  readonly clientURLs: string[];
  readonly isLearner: boolean;
  readonly removed: boolean;
}

type Row = unknown[];

const EMPTY = new Uint8Array(0);

interface Stmt {
  all(...args: unknown[]): unknown[];
  iterate(...args: unknown[]): IterableIterator<unknown>;
  raw(on?: boolean): Stmt;
}

// NULLIF: most rows have no lease, and a NULL costs less to hand to JavaScript than a string.
const KV_COLS = "revision, sub, create_revision, version, NULLIF(lease, '0'), tombstone";
/**
 * History that survives the compaction at ?c: every row above it, and below or at it the latest
 * row of each key unless that is a tombstone (etcd's compaction keeps exactly these). Only
 * needed while a compaction is still deleting rows; afterwards no other rows are left.
 */
const SURVIVES = `(revision > ? OR (tombstone = 0 AND NOT EXISTS (SELECT 1 FROM kv b WHERE b.key = kv.key AND b.revision > kv.revision AND b.revision <= ?)))`;

export class StateReader {
  readonly header: StateHeader;
  private readonly db: InstanceType<typeof Database>;
  private readonly stmts = new Map<string, Stmt>();
  private closed = false;

  private constructor(path: string) {
    this.db = new Database(path);
    try {
      this.db.exec("PRAGMA query_only=1");
      this.db.exec("BEGIN");
      // The first read fixes the snapshot the whole transaction sees.
      const m = this.stmt("SELECT applied_index, revision, compact_revision, scheduled_compact FROM meta WHERE id = 1").all()[0] as Row | undefined;
      if (m === undefined) throw new Error("state: meta row missing");
      this.header = { appliedIndex: Number(m[0]), revision: Number(m[1]), compactRevision: Number(m[2]), scheduledCompact: Number(m[3]) };
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  /** Opens the view; the caller closes it. */
  static open(path: string): StateReader {
    return new StateReader(path);
  }

  /** Sizes of up to `limit` history rows after `after`, in (revision, sub) order. */
  kvSizes(after: KvCursor | undefined, limit: number): KvSizeRow[] {
    const [where, args] = this.kvWhere(after, undefined);
    const rows = this.stmt(`SELECT ${KV_COLS}, length(key), length(value) FROM kv WHERE ${where} ORDER BY revision, sub LIMIT ?`).all([...args, limit]) as Row[];
    return rows.map((r) => kvRow(r, Number(r[6]), Number(r[7]), EMPTY, EMPTY));
  }

  /** The history rows in (after, through], in (revision, sub) order. */
  kvRows(after: KvCursor | undefined, through: KvCursor): KvRow[] {
    const [where, args] = this.kvWhere(after, through);
    // Key and value in one blob: one buffer per row instead of two (|| alone would make text).
    const rows = this.stmt(`SELECT ${KV_COLS}, length(key), CAST(key || value AS BLOB) FROM kv WHERE ${where} ORDER BY revision, sub`).all(args) as Row[];
    return rows.map((r) => {
      const kl = Number(r[6]);
      const both = bytes(r[7]);
      return kvRow(r, kl, both.length - kl, both.subarray(0, kl), both.subarray(kl));
    });
  }

  /** Leases in etcd's key order (the ID as an unsigned 64-bit big-endian number). */
  leases(): IterableIterator<LeaseRow> {
    const it = this.stmt("SELECT id, ttl, remaining FROM leases ORDER BY CAST(id AS INTEGER) < 0, CAST(id AS INTEGER)").iterate();
    return (function* () {
      for (const r of it as IterableIterator<Row>) yield { id: BigInt(r[0] as string), ttl: Number(r[1]), remaining: Number(r[2]) };
    })();
  }

  alarms(): AlarmRow[] {
    return (this.stmt("SELECT member_id, alarm FROM alarms").all() as Row[]).map((r) => ({ memberId: BigInt(r[0] as string), alarm: Number(r[1]) }));
  }

  members(): MemberStateRow[] {
    return (this.stmt("SELECT id, name, peer_urls, client_urls, is_learner, removed FROM members").all() as Row[]).map((r) => ({
      id: BigInt(`0x${r[0] as string}`),
      name: r[1] as string,
      peerURLs: JSON.parse(r[2] as string) as string[],
      clientURLs: JSON.parse(r[3] as string) as string[],
      isLearner: Number(r[4]) !== 0,
      removed: Number(r[5]) !== 0,
    }));
  }

  /** The auth tables (users, roles, enabled flag, revision) as of the view. */
  authRows(): AuthTableRows {
    return authTableRows(
      this.stmt(AUTH_ROWS_SQL.meta).all()[0] as Row | undefined,
      this.stmt(AUTH_ROWS_SQL.users).all() as Row[],
      this.stmt(AUTH_ROWS_SQL.roles).all() as Row[],
    );
  }

  /** Ends the read transaction and closes the connection (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stmts.clear();
    this.db.close();
  }

  private kvWhere(after: KvCursor | undefined, through: KvCursor | undefined): [string, number[]] {
    const parts: string[] = [];
    const args: number[] = [];
    if (after !== undefined) {
      parts.push("(revision, sub) > (?, ?)");
      args.push(after.revision, after.sub);
    }
    if (through !== undefined) {
      parts.push("(revision, sub) <= (?, ?)");
      args.push(through.revision, through.sub);
    }
    if (this.header.scheduledCompact > 0) {
      parts.push(SURVIVES);
      args.push(this.header.compactRevision, this.header.compactRevision);
    }
    return [parts.length > 0 ? parts.join(" AND ") : "1", args];
  }

  private stmt(sql: string): Stmt {
    let s = this.stmts.get(sql);
    if (s === undefined) {
      s = (this.db.prepare(sql) as unknown as Stmt).raw(true);
      this.stmts.set(sql, s);
    }
    return s;
  }
}

/** One object per row (the columns are KV_COLS, then the lengths). */
function kvRow(r: Row, keyLength: number, valueLength: number, key: Uint8Array, value: Uint8Array): KvRow {
  return {
    revision: r[0] as number,
    sub: r[1] as number,
    createRevision: r[2] as number,
    version: r[3] as number,
    lease: r[4] === null ? 0n : BigInt(r[4] as string),
    tombstone: r[5] === 1,
    keyLength,
    valueLength,
    key,
    value,
  };
}

function bytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (v === null || v === undefined) return new Uint8Array(0);
  throw new Error(`state: unexpected blob value ${typeof v}`);
}
