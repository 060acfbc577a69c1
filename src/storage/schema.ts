// The one schema of the state database (<data-dir>/member/state.db). Every table the state
// machine, membership and auth keep is declared here with drizzle so queries can be typed;
// `stateDdl` is the matching DDL run at open (the hot apply path uses raw prepared SQL).
//
// IDs that are 64-bit (lease, member) are stored as TEXT decimal because SQLite integers
// read back as JS numbers would lose precision above 2^53.
import { blob, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Every revision of every key (etcd's `key` bucket). Invariant: (key, revision) is unique. */
export const kv = sqliteTable(
  "kv",
  {
    revision: integer("revision").notNull(),
    sub: integer("sub").notNull(),
    key: blob("key", { mode: "buffer" }).notNull(),
    value: blob("value", { mode: "buffer" }).notNull(),
    createRevision: integer("create_revision").notNull(),
    version: integer("version").notNull(),
    lease: text("lease").notNull(), // signed decimal, "0" = none
    tombstone: integer("tombstone").notNull(), // 1 = delete marker
  },
  (t) => [primaryKey({ columns: [t.revision, t.sub] })],
);

/** One row (id = 1): the consistent index and the revision counters. */
export const meta = sqliteTable("meta", {
  id: integer("id").primaryKey(),
  appliedIndex: integer("applied_index").notNull(),
  revision: integer("revision").notNull(),
  compactRevision: integer("compact_revision").notNull(),
  /** Compaction requested but superseded rows not yet all deleted (0 = none pending). */
  scheduledCompact: integer("scheduled_compact").notNull(),
});

/**
 * One row (id = 1) whose counter a sync bumps: SQLite writes (and so syncs) nothing for an
 * UPDATE that leaves a row as it was, so the write that carries a sync must change something.
 */
export const syncMark = sqliteTable("sync_mark", {
  id: integer("id").primaryKey(),
  n: integer("n").notNull(),
});

/** Leases (etcd's `lease` bucket). remaining = checkpointed remaining TTL (0 = not set). */
export const leases = sqliteTable("leases", {
  id: text("id").primaryKey(),
  ttl: integer("ttl").notNull(),
  remaining: integer("remaining").notNull(),
});

export const alarms = sqliteTable(
  "alarms",
  {
    memberId: text("member_id").notNull(),
    alarm: integer("alarm").notNull(),
  },
  (t) => [primaryKey({ columns: [t.memberId, t.alarm] })],
);

/**
 * The v2 store's tree (etcd's v2store; keys under "/1", members under "/0", v2 auth under "/2").
 * One row per node; a directory's children are the rows whose path starts with its path + "/".
 * expire_time: Unix ms, 0 = permanent. A WITHOUT ROWID table: one B-tree keyed by path.
 */
export const v2Nodes = sqliteTable("v2_nodes", {
  path: text("path").primaryKey(),
  dir: integer("dir").notNull(),
  value: text("value").notNull(),
  createdIndex: integer("created_index").notNull(),
  modifiedIndex: integer("modified_index").notNull(),
  expireTime: integer("expire_time").notNull(),
});

/** The v2 store's last events (its watch history window), by store index. */
export const v2Events = sqliteTable("v2_events", {
  idx: integer("idx").primaryKey(),
  record: text("record").notNull(),
});

/** One row (id = 1): the v2 store's current index. */
export const v2Meta = sqliteTable("v2_meta", {
  id: integer("id").primaryKey(),
  currentIndex: integer("current_index").notNull(),
});

/** Cluster membership (hex member ID as the key; URL lists as JSON arrays). */
export const members = sqliteTable("members", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  peerUrls: text("peer_urls").notNull(),
  clientUrls: text("client_urls").notNull(),
  isLearner: integer("is_learner").notNull(),
  removed: integer("removed").notNull().default(0),
});

/**
 * v3 auth's one row (id = 1): etcd's `auth` bucket. enabled = its authEnabled key
 * (AuthEnabledFlag in auth-rows.ts: 0 no key, 1 enabled, 2 disabled after being enabled);
 * revision = authRevision.
 */
export const authMeta = sqliteTable("auth_meta", {
  id: integer("id").primaryKey(),
  enabled: integer("enabled").notNull(),
  revision: integer("revision").notNull(),
});

/** v3 auth users (etcd's `authUsers` bucket): name → authpb.User, the same bytes as etcd's. */
export const authUsers = sqliteTable("auth_users", {
  name: text("name").primaryKey(),
  data: blob("data", { mode: "buffer" }).notNull(),
});

/** v3 auth roles (etcd's `authRoles` bucket): name → authpb.Role. */
export const authRoles = sqliteTable("auth_roles", {
  name: text("name").primaryKey(),
  data: blob("data", { mode: "buffer" }).notNull(),
});

/**
 * DDL matching the tables above, run in order at open. auto_vacuum must be set before the
 * first table exists or it has no effect.
 */
export const statePragmas: readonly string[] = [
  "PRAGMA auto_vacuum=INCREMENTAL",
  "PRAGMA journal_mode=WAL",
  "PRAGMA synchronous=NORMAL",
];

export const stateDdl: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS kv (
    revision INTEGER NOT NULL,
    sub INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease TEXT NOT NULL,
    tombstone INTEGER NOT NULL,
    PRIMARY KEY (revision, sub)
  )`,
  // History reads (old-revision ranges, prev_kv, compaction) go by key then revision.
  "CREATE INDEX IF NOT EXISTS kv_key_revision ON kv (key, revision)",
  `CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY,
    applied_index INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    compact_revision INTEGER NOT NULL,
    scheduled_compact INTEGER NOT NULL
  )`,
  "INSERT OR IGNORE INTO meta (id, applied_index, revision, compact_revision, scheduled_compact) VALUES (1, 0, 1, 0, 0)",
  `CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    ttl INTEGER NOT NULL,
    remaining INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS alarms (
    member_id TEXT NOT NULL,
    alarm INTEGER NOT NULL,
    PRIMARY KEY (member_id, alarm)
  )`,
  `CREATE TABLE IF NOT EXISTS v2_nodes (
    path TEXT PRIMARY KEY,
    dir INTEGER NOT NULL,
    value TEXT NOT NULL,
    created_index INTEGER NOT NULL,
    modified_index INTEGER NOT NULL,
    expire_time INTEGER NOT NULL
  ) WITHOUT ROWID`,
  "CREATE TABLE IF NOT EXISTS v2_events (idx INTEGER PRIMARY KEY, record TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS v2_meta (id INTEGER PRIMARY KEY, current_index INTEGER NOT NULL)",
  "INSERT OR IGNORE INTO v2_meta (id, current_index) VALUES (1, 0)",
  `CREATE TABLE IF NOT EXISTS members (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    peer_urls TEXT NOT NULL,
    client_urls TEXT NOT NULL,
    is_learner INTEGER NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0
  )`,
  "CREATE TABLE IF NOT EXISTS sync_mark (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS auth_meta (id INTEGER PRIMARY KEY, enabled INTEGER NOT NULL, revision INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS auth_users (name TEXT PRIMARY KEY, data BLOB NOT NULL)",
  "CREATE TABLE IF NOT EXISTS auth_roles (name TEXT PRIMARY KEY, data BLOB NOT NULL)",
];

/** The write syncToDisk commits under synchronous=FULL (sql-db.ts). */
export const SYNC_TOUCH = "INSERT INTO sync_mark (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1";
