// Writes a new state database in bulk (restoring a snapshot into a data dir): the schema of
// schema.ts, rows added in order in large transactions, the key/revision index built once at
// the end. The file is not a live member's yet, so it is loaded without a journal and made
// durable (WAL mode set, fsynced) by finish(); a crash before that leaves a file to delete.
import { closeSync, fsyncSync, openSync } from "node:fs";
import type { AuthTableRows } from "./auth-rows.ts";
import { SqlDb, type SqlValue } from "./sql-db.ts";
import { stateDdl, statePragmas } from "./schema.ts";

export interface StateRow {
  readonly revision: number;
  readonly sub: number;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly version: number;
  /** 0n = none. */
  readonly lease: bigint;
  readonly tombstone: boolean;
}

export interface StateMetaRow {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly scheduledCompact: number;
}

export interface StateMemberRow {
  readonly id: bigint;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

const KV_INSERT_ROWS = 128;
const KV_INSERT = `INSERT INTO kv (revision, sub, key, value, create_revision, version, lease, tombstone) VALUES ${new Array(KV_INSERT_ROWS).fill("(?,?,?,?,?,?,?,?)").join(",")}`;
const KV_INSERT_ONE = "INSERT INTO kv (revision, sub, key, value, create_revision, version, lease, tombstone) VALUES (?,?,?,?,?,?,?,?)";
/** A transaction is committed after about this many bytes of rows. */
const TXN_BYTES = 32 << 20;

export class StateWriter {
  private readonly db: SqlDb;
  private pending: SqlValue[] = [];
  private pendingRows = 0;
  private txnBytes = 0;
  private done = false;

  private constructor(private readonly path: string) {
    this.db = new SqlDb(path);
    // auto_vacuum must come before the first table (schema.ts); then no journal while loading.
    this.db.executeMultiple(statePragmas[0]!);
    this.db.executeMultiple("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;");
    for (const d of stateDdl) if (!/^\s*CREATE INDEX/i.test(d)) this.db.executeMultiple(d);
  }

  /** Creates the database at `path` (which must not exist yet). */
  static create(path: string): StateWriter {
    return new StateWriter(path);
  }

  /** A history row; rows come in (revision, sub) order. */
  addKv(r: StateRow): void {
    this.pending.push(r.revision, r.sub, r.key, r.value, r.createRevision, r.version, r.lease === 0n ? "0" : r.lease.toString(), r.tombstone ? 1 : 0);
    this.pendingRows++;
    this.txnBytes += r.key.length + r.value.length + 48;
    if (this.pendingRows === KV_INSERT_ROWS) this.flushKv();
  }

  addLease(id: bigint, ttl: number, remaining: number): void {
    this.write("INSERT INTO leases (id, ttl, remaining) VALUES (?, ?, ?)", [id.toString(), ttl, remaining]);
  }

  addAlarm(memberId: bigint, alarm: number): void {
    this.write("INSERT OR IGNORE INTO alarms (member_id, alarm) VALUES (?, ?)", [memberId.toString(), alarm]);
  }

  addMember(m: StateMemberRow): void {
    this.write("INSERT INTO members (id, name, peer_urls, client_urls, is_learner, removed) VALUES (?, ?, ?, ?, ?, 0)", [
      m.id.toString(16),
      m.name,
      JSON.stringify(m.peerURLs),
      JSON.stringify(m.clientURLs),
      m.isLearner ? 1 : 0,
    ]);
  }

  /** The auth tables: users, roles, the enabled flag and the auth revision. */
  setAuth(a: AuthTableRows): void {
    if (a.meta !== undefined) this.write("INSERT INTO auth_meta (id, enabled, revision) VALUES (1, ?, ?)", [a.meta.enabled, a.meta.revision]);
    for (const u of a.users) this.write("INSERT INTO auth_users (name, data) VALUES (?, ?)", [u.name, u.data]);
    for (const r of a.roles) this.write("INSERT INTO auth_roles (name, data) VALUES (?, ?)", [r.name, r.data]);
  }

  setMeta(m: StateMetaRow): void {
    this.write("UPDATE meta SET applied_index = ?, revision = ?, compact_revision = ?, scheduled_compact = ? WHERE id = 1", [
      m.appliedIndex,
      m.revision,
      m.compactRevision,
      m.scheduledCompact,
    ]);
  }

  /** Runs a read against what was written so far (checks before finishing). */
  query(sql: string, args: readonly SqlValue[] = []): readonly unknown[][] {
    this.flushKv();
    return this.db.execute({ sql, args }).rows as unknown[][];
  }

  /** Commits, builds the indexes, switches to the member's journal mode and syncs the file. */
  finish(): void {
    this.flushKv();
    this.db.commitGroup();
    for (const d of stateDdl) if (/^\s*CREATE INDEX/i.test(d)) this.db.executeMultiple(d);
    this.db.executeMultiple(statePragmas.slice(1).join("; "));
    this.db.close();
    this.done = true;
    const fd = openSync(this.path, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Closes without finishing (the caller deletes the file). */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.db.close();
  }

  private write(sql: string, args: readonly SqlValue[]): void {
    this.flushKv();
    this.db.write([{ sql, args }], 0);
  }

  private flushKv(): void {
    if (this.pendingRows === 0) return;
    if (this.pendingRows === KV_INSERT_ROWS) this.db.write([{ sql: KV_INSERT, args: this.pending }], 0);
    else for (let i = 0; i < this.pendingRows; i++) this.db.write([{ sql: KV_INSERT_ONE, args: this.pending.slice(i * 8, i * 8 + 8) }], 0);
    this.pending = [];
    this.pendingRows = 0;
    if (this.txnBytes >= TXN_BYTES) {
      this.db.commitGroup();
      this.txnBytes = 0;
    }
  }
}
