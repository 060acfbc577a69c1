// An etcd image → the rows of a Conclave state database: every revision of the `key` bucket
// (with create/mod revisions, versions, leases and tombstones as they are), the compaction
// revisions of `meta`, the leases and alarms. Streamed: one page of the image and one insert
// batch at a time. Members, cluster version and consistent index are not taken over: a restore
// starts a new cluster (restore.ts), as etcd's does.
import { fromBinary } from "@bufbuild/protobuf";
import { type BoltReader, type BucketRef, compare, latin1 } from "../bbolt/index.ts";
import { LeaseSchema } from "../gen/lease_pb.ts";
import { AlarmMemberSchema } from "../gen/rpc_pb.ts";
import type { StateWriter } from "../storage/index.ts";
import { type EtcdAuthState, parseAuthBuckets } from "./auth-buckets.ts";
import { SnapshotError, SnapshotErrors } from "./errors.ts";
import { Buckets, MetaKeys, parseRevisionKey, readU64be } from "./etcd-layout.ts";
import { decodeKeyValue } from "./kv-codec.ts";

export interface ImportedState {
  /** The store's revision: the last revision in the image, or the compaction revision if above. */
  readonly revision: number;
  readonly compactRevision: number;
  /** Entries of the `key` bucket (revisions and tombstones). */
  readonly historyRows: number;
  readonly leases: number;
  readonly auth: EtcdAuthState;
}

/** Reads the image's buckets into w; w's meta row is the caller's (it knows the applied index). */
export function importEtcdImage(r: BoltReader, w: StateWriter): ImportedState & { scheduledCompact: number } {
  const root = r.root();
  const need = (name: Uint8Array, text: string): BucketRef => {
    const b = r.bucket(root, name);
    if (b === undefined) throw SnapshotErrors.missingBucket(text);
    return b;
  };
  const keyBucket = need(Buckets.key, "key");
  const metaBucket = need(Buckets.meta, "meta");

  let scheduled = 0;
  let finished = 0;
  for (const e of r.entries(metaBucket)) {
    if (compare(e.key, MetaKeys.scheduledCompact) === 0) scheduled = parseRevisionKey(e.value, "meta bucket: scheduledCompactRev").main;
    else if (compare(e.key, MetaKeys.finishedCompact) === 0) finished = parseRevisionKey(e.value, "meta bucket: finishedCompactRev").main;
  }

  const leaseIds = new Set<bigint>();
  const leaseBucket = r.bucket(root, Buckets.lease);
  if (leaseBucket !== undefined) {
    for (const e of r.entries(leaseBucket)) {
      const id = BigInt.asIntN(64, readU64be(e.key, "lease bucket: key"));
      let l;
      try {
        l = fromBinary(LeaseSchema, e.value);
      } catch (err) {
        throw new SnapshotError(`lease bucket: lease ${id.toString(16)}: malformed leasepb.Lease (${(err as Error).message})`);
      }
      if (l.ID !== id) throw new SnapshotError(`lease bucket: key ${id.toString(16)} holds lease ${l.ID.toString(16)}`);
      if (l.TTL < 0n || l.TTL > BigInt(Number.MAX_SAFE_INTEGER) || l.RemainingTTL < 0n || l.RemainingTTL > l.TTL) {
        throw new SnapshotError(`lease bucket: lease ${id.toString(16)}: TTL ${l.TTL} / remaining ${l.RemainingTTL} out of range`);
      }
      w.addLease(id, Number(l.TTL), Number(l.RemainingTTL));
      leaseIds.add(id);
    }
  }

  const alarmBucket = r.bucket(root, Buckets.alarm);
  if (alarmBucket !== undefined) {
    for (const e of r.entries(alarmBucket)) {
      let a;
      try {
        a = fromBinary(AlarmMemberSchema, e.key);
      } catch (err) {
        throw new SnapshotError(`alarm bucket: malformed etcdserverpb.AlarmMember (${(err as Error).message})`);
      }
      w.addAlarm(a.memberID, a.alarm);
    }
  }

  // Keys whose latest revision so far is attached to a lease the image does not have. Such a
  // key must be deleted or re-put later in the history, or the image is inconsistent.
  const dangling = new Map<string, { revision: number; lease: bigint }>();
  let last = 0;
  let rows = 0;
  for (const e of r.entries(keyBucket)) {
    const rev = parseRevisionKey(e.key, "key bucket");
    const where = `key bucket: revision ${rev.main}_${rev.sub}`;
    const kv = decodeKeyValue(e.value, where);
    if (kv.key.length === 0) throw new SnapshotError(`${where}: empty key`);
    if (!rev.tombstone && kv.modRevision !== rev.main) throw new SnapshotError(`${where}: mod_revision ${kv.modRevision} does not match`);
    if (!rev.tombstone && (kv.createRevision < 1 || kv.createRevision > rev.main || kv.version < 1)) {
      throw new SnapshotError(`${where}: create_revision ${kv.createRevision} / version ${kv.version} out of range`);
    }
    if (rev.main < last) throw new SnapshotError(`${where}: revisions out of order`);
    last = rev.main;
    if (!rev.tombstone && kv.lease !== 0n && !leaseIds.has(kv.lease)) dangling.set(latin1(kv.key), { revision: rev.main, lease: kv.lease });
    else if (dangling.size > 0) dangling.delete(latin1(kv.key));
    w.addKv({
      revision: rev.main,
      sub: rev.sub,
      key: kv.key,
      value: rev.tombstone ? kv.value.subarray(0, 0) : kv.value,
      createRevision: rev.tombstone ? 0 : kv.createRevision,
      version: rev.tombstone ? 0 : kv.version,
      lease: rev.tombstone ? 0n : kv.lease,
      tombstone: rev.tombstone,
    });
    rows++;
  }
  for (const [k, d] of dangling) {
    throw new SnapshotError(`key ${JSON.stringify(k)} (revision ${d.revision}) is attached to lease ${d.lease.toString(16)}, which the snapshot does not have`);
  }

  const compactRevision = Math.max(scheduled, finished);
  return {
    revision: Math.max(1, last, compactRevision),
    compactRevision,
    // A compaction etcd had not finished deleting for: Conclave's finishes it at start.
    scheduledCompact: scheduled > finished ? scheduled : 0,
    historyRows: rows,
    leases: leaseIds.size,
    auth: parseAuthBuckets(r, root),
  };
}
