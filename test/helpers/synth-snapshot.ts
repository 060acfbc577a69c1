// Writes a synthetic etcd snapshot of any size, streamed (flat memory): `keys` keys written
// round-robin for `revisions` revisions (revision 2, 3, …), values of `valueBytes` bytes, the
// first `leasedKeys` keys attached to leases, one member. What etcd's backend would hold after
// the same puts, so both `etcdctl snapshot restore` and Conclave's restore accept it. Used by the
// memory tests and by the 1 GB benchmark (bench/snapshot.ts).
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { type BucketSource, type KeyValuePair, planBolt } from "../../src/bbolt/index.ts";
import { authBucketSources, FRESH_AUTH_STATE } from "../../src/snapshot/index.ts";
import { Buckets, ClusterKeys, encodeMemberJson, MetaKeys, revisionKey, u64be } from "../../src/snapshot/etcd-layout.ts";
import { encodeKeyValue, keyValueSize } from "../../src/snapshot/kv-codec.ts";
import { listSource } from "../../src/snapshot/sources.ts";

export interface SynthSpec {
  keys: number;
  revisions: number;
  valueBytes: number;
  leasedKeys?: number;
}

export interface SynthResult {
  /** The store's revision (the last one written). */
  revision: number;
  /** Bytes of the file, trailer included. */
  size: number;
}

const te = new TextEncoder();
const BATCH = 512;

export const synthKey = (i: number): string => `synth/${String(i).padStart(8, "0")}`;
export const synthLease = (i: number): bigint => BigInt(0x5e000000 + i);

/** The value written at a revision: deterministic, so tests can check any of them. */
export function synthValue(revision: number, bytes: number): Uint8Array {
  const v = new Uint8Array(bytes);
  const tag = te.encode(`r${revision}:`);
  v.fill(0x61 + (revision % 26));
  v.set(tag.subarray(0, bytes));
  return v;
}

export async function writeSynthSnapshot(path: string, spec: SynthSpec): Promise<SynthResult> {
  const { keys, revisions, valueBytes } = spec;
  const leased = spec.leasedKeys ?? 0;
  const keyOf = (rev: number) => (rev - 2) % keys;
  const rowOf = (rev: number): KeyValuePair => {
    const k = keyOf(rev);
    const version = Math.floor((rev - 2) / keys) + 1;
    return {
      key: revisionKey(rev, 0),
      value: encodeKeyValue({
        key: te.encode(synthKey(k)),
        createRevision: k + 2,
        modRevision: rev,
        version,
        value: synthValue(rev, valueBytes),
        lease: k < leased ? synthLease(k) : 0n,
      }),
    };
  };
  const last = revisions + 1;
  const history: BucketSource = {
    name: Buckets.key,
    *sizes() {
      for (let r = 2; r <= last; r += BATCH) {
        const out: number[] = [];
        for (let rev = r; rev < r + BATCH && rev <= last; rev++) {
          const k = keyOf(rev);
          out.push(17, keyValueSize(synthKey(k).length, k + 2, rev, Math.floor((rev - 2) / keys) + 1, valueBytes, k < leased ? synthLease(k) : 0n));
        }
        yield out;
      }
    },
    *entries() {
      for (let r = 2; r <= last; r += BATCH) {
        const out: KeyValuePair[] = [];
        for (let rev = r; rev < r + BATCH && rev <= last; rev++) out.push(rowOf(rev));
        yield out;
      }
    },
  };
  const leases: KeyValuePair[] = [];
  for (let i = 0; i < Math.min(leased, keys); i++) {
    // leasepb.Lease{ID, TTL: 3600}: field 1 and 2 varints.
    const id = synthLease(i);
    const value = new Uint8Array([0x08, ...varint(id), 0x10, ...varint(3600n)]);
    leases.push({ key: u64be(id), value });
  }
  const buckets = [
    listSource(Buckets.alarm, []),
    ...authBucketSources(FRESH_AUTH_STATE),
    listSource(Buckets.cluster, [{ key: ClusterKeys.clusterVersion, value: te.encode("3.4.0") }]),
    history,
    listSource(Buckets.lease, leases),
    listSource(Buckets.members, [
      { key: te.encode("8e9e05c52164694d"), value: encodeMemberJson({ id: 0x8e9e05c52164694dn, name: "default", peerURLs: ["http://localhost:2380"], clientURLs: [], isLearner: false }) },
    ]),
    listSource(Buckets.membersRemoved, []),
    listSource(Buckets.meta, [{ key: MetaKeys.consistentIndex, value: u64be(last + 10) }]),
  ];
  const image = await planBolt(buckets);
  const fd = openSync(path, "w");
  try {
    const sha = createHash("sha256");
    for await (const c of image.chunks()) {
      sha.update(c);
      writeSync(fd, c);
    }
    writeSync(fd, sha.digest());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { revision: last, size: image.size + 32 };
}

function varint(n: bigint): number[] {
  const out: number[] = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}
