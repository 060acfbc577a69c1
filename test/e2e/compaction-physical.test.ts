// `etcdctl compaction --physical` answers only once the member has deleted the compacted
// revisions (etcd waits on the compaction's done channel), so a defrag run right after it gives
// the space back. Before, the answer came when the compaction was recorded, the deletion ran on
// in the background, and the defrag that followed reclaimed almost nothing.
import { expect, test } from "bun:test";
import { b64, useMember } from "../helpers/index.ts";

// One revision deleted per compaction batch: the deletion takes hundreds of steps, far longer
// than starting the next etcdctl, so an early answer would leave most of it undone.
const env = useMember({ name: "physical", extraArgs: ["--experimental-compaction-batch-limit", "1"] });

const PUTS = 400;
const VALUE = "v".repeat(50 * 1024);

interface Status {
  dbSize: number;
  dbSizeInUse: number;
  header: { revision: number };
}

async function status(): Promise<Status> {
  const out = JSON.parse(await env().ctl.ok("endpoint", "status", "-w", "json")) as Array<{ Status: Status }>;
  return out[0]!.Status;
}

test("compaction --physical, then defrag: the compacted revisions' space comes back", async () => {
  const { ctl, gw } = env();
  // 400 revisions of 50 KB over 4 keys: ~20 MB of history, of which 200 KB stays current.
  for (let i = 0; i < PUTS; i++) await gw.ok("/v3/kv/put", { key: b64(`phys/${i % 4}`), value: b64(VALUE) });
  const before = await status();
  expect(before.dbSize).toBeGreaterThan(PUTS * VALUE.length * 0.9);

  const c = await ctl.run("compaction", "--physical", String(before.header.revision));
  expect(c.code).toBe(0);
  expect(c.stdout).toBe(`compacted revision ${before.header.revision}\n`);
  const d = await ctl.run("defrag");
  expect(d.code).toBe(0);

  const after = await status();
  // Everything but the 4 current values (and the tree around them) was given back.
  expect(after.dbSize).toBeLessThan(before.dbSize / 10);
  expect(after.dbSizeInUse).toBeLessThanOrEqual(after.dbSize);
  // The current values are intact.
  const got = JSON.parse(await ctl.ok("get", "phys/", "--prefix", "-w", "json")) as { count: number; kvs: Array<{ value: string }> };
  expect(got.count).toBe(4);
  for (const kv of got.kvs) expect(kv.value).toBe(b64(VALUE));
}, 60_000);
