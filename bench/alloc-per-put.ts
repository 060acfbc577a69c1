// JS objects allocated per put, by stage and type. Method: a full GC, then JSC's heap census
// (heapStats().objectTypeCounts: every cell allocated since the collection counts as live)
// before and after a batch of operations; a sample in which a collection ran shrinks and is
// dropped; median over the samples.
//   bun bench/alloc-per-put.ts [batch=200] [samples=40]
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { fullGC, heapStats } from "bun:jsc";
import { InternalRaftRequestSchema } from "../src/gen/internal_pb.ts";
import { PutRequestSchema, PutResponseSchema, ResponseHeaderSchema } from "../src/gen/rpc_pb.ts";
import { buildRequest } from "../src/server/request-codec.ts";
import { TestCluster } from "../test/server/harness.ts";

const BATCH = Number(process.argv[2] ?? 200);
const SAMPLES = Number(process.argv[3] ?? 40);

async function measure(name: string, op: (i: number) => unknown | Promise<unknown>): Promise<void> {
  let n = 0;
  for (let w = 0; w < 3 * BATCH; w++) await op(n++); // warm up the JIT
  const samples: Record<string, number>[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    fullGC();
    const before = heapStats().objectTypeCounts;
    const pending: unknown[] = [];
    for (let i = 0; i < BATCH; i++) pending.push(op(n++));
    await Promise.all(pending);
    pending.length = 0;
    const after = heapStats().objectTypeCounts;
    const d: Record<string, number> = {};
    let total = 0;
    for (const [t, c] of Object.entries(after)) {
      const x = c - (before[t] ?? 0);
      if (x > 0) d[t] = x / BATCH;
      total += x;
    }
    // A collection in between shows as fewer objects than before: drop that sample.
    if (total > 0) samples.push(d);
  }
  const types = new Set(samples.flatMap((d) => Object.keys(d)));
  const med = (t: string) => {
    const v = samples.map((d) => d[t] ?? 0).sort((a, b) => a - b);
    return v[v.length >> 1] ?? 0;
  };
  const rows = [...types].map((t) => [t, med(t)] as const).filter(([, v]) => v >= 0.5).sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((a, [, v]) => a + v, 0);
  console.log(`${name}: ${total.toFixed(1)} objects/op (${samples.length}/${SAMPLES} samples)`);
  console.log("   " + rows.slice(0, 10).map(([t, v]) => `${t} ${v.toFixed(1)}`).join(", "));
}

const key = (i: number) => new TextEncoder().encode(`k${(i % 100000).toString().padStart(7, "0")}`);
const value = new Uint8Array(256).fill(0x61);
const putBytes = toBinary(PutRequestSchema, create(PutRequestSchema, { key: key(1), value }));
const entry = buildRequest({ ID: 12345678901n, put: create(PutRequestSchema, { key: key(1), value }) }).data;
const header = create(ResponseHeaderSchema, { clusterId: 1n, memberId: 2n, revision: 100n, raftTerm: 2n });

await measure("gRPC decode PutRequest (fromBinary)", () => fromBinary(PutRequestSchema, putBytes));
await measure("propose: buildRequest (create+toBinary)", (i) =>
  buildRequest({ ID: BigInt(i), put: fromBinary(PutRequestSchema, putBytes) }));
await measure("apply: decode entry (fromBinary Internal)", () => fromBinary(InternalRaftRequestSchema, entry));
await measure("reply: PutResponse create+toBinary", () =>
  toBinary(PutResponseSchema, create(PutResponseSchema, { header })));

const c = await TestCluster.start(1);
const m = c.leader()!;
await measure("server.put end to end (raft+WAL+apply)", (i) =>
  m.server.put(create(PutRequestSchema, { key: key(i), value }), {}));
await c.cleanup();
