// The state database handle: SQLite through libsql's native driver, with prepared statements
// kept per SQL text.
//
// @libsql/client (which wraps the same driver) prepares every statement of every call anew and
// finds out whether a statement returns rows by letting `raw()` throw: per applied batch that
// was one SQLite parse and one JS exception per statement, ~80 µs and a dozen garbage objects
// on the apply path of every put (measured: 143 µs against 65 µs for a put-sized batch).
// Here a statement is prepared once; whether it returns rows is asked once (`reader`).
//
// Writes can be grouped: write() runs statements in a transaction it leaves open, commit()
// ends it. The state machine applies every Raft batch this way and commits on a short timer, so
// SQLite writes each page once per group instead of once per put (the Raft log, not this file,
// is what makes an acknowledged write durable; see state-machine.ts). `durableMark` is the mark
// given with the last write that a commit made durable.
//
// Recording (a side copy of the file, src/server/side-copy-switch.ts): between startRecording()
// and stopRecording() every write statement that commits is kept, in commit order, with its
// arguments, so it can be replayed onto a copy of the file taken at the start. Reads are not
// kept, nor PRAGMAs and VACUUM INTO (no logical effect on the data), nor the statements of a
// group that is rolled back.
//
// Values: integers read back as JS numbers (64-bit IDs are stored as TEXT, see schema.ts),
// blobs as Uint8Array (Buffer), text as string. Rows are arrays in column order.
import Database from "libsql";

export type SqlValue = null | number | bigint | string | Uint8Array;
export type InStatement = string | { readonly sql: string; readonly args?: readonly SqlValue[] };
export type Row = readonly unknown[];
/** A write statement as recorded (see startRecording). */
export interface RecordedStatement {
  readonly sql: string;
  readonly args: readonly SqlValue[];
}
export interface ResultSet {
  readonly rows: Row[];
}

interface Prepared {
  readonly reader: boolean;
  run(args: readonly SqlValue[]): unknown;
  all(args: readonly SqlValue[]): Row[];
}

interface NativeStatement {
  readonly reader: boolean;
  raw(on?: boolean): NativeStatement;
  run(args: readonly SqlValue[]): unknown;
  all(args: readonly SqlValue[]): Row[];
}

/** Statements kept prepared; past this many distinct texts the cache starts over. */
const MAX_CACHED = 64;
/** Longer texts (ad-hoc statements with many parameters) are prepared for one use only. */
const MAX_CACHED_SQL_CHARS = 8192;
const NO_ARGS: readonly SqlValue[] = [];
const NO_ROWS: ResultSet = Object.freeze({ rows: Object.freeze([]) as unknown as Row[] });

export class SqlDb {
  private db: InstanceType<typeof Database>;
  private readonly cache = new Map<string, Prepared>();
  private begin: Prepared;
  private commit: Prepared;
  private rollback: Prepared;
  /** Committed writes since startRecording() (undefined: not recording). */
  private recorded: RecordedStatement[] | undefined;
  /** Writes of the open group, recorded once it commits. */
  private groupRecorded: RecordedStatement[] = [];
  private open = false;
  private mark = 0;
  /** The mark of the last write() a commit has made durable. */
  durableMark = 0;

  constructor(private readonly path: string) {
    this.db = new Database(path);
    this.begin = this.prepare("BEGIN IMMEDIATE");
    this.commit = this.prepare("COMMIT");
    this.rollback = this.prepare("ROLLBACK");
  }

  /** Starts keeping every committed write statement (see the file's comment). */
  startRecording(): void {
    this.recorded = [];
  }

  /** The writes committed since the last call (or startRecording), in order. */
  takeRecorded(): RecordedStatement[] {
    const out = this.recorded ?? [];
    if (this.recorded !== undefined) this.recorded = [];
    return out;
  }

  stopRecording(): void {
    this.recorded = undefined;
    this.groupRecorded = [];
  }

  /** Statements recorded and not yet taken. */
  get recordedCount(): number {
    return this.recorded?.length ?? 0;
  }

  /**
   * Closes the connection, runs `between` (which may replace the file: it returns whether it
   * did), and opens the file at the same path again with `pragmas` run first; prepared
   * statements are prepared anew. The connection is opened again whatever `between` does. No
   * group may be open.
   */
  reopen(pragmas: readonly string[], between: () => boolean): boolean {
    if (this.open) throw new Error("sql: reopen inside an open group");
    this.cache.clear();
    this.db.close();
    let replaced = false;
    try {
      replaced = between();
    } finally {
      this.db = new Database(this.path);
      for (const p of pragmas) this.db.exec(p);
      this.begin = this.prepare("BEGIN IMMEDIATE");
      this.commit = this.prepare("COMMIT");
      this.rollback = this.prepare("ROLLBACK");
    }
    return replaced;
  }

