// Seeded fuzzing of the engine on a scripted socket: thousands of mutated frame sequences.
// Nothing may escape as an exception, and once the connection is gone every stream the
// handler was given has been closed exactly once (no stream left half-open). FUZZ_SEED=n
// replays a run; FUZZ_CASES=n sizes it.
import { expect, test } from "bun:test";
import { ErrorCode, type H2Stream } from "../../src/api/h2/index.ts";
import { fuzzCase } from "../helpers/h2-fuzz.ts";
import { mulberry32, seedFromEnv } from "../helpers/rng.ts";
import { FakeClock, Peer } from "./fake-peer.ts";

const seed = seedFromEnv("FUZZ_SEED");
const cases = Number(process.env.FUZZ_CASES ?? 3000);

test(`${cases} fuzzed connections (FUZZ_SEED=${seed}): no exception escapes, no stream is left open`, async () => {
  const r = mulberry32(seed);
  let streams = 0;
  for (let i = 0; i < cases; i++) {
    const clock = new FakeClock();
    const closes = new Map<H2Stream, number>();
    const errors: Error[] = [];
    const p = new Peer(
      {
        clock,
        onError: (e) => errors.push(e),
        onStream(s) {
          closes.set(s, 0);
          s.onclose = () => closes.set(s, closes.get(s)! + 1);
          s.ondata = () => {};
          s.onend = () => {
            // Answer some, leave some open (like a watch), reset some.
            const roll = r();
            if (roll < 0.5) {
              s.respond([[":status", "200"], ["content-type", "application/grpc"]]);
              s.write(Buffer.alloc(Math.floor(r() * 70_000)));
              s.end([["grpc-status", "0"]]);
            } else if (roll < 0.6) s.reset(ErrorCode.CANCEL);
          };
        },
      },
      false,
    );
    try {
      for (const chunk of fuzzCase(r)) {
        p.send(chunk);
        if (r() < 0.05) clock.advance(Math.floor(r() * 20_000));
      }
      await p.settle();
    } catch (e) {
      throw new Error(`case ${i} (FUZZ_SEED=${seed}) threw: ${(e as Error).stack}`);
    }
    p.sock.emit("close");
    streams += closes.size;
    expect(errors, `case ${i} (FUZZ_SEED=${seed})`).toEqual([]);
    for (const [s, n] of closes) expect(n, `case ${i} (FUZZ_SEED=${seed}) stream ${s.id} closed ${n} times`).toBe(1);
  }
  // The generator reaches the handler, not just the frame checks.
  expect(streams).toBeGreaterThan(cases / 10);
}, 120_000);
