// `conclave ctl make-mirror` from a 3-member Conclave cluster into Debian's etcd, and back from
// that etcd into a Conclave member under another prefix, each while writers keep changing the
// source (puts, deletes, two-key transactions): once the writers stop, the destination holds
// exactly the source's keys and values. Beside it, etcdctl's make-mirror copies the same
// source into a second etcd: both copies are the same. Argument errors as etcdctl's.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { CONCLAVE_CTL_BIN, lastError, runConclaveCtl, runEtcdctlRaw, spawnProgram } from "../helpers/conclave-ctl.ts";
import { b64, Cluster, ETCD_SERVER_BIN, ETCDCTL_BIN, Gateway, type Json, Member, pollUntil, unb64 } from "../helpers/index.ts";
import { mulberry32, seedFromEnv } from "../helpers/rng.ts";

let source: Cluster;
let etcd: Member;
let etcd2: Member;
let back: Member;

beforeAll(async () => {
  [source, etcd, etcd2, back] = await Promise.all([
    Cluster.start({ size: 3, bin: CONCLAVE_CTL_BIN }),
    Member.start({ bin: ETCD_SERVER_BIN }),
    Member.start({ bin: ETCD_SERVER_BIN }),
    Member.start({ bin: CONCLAVE_CTL_BIN }),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all([source?.cleanup(), etcd?.cleanup(), etcd2?.cleanup(), back?.cleanup()]);
});

/** The keys and values under a prefix, as a map. */
async function snapshot(gw: Gateway, prefix: string): Promise<Record<string, string>> {
  const r = (await gw.ok("/v3/kv/range", { key: b64(prefix), range_end: b64(prefixEnd(prefix)) })) as Json;
  return Object.fromEntries(((r.kvs ?? []) as Json[]).map((kv) => [unb64(kv.key), kv.value ? unb64(kv.value) : ""]));
}

function prefixEnd(p: string): string {
  const b = Buffer.from(p);
  b[b.length - 1]! += 1;
  return b.toString("latin1");
}

/** Random puts, deletes and two-key transactions under `prefix` until stopped. */
function writers(gw: Gateway, prefix: string, seed: number): { stop: () => Promise<number> } {
  const rnd = mulberry32(seed);
  let stopping = false;
  let n = 0;
  const key = () => `${prefix}k${Math.floor(rnd() * 40)}`;
  const one = async () => {
    while (!stopping) {
      const x = rnd();
      if (x < 0.6) await gw.ok("/v3/kv/put", { key: b64(key()), value: b64(`v${n}`) });
      else if (x < 0.8) await gw.ok("/v3/kv/deleterange", { key: b64(key()) });
      else {
        await gw.ok("/v3/kv/txn", {
          success: [
            { request_put: { key: b64(key()), value: b64(`t${n}a`) } },
            { request_put: { key: b64(`${prefix}txn/${n}`), value: b64(`t${n}b`) } },
          ],
        });
      }
      n++;
    }
  };
  const running = [one(), one()];
  return {
    stop: async () => {
      stopping = true;
      await Promise.all(running);
      return n;
    },
  };
}

const gwOf = (endpoint: string) => new Gateway(`http://${endpoint}`);

test("make-mirror Conclave cluster → etcd and etcd → Conclave under concurrent writes: the copies equal their sources", async () => {
  const seed = seedFromEnv();
  const srcGw = gwOf(source.members[0]!.endpoint);
  // History before the mirror starts: the initial copy.
  for (let i = 0; i < 30; i++) await srcGw.ok("/v3/kv/put", { key: b64(`mm/base${i}`), value: b64(`b${i}`) });
  await srcGw.ok("/v3/kv/put", { key: b64("other/not-mirrored"), value: b64("x") });
  const load = writers(srcGw, "mm/", seed);
  const eps = `--endpoints=${source.endpoints()}`;
  const ours = spawnProgram(CONCLAVE_CTL_BIN, ["ctl", eps, "make-mirror", "--prefix", "mm/", etcd.endpoint], { timeoutMs: 120_000 });
  const theirs = spawnProgram(ETCDCTL_BIN, [eps, "make-mirror", "--prefix", "mm/", etcd2.endpoint], { timeoutMs: 120_000 });
  try {
    await new Promise((r) => setTimeout(r, 2500));
    const n = await load.stop();
    expect(n).toBeGreaterThan(20);
    const want = await snapshot(srcGw, "mm/");
    const dst = gwOf(etcd.endpoint);
    const dst2 = gwOf(etcd2.endpoint);
    await pollUntil(async () => (JSON.stringify(await snapshot(dst, "mm/")) === JSON.stringify(want) ? true : undefined), 20_000, `etcd holds the source's mm/ keys (seed ${seed})`);
    await pollUntil(async () => (JSON.stringify(await snapshot(dst2, "mm/")) === JSON.stringify(want) ? true : undefined), 20_000, "etcdctl's copy caught up");
    expect(await snapshot(dst, "other/")).toEqual({});
  } finally {
    ours.child.kill("SIGINT");
    theirs.child.kill("SIGINT");
  }
  const r = await ours.done;
  expect(r.stderr).toBe("");

  // And back: etcd → a Conclave member under back/, while the etcd side is written to.
  const etcdGw = gwOf(etcd.endpoint);
  const load2 = writers(etcdGw, "mm/", seed + 1);
  const ret = spawnProgram(CONCLAVE_CTL_BIN, ["ctl", `--endpoints=${etcd.endpoint}`, "make-mirror", "--prefix", "mm/", "--dest-prefix", "back/", back.endpoint], { timeoutMs: 120_000 });
  try {
    await new Promise((r) => setTimeout(r, 2500));
    await load2.stop();
    const want = Object.fromEntries(Object.entries(await snapshot(etcdGw, "mm/")).map(([k, v]) => [k.replace("mm/", "back/"), v]));
    expect(Object.keys(want).length).toBeGreaterThan(30);
    const backGw = gwOf(back.endpoint);
    await pollUntil(async () => (JSON.stringify(await snapshot(backGw, "back/")) === JSON.stringify(want) ? true : undefined), 20_000, `the Conclave member holds etcd's mm/ keys under back/ (seed ${seed})`);
    expect(await snapshot(backGw, "mm/")).toEqual({});
  } finally {
    ret.child.kill("SIGINT");
  }
}, 180_000);

test("make-mirror errors: arguments, both prefix flags, a destination CA file that is not there: etcdctl's lines and exit codes", async () => {
  const eps = `--endpoints=${source.endpoints()}`;
  for (const args of [
    [eps, "make-mirror"],
    [eps, "make-mirror", "a", "b"],
    [eps, "make-mirror", "--dest-prefix", "x/", "--no-dest-prefix", etcd.endpoint],
    [eps, "make-mirror", "--dest-cacert", "/nonexistent/ca.pem", etcd.endpoint],
  ]) {
    const a = await runEtcdctlRaw(args);
    const b = await runConclaveCtl(args);
    expect({ args, code: b.code, err: lastError(b) }).toEqual({ args, code: a.code, err: lastError(a) });
  }
}, 60_000);
