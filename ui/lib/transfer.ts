// Export of a prefix to a JSON file and import of such a file: read in pages, written in
// batches of one txn each (at most --max-txn-ops puts), with a dry run that compares the file
// with the current values first.
import * as v from "valibot";
import { api, type Json } from "./api.ts";
import { equal, fromB64, lossy, text, toB64, utf8 } from "./bytes.ts";
import { kvOf, prefixRange, rangePage } from "./keys.ts";

export const EXPORT_FORMAT = "conclave-keys/1";
/** Keys per import txn: etcd's default --max-txn-ops. */
export const BATCH = 128;
/** Keys per export read; halved after a page whose values pass EXPORT_PAGE_BYTES (large values). */
const EXPORT_PAGE = 500;
const EXPORT_PAGE_BYTES = 2 * 1024 * 1024;

/** A key or value: UTF-8 text as is, other bytes in base64. */
const Bytes = v.union([v.object({ text: v.string() }), v.object({ base64: v.pipe(v.string(), v.base64()) })]);
const Entry = v.object({ key: Bytes, value: Bytes });
export const ExportFile = v.object({
  format: v.literal(EXPORT_FORMAT),
  prefix: v.string(),
  revision: v.number(),
  kvs: v.array(Entry),
});
export type ExportFile = v.InferOutput<typeof ExportFile>;

const out = (b: Uint8Array) => {
  const t = text(b);
  return t !== undefined ? { text: t } : { base64: toB64(b) };
};
const bytesOf = (x: v.InferOutput<typeof Bytes>) => ("text" in x ? utf8(x.text) : fromB64(x.base64));

/**
 * Every key with `prefix`, page by page at the current revision. Not pinned to the first
 * page's revision: a Range at a past revision reads every row of its range before the limit
 * applies (src/mvcc rangeAt), which on a large prefix would cost the member memory in
 * proportion to the prefix. So a write during the export may or may not be in the file; the
 * file records the revision of its first page. (A point-in-time copy is the snapshot.)
 */
export async function exportPrefix(prefix: Uint8Array, onProgress: (n: number) => void): Promise<ExportFile> {
  const { key, end } = prefixRange(prefix);
  const kvs: ExportFile["kvs"] = [];
  let from = key;
  let revision = 0;
  let limit = EXPORT_PAGE;
  for (;;) {
    const page = await rangePage(from, end, limit, true);
    if (revision === 0) revision = page.revision;
    let bytes = 0;
    for (const kv of page.kvs) {
      kvs.push({ key: out(kv.key), value: out(kv.value) });
      bytes += kv.value.length;
    }
    // Keep each answer to a few MB whatever the values' sizes.
    if (bytes > EXPORT_PAGE_BYTES) limit = Math.max(1, limit >> 1);
    onProgress(kvs.length);
    if (!page.more || page.kvs.length === 0) break;
    const last = page.kvs[page.kvs.length - 1]!.key;
    from = new Uint8Array(last.length + 1);
    from.set(last);
  }
  return { format: EXPORT_FORMAT, prefix: lossy(prefix), revision, kvs };
}

/** Parses an export file; the error says what is wrong and where. */
export function parseExport(body: string): ExportFile {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch (err) {
    throw new Error(`not a JSON file: ${(err as Error).message}`);
  }
  const r = v.safeParse(ExportFile, j);
  if (!r.success) {
    const issue = r.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    throw new Error(`not a ${EXPORT_FORMAT} file: ${path !== "" ? `${path}: ` : ""}${issue.message}`);
  }
  return r.output;
}

export interface PlannedChange {
  key: Uint8Array;
  value: Uint8Array;
  kind: "create" | "update" | "same";
}

/** The dry run: what importing `file` would do, key by key (current values read in txn batches). */
export async function planImport(file: ExportFile): Promise<PlannedChange[]> {
  const plan: PlannedChange[] = [];
  for (let i = 0; i < file.kvs.length; i += BATCH) {
    const batch = file.kvs.slice(i, i + BATCH).map((e) => ({ key: bytesOf(e.key), value: bytesOf(e.value) }));
    const r = await api.call("/v3/kv/txn", { success: batch.map((e) => ({ request_range: { key: toB64(e.key) } })) });
    const responses = (r.responses ?? []) as Json[];
    batch.forEach((e, j) => {
      const kvs = (responses[j]?.response_range?.kvs ?? []) as Json[];
      const cur = kvs.length > 0 ? kvOf(kvs[0]!) : undefined;
      plan.push({ ...e, kind: cur === undefined ? "create" : equal(cur.value, e.value) ? "same" : "update" });
    });
  }
  return plan;
}

/** Writes the planned creates and updates, one txn per batch; returns the keys written. */
export async function applyImport(plan: PlannedChange[], onProgress: (n: number) => void): Promise<number> {
  const todo = plan.filter((p) => p.kind !== "same");
  let n = 0;
  for (let i = 0; i < todo.length; i += BATCH) {
    const batch = todo.slice(i, i + BATCH);
    await api.call("/v3/kv/txn", { success: batch.map((p) => ({ request_put: { key: toB64(p.key), value: toB64(p.value) } })) });
    n += batch.length;
    onProgress(n);
  }
  return n;
}
