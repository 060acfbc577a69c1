// Key operations on the gateway, in pages: nothing here ever loads the whole keyspace.
import { api, type Json } from "./api.ts";
import { concat, equal, fromB64, prefixEnd, successor, toB64 } from "./bytes.ts";

export interface Kv {
  key: Uint8Array;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string; // decimal, "0" = none
}

export function kvOf(j: Json): Kv {
  return {
    key: fromB64(j.key),
    value: fromB64(j.value),
    createRevision: Number(j.create_revision ?? 0),
    modRevision: Number(j.mod_revision ?? 0),
    version: Number(j.version ?? 0),
    lease: String(j.lease ?? "0"),
  };
}

const ALL = new Uint8Array([0]);

/** [key, end) of a prefix; the empty prefix is the whole keyspace ("\0", "\0"). */
export function prefixRange(prefix: Uint8Array): { key: Uint8Array; end: Uint8Array } {
  return prefix.length === 0 ? { key: ALL, end: ALL } : { key: prefix, end: prefixEnd(prefix) };
}

export interface Page {
  kvs: Kv[];
  /** Keys in [from, end): the total from this page on. */
  count: number;
  more: boolean;
  revision: number;
}

/** One page of keys in [from, end), `limit` long, keys only unless `values`. */
export async function rangePage(from: Uint8Array, end: Uint8Array, limit: number, values = false, revision = 0): Promise<Page> {
  const r = await api.call("/v3/kv/range", {
    key: toB64(from),
    range_end: toB64(end),
    limit,
    keys_only: !values,
    revision,
  });
  return {
    kvs: ((r.kvs ?? []) as Json[]).map(kvOf),
    count: Number(r.count ?? 0),
    more: r.more === true,
    revision: Number((r.header as Json).revision ?? 0),
  };
}

export async function getKey(key: Uint8Array, revision = 0): Promise<{ kv: Kv | undefined; revision: number }> {
  const r = await api.call("/v3/kv/range", { key: toB64(key), revision });
  const kvs = (r.kvs ?? []) as Json[];
  return { kv: kvs.length > 0 ? kvOf(kvs[0]!) : undefined, revision: Number((r.header as Json).revision ?? 0) };
}

export async function countRange(key: Uint8Array, end: Uint8Array): Promise<number> {
  const r = await api.call("/v3/kv/range", { key: toB64(key), range_end: toB64(end), count_only: true });
  return Number(r.count ?? 0);
}

export class ConflictError extends Error {
  constructor(
    readonly key: string,
    readonly expected: number,
    readonly current: Kv | undefined,
  ) {
    super(
      current === undefined
        ? `Not saved: ${key} was deleted by someone else after you opened it (mod revision ${expected}). Reload it to continue.`
        : expected === 0
          ? `Not saved: ${key} was created by someone else meanwhile (mod revision ${current.modRevision}). Reload it to see its value.`
          : `Not saved: ${key} was changed by someone else after you opened it (mod revision ${expected} → ${current.modRevision}). Reload it to see the current value; your text is kept here.`,
    );
    this.name = "ConflictError";
  }
}

/**
 * Writes `value` only if the key's mod revision is still `modRevision` (0: only if the key
 * does not exist): one txn, so a concurrent change is never overwritten.
 */
export async function putIfUnchanged(key: Uint8Array, value: Uint8Array, modRevision: number, lease: string, label: string): Promise<number> {
  const k = toB64(key);
  const r = await api.call("/v3/kv/txn", {
    compare: [{ key: k, target: "MOD", result: "EQUAL", mod_revision: modRevision }],
    success: [{ request_put: { key: k, value: toB64(value), lease } }],
    failure: [{ request_range: { key: k } }],
  });
  if (r.succeeded !== true) {
    const kvs = (((r.responses ?? []) as Json[])[0]?.response_range?.kvs ?? []) as Json[];
    throw new ConflictError(label, modRevision, kvs.length > 0 ? kvOf(kvs[0]!) : undefined);
  }
  return Number((r.header as Json).revision);
}

/** Deletes the key only if its mod revision is still `modRevision`. */
export async function deleteIfUnchanged(key: Uint8Array, modRevision: number, label: string): Promise<void> {
  const k = toB64(key);
  const r = await api.call("/v3/kv/txn", {
    compare: [{ key: k, target: "MOD", result: "EQUAL", mod_revision: modRevision }],
    success: [{ request_delete_range: { key: k } }],
    failure: [{ request_range: { key: k } }],
  });
  if (r.succeeded !== true) {
    const kvs = (((r.responses ?? []) as Json[])[0]?.response_range?.kvs ?? []) as Json[];
    throw new ConflictError(label, modRevision, kvs.length > 0 ? kvOf(kvs[0]!) : undefined);
  }
}

export async function deleteRange(key: Uint8Array, end: Uint8Array): Promise<number> {
  const r = await api.call("/v3/kv/deleterange", { key: toB64(key), range_end: toB64(end) });
  return Number(r.deleted ?? 0);
}

/** A child of a tree node: a "directory" (a prefix ending in "/") or a key. */
export interface Child {
  name: Uint8Array; // the full key or prefix
  dir: boolean;
}

const SLASH = 0x2f;

/**
 * Up to `limit` children of `prefix` in the "/" tree, starting at `from`: a page of keys is
 * read (keys only) and grouped by their next "/" segment; a directory found is skipped over in
 * one step (the next read starts at its prefix end), so a directory holding a million keys
 * costs one read. Returns the children and where the next page starts (undefined at the end).
 */
export async function treeChildren(prefix: Uint8Array, from: Uint8Array, limit: number, end: Uint8Array): Promise<{ children: Child[]; next: Uint8Array | undefined }> {
  const children: Child[] = [];
  let cursor: Uint8Array | undefined = from;
  while (cursor !== undefined && children.length < limit) {
    const page = await rangePage(cursor, end, Math.max(limit, 50));
    if (page.kvs.length === 0) {
      cursor = undefined;
      break;
    }
    let jumped = false;
    for (const kv of page.kvs) {
      const rest = kv.key.subarray(prefix.length);
      const slash = rest.indexOf(SLASH);
      if (slash >= 0) {
        const dir = concat(prefix, rest.subarray(0, slash + 1));
        if (!children.some((c) => c.dir && equal(c.name, dir))) children.push({ name: dir, dir: true });
        cursor = prefixEnd(dir);
        // prefixEnd of a directory can be the end of the whole space ("\0").
        if (cursor.length === 1 && cursor[0] === 0) cursor = undefined;
        jumped = true;
        break;
      }
      children.push({ name: kv.key, dir: false });
      cursor = successor(kv.key);
      if (children.length >= limit) break;
    }
    if (!jumped && !page.more && cursor !== undefined && children.length < limit) cursor = undefined;
  }
  return { children, next: cursor };
}