  /**
   * One statement. A read runs where it is (inside an open group it sees the group's writes);
   * a write first commits an open group, then runs on its own.
   */
  execute(s: InStatement): ResultSet {
    const p = this.prepare(typeof s === "string" ? s : s.sql);
    if (p.reader) return this.exec(p, s);
    this.commitGroup();
    const out = this.exec(p, s);
    if (this.recorded !== undefined) this.record(this.recorded, s);
    return out;
  }

  /** The statements in one write transaction of their own: all of them or none. */
  batch(stmts: readonly InStatement[], _mode: "write" = "write"): ResultSet[] {
    const out = this.write(stmts, this.mark);
    this.commitGroup();
    return out;
  }

  /**
   * Runs the statements in the open group (begun if there is none) and leaves it open. On an
   * error the whole group is rolled back and the error rethrown.
   */
  write(stmts: readonly InStatement[], mark: number): ResultSet[] {
    if (!this.open) {
      this.begin.run(NO_ARGS);
      this.open = true;
    }
    try {
      const out = new Array<ResultSet>(stmts.length);
      for (let i = 0; i < stmts.length; i++) {
        const s = stmts[i]!;
        const p = this.prepare(typeof s === "string" ? s : s.sql);
        out[i] = this.exec(p, s);
        if (this.recorded !== undefined && !p.reader) this.record(this.groupRecorded, s);
      }
      this.mark = mark;
      return out;
    } catch (e) {
      this.open = false;
      this.groupRecorded = [];
      if (this.db.inTransaction) this.rollback.run(NO_ARGS);
      throw e;
    }
  }

  /** Commits the open group, if any. */
  commitGroup(): void {
    if (!this.open) return;
    this.commit.run(NO_ARGS);
    this.open = false;
    this.durableMark = this.mark;
    if (this.groupRecorded.length > 0) {
      if (this.recorded !== undefined) for (const r of this.groupRecorded) this.recorded.push(r);
      this.groupRecorded = [];
    }
  }

  /**
   * Commits the open group and makes every commit so far survive a power loss. In WAL mode with
   * synchronous=NORMAL a commit reaches the OS, not the disk (checkpoints sync, commits do not);
   * one small write committed under synchronous=FULL fsyncs the WAL file, and with it every
   * earlier commit. `touch` is that write; it must change a row (SQLite writes nothing for an
   * UPDATE that leaves the row as it was).
   * Nothing to do with synchronous=OFF (nothing is ever synced) or FULL (every commit is).
   */
  syncToDisk(touch: InStatement): void {
    this.commitGroup();
    const level = Number(this.execute("PRAGMA synchronous").rows[0]?.[0]);
    if (level !== 1) return;
    this.db.exec("PRAGMA synchronous=FULL");
    try {
      this.exec(this.prepare(typeof touch === "string" ? touch : touch.sql), touch);
      if (this.recorded !== undefined) this.record(this.recorded, touch);
    } finally {
      this.db.exec("PRAGMA synchronous=NORMAL");
    }
  }

  /** Sets the mark of what is already on disk (at open). */
  resetMark(mark: number): void {
    if (this.open) throw new Error("sql: resetMark inside an open group");
    this.mark = mark;
    this.durableMark = mark;
  }

  /** Whether writes are waiting in an open group. */
  get pending(): boolean {
    return this.open;
  }

  /**
   * Runs every statement of a script to completion (PRAGMAs that step page by page). Not
   * recorded: only PRAGMAs go through here.
   */
  executeMultiple(sql: string): void {
    this.commitGroup();
    this.db.exec(sql);
  }

  /** Closes the database; an open group is rolled back (commit it first to keep it). */
  close(): void {
    if (this.open && this.db.inTransaction) this.rollback.run(NO_ARGS);
    this.open = false;
    this.cache.clear();
    this.db.close();
  }

  private record(into: RecordedStatement[], s: InStatement): void {
    const sql = typeof s === "string" ? s : s.sql;
    if (/^\s*(PRAGMA|VACUUM)\b/i.test(sql)) return;
    into.push({ sql, args: typeof s === "string" ? NO_ARGS : (s.args ?? NO_ARGS) });
  }

  private exec(p: Prepared, s: InStatement): ResultSet {
    const rows = p.all(typeof s === "string" ? NO_ARGS : (s.args ?? NO_ARGS));
    return rows.length === 0 ? NO_ROWS : { rows };
  }

  private prepare(sql: string): Prepared {
    let p = this.cache.get(sql);
    if (p !== undefined) return p;
    const st = this.db.prepare(sql) as unknown as NativeStatement;
    if (st.reader) {
      st.raw(true);
      p = { reader: true, run: (a) => st.all(a), all: (a) => st.all(a) };
    } else {
      p = { reader: false, run: (a) => st.run(a), all: (a) => (st.run(a), NO_ROWS.rows) };
    }
    if (sql.length > MAX_CACHED_SQL_CHARS) return p;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(sql, p);
    return p;
  }
}
