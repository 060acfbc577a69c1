// The discovery service's embedded database: drizzle declarations for the queries and the
// matching DDL run at open (as the member's state schema does).
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One row (id = 1): the last index handed out. Invariant: every stored index ≤ idx. */
export const meta = sqliteTable("disc_meta", {
  id: integer("id").primaryKey(),
  idx: integer("idx").notNull(),
});

/** One row per token: its size, creation time (ms) and the index that created it. */
export const tokens = sqliteTable("disc_tokens", {
  token: text("token").primaryKey(),
  size: integer("size").notNull(),
  createdAt: integer("created_at").notNull(),
  createdIndex: integer("created_index").notNull(),
});

/** Registrations: token + machine name → value. */
export const nodes = sqliteTable(
  "disc_nodes",
  {
    token: text("token").notNull(),
    name: text("name").notNull(),
    value: text("value").notNull(),
    createdIndex: integer("created_index").notNull(),
    modifiedIndex: integer("modified_index").notNull(),
  },
  (t) => [primaryKey({ columns: [t.token, t.name] })],
);

/**
 * The last EVENT_WINDOW changes of each token, for `wait=true&waitIndex=` long polls.
 * name "" = the token directory, "_config/size" = the size node.
 */
export const events = sqliteTable(
  "disc_events",
  {
    token: text("token").notNull(),
    idx: integer("idx").notNull(),
    action: text("action").notNull(),
    name: text("name").notNull(),
    value: text("value"),
    createdIndex: integer("created_index").notNull(),
    prevValue: text("prev_value"),
    prevCreated: integer("prev_created"),
    prevModified: integer("prev_modified"),
  },
  (t) => [primaryKey({ columns: [t.token, t.idx] })],
);

export const pragmas: readonly string[] = ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=5000"];

export const ddl: readonly string[] = [
  "CREATE TABLE IF NOT EXISTS disc_meta (id INTEGER PRIMARY KEY, idx INTEGER NOT NULL)",
  "INSERT OR IGNORE INTO disc_meta (id, idx) VALUES (1, 0)",
  `CREATE TABLE IF NOT EXISTS disc_tokens (
    token TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_index INTEGER NOT NULL
  )`,
  "CREATE INDEX IF NOT EXISTS disc_tokens_created_at ON disc_tokens (created_at)",
  `CREATE TABLE IF NOT EXISTS disc_nodes (
    token TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_index INTEGER NOT NULL,
    modified_index INTEGER NOT NULL,
    PRIMARY KEY (token, name)
  )`,
  `CREATE TABLE IF NOT EXISTS disc_events (
    token TEXT NOT NULL,
    idx INTEGER NOT NULL,
    action TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT,
    created_index INTEGER NOT NULL,
    prev_value TEXT,
    prev_created INTEGER,
    prev_modified INTEGER,
    PRIMARY KEY (token, idx)
  )`,
];

/** Changes kept per token for long polls (etcd's v2 event history holds 1000). */
export const EVENT_WINDOW = 1000;
