// Helpers for the snapshot tests: Conclave state databases written directly, images exported
// from them into files.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AuthTableRows, StateReader, StateWriter, type StateRow } from "../../src/storage/index.ts";
import { exportEtcdImage, type ExportOptions } from "../../src/snapshot/index.ts";

export interface StateSpec {
  rows: StateRow[];
  leases?: { id: bigint; ttl: number; remaining: number }[];
  revision: number;
  compactRevision?: number;
  scheduledCompact?: number;
  appliedIndex?: number;
  /** The auth tables (users, roles, flag, revision); none by default. */
  auth?: AuthTableRows;
}

const te = new TextEncoder();

/** A put of key at revision (sub 0). */
export function put(revision: number, key: string, value: string, createRevision: number, version: number, lease = 0n, sub = 0): StateRow {
  return { revision, sub, key: te.encode(key), value: te.encode(value), createRevision, version, lease, tombstone: false };
}

export function del(revision: number, key: string, sub = 0): StateRow {
  return { revision, sub, key: te.encode(key), value: new Uint8Array(0), createRevision: 0, version: 0, lease: 0n, tombstone: true };
}

/** Writes a state database as a member would hold it (one member, ID 0xa). */
export function writeState(path: string, s: StateSpec): void {
  const w = StateWriter.create(path);
  for (const r of s.rows) w.addKv(r);
  for (const l of s.leases ?? []) w.addLease(l.id, l.ttl, l.remaining);
  w.addMember({ id: 0xan, name: "m1", peerURLs: ["http://127.0.0.1:1"], clientURLs: ["http://127.0.0.1:2"], isLearner: false });
  if (s.auth !== undefined) w.setAuth(s.auth);
  w.setMeta({ appliedIndex: s.appliedIndex ?? 100, revision: s.revision, compactRevision: s.compactRevision ?? 0, scheduledCompact: s.scheduledCompact ?? 0 });
  w.finish();
}

/** Exports the state at `statePath` as an etcd snapshot file (image + SHA-256). */
export async function exportToFile(statePath: string, file: string, opts: ExportOptions = {}): Promise<Buffer> {
  const view = StateReader.open(statePath);
  try {
    const image = await exportEtcdImage(view, opts);
    const parts: Uint8Array[] = [];
    for await (const c of image.chunks()) parts.push(c.blob);
    const all = Buffer.concat(parts);
    const body = all.subarray(0, all.length - 32);
    if (createHash("sha256").update(body).digest().compare(all.subarray(all.length - 32)) !== 0) throw new Error("digest mismatch");
    writeFileSync(file, all);
    return all;
  } finally {
    view.close();
  }
}

/** Every history row of a state database, as comparable text. */
export function historyOf(statePath: string): string[] {
  const view = StateReader.open(statePath);
  try {
    return view.kvRows(undefined, { revision: Number.MAX_SAFE_INTEGER, sub: 0 }).map(
      (r) =>
        `${r.revision}_${r.sub} ${Buffer.from(r.key).toString()}=${Buffer.from(r.value).toString()} c${r.createRevision} v${r.version} l${r.lease}${r.tombstone ? " tomb" : ""}`,
    );
  } finally {
    view.close();
  }
}

export const stateFile = (dataDir: string): string => join(dataDir, "member", "state.db");
