// Seeded fuzzed HTTP/2 connections against the compiled member: it never crashes, a normal
// client is served throughout, its memory stays bounded. Holds for etcd 3.4.23 too. The
// stream bookkeeping after such input is checked in-process (test/api/fuzz-port.test.ts,
// test/h2/fuzz.test.ts). FUZZ_SEED=n replays a run.
import { expect, test } from "bun:test";
import { connect } from "node:net";
import { LatencyProbe, RssSampler, rssMiB } from "../helpers/attack.ts";
import { fuzzCase } from "../helpers/h2-fuzz.ts";
import { mulberry32, seedFromEnv, useMember } from "../helpers/index.ts";

const get = useMember();
const seed = seedFromEnv("FUZZ_SEED");
const cases = Number(process.env.FUZZ_E2E_CASES ?? 1000);

function run(port: number, chunks: Buffer[], linger: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => {
      for (const c of chunks) if (!s.destroyed) s.write(c);
      setTimeout(() => s.destroy(), linger);
    });
    s.resume();
    s.on("error", () => {});
    s.on("close", () => resolve());
  });
}

test(`${cases} fuzzed connections (FUZZ_SEED=${seed}): the member lives and serves`, async () => {
  const { member, gw } = get();
  const pid = member.process.pid!;
  const before = rssMiB(pid);
  const rss = new RssSampler(pid);
  const probe = new LatencyProbe(member.clientPort);
  probe.phase("fuzz");
  const r = mulberry32(seed);
  try {
    for (let i = 0; i < cases; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, cases - i) }, () => run(member.clientPort, fuzzCase(r), Math.floor(r() * 50))));
    }
  } finally {
    await probe.stop();
  }
  const peak = rss.stop();
  const st = probe.stats("fuzz");
  const report = JSON.stringify({ seed, st, before, peak });
  expect(member.running, report).toBe(true);
  expect(st.failures, report).toBe(0);
  expect(st.count, report).toBeGreaterThan(0);
  expect(peak - before, report).toBeLessThan(200);
  expect((await gw.post("/v3/kv/range", { key: "ZnV6ejA=" })).status).toBe(200);
}, 120_000);
