// The v2 store in the state file (tables v2_nodes, v2_events, v2_meta of src/storage/schema.ts):
// the journal of an applied batch becomes statements that the state machine writes in the same
// transaction as the v3 state and the applied index; at open the tree, the event window and the
// index are read back.
import * as v from "valibot";
import type { InStatement, SqlValue } from "../storage/sql-db.ts";
import { Action, eventFromRecord, eventRecord, type NodeExtern } from "./event.ts";
import type { V2Node } from "./node.ts";
import type { Change, V2Store } from "./store.ts";

const NODE_COLS = "(path, dir, value, created_index, modified_index, expire_time)";
const DELETE_NODE = "DELETE FROM v2_nodes WHERE path = ?";
const DELETE_SUBTREE = "DELETE FROM v2_nodes WHERE path >= ? AND path < ?";
const PRUNE_EVENTS = "DELETE FROM v2_events WHERE idx <= ?";
const SET_INDEX = "UPDATE v2_meta SET current_index = ? WHERE id = 1";

/** Rows per multi-row statement: a few shapes only, so the prepared statements stay few. */
const ROW_SHAPES = [64, 16, 4, 1] as const;
const placeholders = (cols: number, rows: number) => Array.from({ length: rows }, () => `(${Array(cols).fill("?").join(", ")})`).join(", ");
const UPSERT_SQL = new Map<number, string>(ROW_SHAPES.map((n) => [n, `INSERT OR REPLACE INTO v2_nodes ${NODE_COLS} VALUES ${placeholders(6, n)}`]));
const EVENT_SQL = new Map<number, string>(ROW_SHAPES.map((n) => [n, `INSERT OR REPLACE INTO v2_events (idx, record) VALUES ${placeholders(2, n)}`]));

/** Appends statements inserting `rows` (each `cols` args, flattened) in the few shapes. */
function insertRows(sql: Map<number, string>, cols: number, args: SqlValue[], out: InStatement[]): void {
  const rows = args.length / cols;
  let first = 0;
  for (const n of ROW_SHAPES) {
    for (; rows - first >= n; first += n) out.push({ sql: sql.get(n)!, args: args.slice(first * cols, (first + n) * cols) });
  }
}

/** Old event rows are deleted whenever the index passes a multiple of this. */
const PRUNE_EVERY = 64;

/** The index before the first event among the changes (the batch's starting point). */
function first(changes: readonly Change[], fallback: number): number {
  for (const c of changes) if (c.kind === "event") return c.event.node.modifiedIndex - 1;
  return fallback;
}

/**
 * Appends the statements that record `changes` (and the store's index) to `out`. Node writes
 * are grouped into multi-row statements (the last state of a node written twice wins); a
 * delete ends a group so that it lands after the writes before it and before those after it.
 */
export function changeStatements(store: V2Store, changes: readonly Change[], out: InStatement[]): void {
  if (changes.length === 0) return;
  const pending = new Map<string, V2Node>();
  const flushNodes = () => {
    if (pending.size === 0) return;
    const args: SqlValue[] = [];
    for (const n of pending.values()) args.push(n.path, n.isDir ? 1 : 0, n.value, n.createdIndex, n.modifiedIndex, n.expireTime);
    insertRows(UPSERT_SQL, 6, args, out);
    pending.clear();
  };
  const events: SqlValue[] = [];
  for (const c of changes) {
    switch (c.kind) {
      case "put":
        pending.delete(c.node.path);
        pending.set(c.node.path, c.node);
        break;
      case "delete":
        flushNodes();
        out.push({ sql: DELETE_NODE, args: [c.path] });
        // Children sort between "<dir>/" and "<dir>0" ("0" follows "/").
        if (c.dir) out.push({ sql: DELETE_SUBTREE, args: [c.path + "/", c.path + "0"] });
        break;
      case "event":
        events.push(c.event.node.modifiedIndex, eventRecord(c.event));
        break;
    }
  }
  flushNodes();
  insertRows(EVENT_SQL, 2, events, out);
  // Rows past the window are dropped now and then (a reload keeps only the window's worth).
  const oldest = store.index - store.history.capacity;
  if (oldest > 0 && Math.floor(store.index / PRUNE_EVERY) !== Math.floor(first(changes, store.index) / PRUNE_EVERY)) {
    out.push({ sql: PRUNE_EVENTS, args: [oldest] });
  }
  out.push({ sql: SET_INDEX, args: [store.index] });
}

/** The queries that read the store back, in the order `loadStore` takes their rows. */
export const LOAD_QUERIES = {
  index: "SELECT current_index FROM v2_meta WHERE id = 1",
  // A parent's path is a prefix of its children's, so it sorts first.
  nodes: "SELECT path, dir, value, created_index, modified_index, expire_time FROM v2_nodes ORDER BY path",
  events: "SELECT idx, record FROM v2_events ORDER BY idx",
} as const;

const NodeSchema: v.GenericSchema<NodeExtern> = v.object({
  key: v.string(),
  value: v.optional(v.string()),
  dir: v.optional(v.boolean()),
  expiration: v.optional(v.number()),
  ttl: v.optional(v.number()),
  nodes: v.optional(v.array(v.lazy(() => NodeSchema))),
  modifiedIndex: v.number(),
  createdIndex: v.number(),
});

const RecordSchema = v.object({
  a: v.picklist(Object.values(Action)),
  n: NodeSchema,
  p: v.optional(NodeSchema),
  r: v.optional(v.boolean()),
});

/** Fills an empty store from the rows of LOAD_QUERIES; throws on rows that do not fit. */
export function loadStore(
  store: V2Store,
  rows: { index: readonly (readonly unknown[])[]; nodes: readonly (readonly unknown[])[]; events: readonly (readonly unknown[])[] },
): void {
  const idx = rows.index[0]?.[0];
  store.index = typeof idx === "number" ? idx : 0;
  for (const r of rows.nodes) {
    store.restoreNode(String(r[0]), Number(r[1]) === 1, String(r[2]), Number(r[3]), Number(r[4]), Number(r[5]));
  }
  // Only the window's worth: rows past it may be left by a batch that pruned less.
  const events = rows.events.slice(-store.history.capacity);
  for (const r of events) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(r[1]));
    } catch {
      throw new Error(`v2store: stored event ${String(r[0])} is not JSON`);
    }
    const rec = v.safeParse(RecordSchema, parsed);
    if (!rec.success) throw new Error(`v2store: stored event ${String(r[0])} is malformed: ${rec.issues[0].message}`);
    store.restoreEvent(eventFromRecord(rec.output));
  }
}
