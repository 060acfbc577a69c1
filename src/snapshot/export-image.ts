// Conclave state → an etcd snapshot: the bbolt image etcd's backend would hold for the same
// state (etcd-layout.ts), streamed in 32 KiB chunks and followed by the SHA-256 of all of
// them, as etcd's Maintenance.Snapshot sends it.
//
// The history is read twice from one consistent view (StateReader): a planning pass over row
// sizes and a writing pass over the rows (see src/bbolt/writer.ts). The planning pass also
// marks where the writing pass cuts its batches (about 1 MiB each), so no read ever holds more
// than a batch of values. Between batches the export gives the event loop a turn, so a member
// serves requests while it streams.
import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { type BucketSource, type KeyValuePair, planBolt } from "../bbolt/index.ts";
import { LeaseSchema } from "../gen/lease_pb.ts";
import { AlarmMemberSchema } from "../gen/rpc_pb.ts";
import type { KvCursor, KvRow, StateReader } from "../storage/index.ts";
import { AuthStore } from "../auth/index.ts";
import { authBucketSources } from "./auth-buckets.ts";
import {
  Buckets,
  CLUSTER_VERSION,
  ClusterKeys,
  encodeMemberJson,
  MetaKeys,
  putRevisionKey,
  REVISION_KEY_SIZE,
  revisionKey,
  u64be,
} from "./etcd-layout.ts";
import { encodeKeyValueInto, keyValueSize } from "./kv-codec.ts";
import { listSource } from "./sources.ts";

export interface ExportOptions {
  /** Gives the event loop a turn between batches (default: setImmediate). */
  yieldTurn?: () => Promise<void>;
  /** Bytes per writing-pass batch (default 1 MiB). */
  batchBytes?: number;
  /** Rows per planning-pass query (default 10 000: a few hundred KB of small rows). */
  planRows?: number;
}

/** A snapshot stream: `size` image bytes in chunks, then the 32-byte SHA-256 of them. */
export interface EtcdImage {
  readonly size: number;
  /** Each chunk with the image bytes still to come after it; the last item is the digest. */
  chunks(): AsyncGenerator<{ readonly blob: Uint8Array; readonly remaining: number; readonly digest: boolean }>;
}

const enc = new TextEncoder();
const defaultTurn = () => new Promise<void>((r) => setImmediate(r));

/** Lays out the image of the state `view` holds. The view stays open until chunks() ends. */
export async function exportEtcdImage(view: StateReader, opts: ExportOptions = {}): Promise<EtcdImage> {
  const h = view.header;
  const meta: KeyValuePair[] = [{ key: MetaKeys.consistentIndex, value: u64be(h.appliedIndex) }];
  if (h.compactRevision > 0) {
    // The compaction is complete in the image: rows it removes are left out (StateReader).
    meta.push({ key: MetaKeys.scheduledCompact, value: revisionKey(h.compactRevision, 0) });
    meta.push({ key: MetaKeys.finishedCompact, value: revisionKey(h.compactRevision, 0) });
  }
  const members = view.members();
  const buckets: BucketSource[] = [
    listSource(
      Buckets.alarm,
      view.alarms().map((a) => ({ key: toBinary(AlarmMemberSchema, create(AlarmMemberSchema, { memberID: a.memberId, alarm: a.alarm })), value: new Uint8Array(0) })),
    ),
    // The view's auth tables, decoded and encoded again by the auth store's codec: the bytes
    // etcd writes (the tables hold the same authpb records).
    ...authBucketSources(AuthStore.load(view.authRows()).state()),
    listSource(Buckets.cluster, [{ key: ClusterKeys.clusterVersion, value: enc.encode(CLUSTER_VERSION) }]),
    historySource(view, opts),
    leaseSource(view),
    listSource(
      Buckets.members,
      members.filter((m) => !m.removed).map((m) => ({ key: enc.encode(m.id.toString(16)), value: encodeMemberJson(m) })),
    ),
    listSource(
      Buckets.membersRemoved,
      members.filter((m) => m.removed).map((m) => ({ key: enc.encode(m.id.toString(16)), value: enc.encode("removed") })),
    ),
    listSource(Buckets.meta, meta),
  ];
  const image = await planBolt(buckets);
  return {
    size: image.size,
    async *chunks() {
      const sha = createHash("sha256");
      let sent = 0;
      for await (const blob of image.chunks()) {
        sha.update(blob);
        sent += blob.length;
        yield { blob, remaining: image.size - sent, digest: false };
      }
      if (sent !== image.size) throw new Error(`snapshot: wrote ${sent} bytes of a ${image.size}-byte image`);
      yield { blob: new Uint8Array(sha.digest()), remaining: 0, digest: true };
    },
  };
}

