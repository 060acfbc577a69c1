// Seeded fuzzing of the whole client port over real sockets (sniffing, the HTTP/2 engine, the
// gRPC call layer, the gateway) on a fake server: after every fuzzed connection is gone, no
// connection and no stream is left behind, and the port still serves. FUZZ_SEED replays.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { fuzzCase } from "../helpers/h2-fuzz.ts";
import { mulberry32, seedFromEnv } from "../helpers/rng.ts";
import { pollUntil } from "../helpers/wait.ts";
import { RawGrpc, startHarness, type Harness } from "./helpers.ts";

const seed = seedFromEnv("FUZZ_SEED");
const cases = Number(process.env.FUZZ_PORT_CASES ?? 600);
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

/** Writes one case's chunks, lets the server answer, then closes (or sees the server close). */
function run(chunks: Buffer[], linger: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(h.port, "127.0.0.1", async () => {
      for (const c of chunks) {
        if (s.destroyed) break;
        s.write(c);
        if (c.length % 7 === 0) await new Promise((r) => setImmediate(r));
      }
      setTimeout(() => s.destroy(), linger);
    });
    s.resume();
    s.on("error", () => {});
    s.on("close", () => resolve());
  });
}

test(`${cases} fuzzed connections over real sockets (FUZZ_SEED=${seed}): nothing left open, still serving`, async () => {
  const r = mulberry32(seed);
  for (let i = 0; i < cases; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, cases - i) }, () => run(fuzzCase(r), Math.floor(r() * 30))));
  }
  await pollUntil(() => {
    const st = h.srv.stats();
    return st.connections === 0 && st.streams === 0 ? true : undefined;
  }, 10_000, `every connection and stream closed (FUZZ_SEED=${seed}): ${JSON.stringify(h.srv.stats())}`);
  const c = new RawGrpc(h.port);
  const res = await c.call("/etcdserverpb.KV/Range", [Buffer.from([0, 0, 0, 0, 3, 0x0a, 0x01, 0x61])]);
  expect(res.status).toBe(0);
  c.close();
}, 120_000);