/** The `key` bucket: every revision of every key, read in pages from the view. */
function historySource(view: StateReader, opts: ExportOptions): BucketSource {
  const turn = opts.yieldTurn ?? defaultTurn;
  const batchBytes = opts.batchBytes ?? 1 << 20;
  const planRows = opts.planRows ?? 10_000;
  /** Where each writing-pass batch ends, found by the planning pass. */
  const cuts: KvCursor[] = [];
  return {
    name: Buckets.key,
    async *sizes() {
      cuts.length = 0;
      let after: KvCursor | undefined;
      let bytes = 0;
      for (;;) {
        const rows = view.kvSizes(after, planRows);
        if (rows.length === 0) break;
        const out = new Array<number>(2 * rows.length);
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]!;
          const k = REVISION_KEY_SIZE + (r.tombstone ? 1 : 0);
          const v = r.tombstone ? keyValueSize(r.keyLength, 0, 0, 0, 0, 0n) : keyValueSize(r.keyLength, r.createRevision, r.revision, r.version, r.valueLength, r.lease);
          out[2 * i] = k;
          out[2 * i + 1] = v;
          bytes += k + v;
          if (bytes >= batchBytes) {
            cuts.push(r);
            bytes = 0;
          }
        }
        after = rows[rows.length - 1]!;
        yield out;
        await turn();
      }
      if (bytes > 0 && after !== undefined) cuts.push(after);
    },
    async *entries() {
      let after: KvCursor | undefined;
      const scratch = { buf: new Uint8Array(0) };
      for (const through of cuts) {
        // The writer copies each batch before asking for the next: one buffer serves them all.
        yield encodeRows(view.kvRows(after, through), scratch);
        after = through;
        await turn();
      }
    },
  };
}

/** Revision keys and KeyValue values of a batch, in scratch.buf (grown when too small). */
function encodeRows(rows: readonly KvRow[], scratch: { buf: Uint8Array }): KeyValuePair[] {
  let total = 0;
  const sizes = new Array<number>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const v = r.tombstone ? keyValueSize(r.key.length, 0, 0, 0, 0, 0n) : keyValueSize(r.key.length, r.createRevision, r.revision, r.version, r.value.length, r.lease);
    sizes[i] = v;
    total += REVISION_KEY_SIZE + 1 + v;
  }
  if (scratch.buf.length < total) scratch.buf = new Uint8Array(Math.max(total, 2 * scratch.buf.length));
  const buf = scratch.buf;
  const out = new Array<KeyValuePair>(rows.length);
  let off = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const kEnd = putRevisionKey(buf, off, r.revision, r.sub, r.tombstone);
    const key = buf.subarray(off, kEnd);
    const vEnd = r.tombstone
      ? encodeKeyValueInto({ key: r.key, createRevision: 0, modRevision: 0, version: 0, value: r.value.subarray(0, 0), lease: 0n }, buf, kEnd)
      : encodeKeyValueInto({ key: r.key, createRevision: r.createRevision, modRevision: r.revision, version: r.version, value: r.value, lease: r.lease }, buf, kEnd);
    if (vEnd - kEnd !== sizes[i]) throw new Error("snapshot: KeyValue size mismatch");
    out[i] = { key, value: buf.subarray(kEnd, vEnd) };
    off = vEnd;
  }
  return out;
}

/** The `lease` bucket: 8-byte big-endian ID → leasepb.Lease. */
function leaseSource(view: StateReader): BucketSource {
  const pairs = function* (): Generator<KeyValuePair> {
    for (const l of view.leases()) {
      const value = toBinary(LeaseSchema, create(LeaseSchema, { ID: l.id, TTL: BigInt(l.ttl), RemainingTTL: BigInt(l.remaining) }));
      yield { key: u64be(l.id), value };
    }
  };
  const BATCH = 1024;
  return {
    name: Buckets.lease,
    *sizes() {
      let out: number[] = [];
      for (const p of pairs()) {
        out.push(p.key.length, p.value.length);
        if (out.length >= 2 * BATCH) {
          yield out;
          out = [];
        }
      }
      yield out;
    },
    *entries() {
      let out: KeyValuePair[] = [];
      for (const p of pairs()) {
        out.push(p);
        if (out.length >= BATCH) {
          yield out;
          out = [];
        }
      }
      yield out;
    },
  };
}
