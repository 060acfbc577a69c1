// Crash safety: several concurrent writers load the member through the JSON gateway while it
// is SIGKILLed at seeded random moments and restarted on the same data dir. Afterwards every
// acknowledged write must be there with the revision it was acknowledged with, revisions must
// form one gap-free sequence, and atomic pairs written by txn must never be torn.
//
// Replay a failure with E2E_SEED=<printed seed>; E2E_CRASH_KILLS sets the number of kills.
import { afterAll, expect, test } from "bun:test";
import { b64, delay, Gate, Gateway, type Json, Member, mulberry32, prefixEnd, seedFromEnv, unb64 } from "../helpers/index.ts";

const KILLS = Number(process.env.E2E_CRASH_KILLS ?? 20);
const SINGLE_WRITERS = 3;
const PREFIX = "crash/";

interface Ack {
  keys: string[];
  value: string;
  revision: number;
}

let member: Member | undefined;
afterAll(async () => {
  await member?.cleanup();
});

test(
  "every acknowledged write survives repeated SIGKILL with its revision; no gaps, nothing torn",
  async () => {
    const seed = seedFromEnv();
    console.log(`crash test seed=${seed} kills=${KILLS} (replay with E2E_SEED=${seed})`);
    const rand = mulberry32(seed);
    // Fast election timing so that a restarted single member leads again quickly.
    member = await Member.start({ extraArgs: ["--heartbeat-interval", "10", "--election-timeout", "100"] });
    const gw = new Gateway(member.clientURL);
    const startRev = Number((await gw.range("crash-probe")).header.revision);

    const acks: Ack[][] = Array.from({ length: SINGLE_WRITERS + 1 }, () => []);
    const gate = new Gate();
    let stopping = false;
    let attempts = 0;
    // The most recent refusals with an HTTP answer, to explain a run where little was acked.
    const refusals: string[] = [];

    const post = async (path: string, body: unknown): Promise<Json | undefined> => {
      try {
        const r = await gw.post(path, body, 5000);
        if (r.status === 200) return r.json;
        refusals.push(`${path} → ${r.status} ${r.text.slice(0, 200)}`);
        if (refusals.length > 5) refusals.shift();
        return undefined;
      } catch {
        return undefined; // connection refused/reset: not acknowledged
      }
    };

    // Single-key writers: each attempt uses a fresh key, so presence is unambiguous.
    const single = async (w: number): Promise<void> => {
      for (let seq = 0; !stopping; seq++) {
        attempts++;
        const key = `${PREFIX}w${w}/${String(seq).padStart(7, "0")}`;
        const value = `${w}:${seq}`;
        const r = await post("/v3/kv/put", { key: b64(key), value: b64(value) });
        if (r) acks[w]!.push({ keys: [key], value, revision: Number(r.header.revision) });
        else await gate.wait();
      }
    };
    // Pair writer: two keys in one txn; they must appear together with one revision.
    const pair = async (w: number): Promise<void> => {
      for (let seq = 0; !stopping; seq++) {
        attempts++;
        const n = String(seq).padStart(7, "0");
        const keys = [`${PREFIX}pa/${n}`, `${PREFIX}pb/${n}`];
        const value = `pair:${seq}`;
        const r = await post("/v3/kv/txn", {
          success: keys.map((k) => ({ request_put: { key: b64(k), value: b64(value) } })),
        });
        if (r) acks[w]!.push({ keys, value, revision: Number(r.header.revision) });
        else await gate.wait();
      }
    };

    const writers = [
      ...Array.from({ length: SINGLE_WRITERS }, (_, i) => single(i)),
      pair(SINGLE_WRITERS),
    ];

    const maxAcked = () => Math.max(startRev, ...acks.map((a) => a.at(-1)?.revision ?? 0));
    for (let k = 0; k < KILLS; k++) {
      // Let the load run for a random while, then pull the plug mid-flight.
      await delay(80 + Math.floor(rand() * 400));
      gate.close();
      await member.kill();
      const ackedBeforeRestart = maxAcked();
      await member.launch();
      const after = await gw.range("crash-probe");
      // Nothing acknowledged was lost: the store is at least as new as the newest ack.
      expect(Number(after.header.revision)).toBeGreaterThanOrEqual(ackedBeforeRestart);
      gate.release();
    }
    stopping = true;
    gate.release();
    await Promise.all(writers);

    const totalAcks = acks.reduce((n, a) => n + a.length, 0);
    console.log(`crash test: ${attempts} attempts, ${totalAcks} acknowledged, final restarts ok`);
    // The load really ran between kills (at least a few acks per kill interval).
    if (totalAcks <= KILLS * 2) {
      throw new Error(`only ${totalAcks} of ${attempts} writes acknowledged; last refusals:\n${refusals.join("\n")}\n${member.logTail(10)}`);
    }

    // One final range over everything written.
    const final = await gw.ok("/v3/kv/range", { key: b64(PREFIX), range_end: prefixEnd(PREFIX) });
    const finalRev = Number(final.header.revision);
    const byKey = new Map<string, Json>();
    for (const kv of final.kvs ?? []) byKey.set(unb64(kv.key), kv);

    // 1. Every acknowledged write is present with the revision it was acknowledged with.
    for (const list of acks) {
      for (const a of list) {
        for (const key of a.keys) {
          const kv = byKey.get(key);
          if (!kv) throw new Error(`acknowledged write ${key}@${a.revision} is missing (seed ${seed})`);
          expect(Number(kv.mod_revision)).toBe(a.revision);
          expect(Number(kv.create_revision)).toBe(a.revision);
          expect(kv.version).toBe("1");
          expect(unb64(kv.value)).toBe(a.value);
        }
      }
      // 2. A writer's acknowledged revisions strictly increase.
      for (let i = 1; i < list.length; i++) expect(list[i]!.revision).toBeGreaterThan(list[i - 1]!.revision);
    }

    // 3. Revisions form one gap-free sequence: every revision after the start belongs to
    //    exactly one write (a single put or one pair), and nothing else exists.
    const byRev = new Map<number, string[]>();
    for (const [key, kv] of byKey) {
      const rev = Number(kv.mod_revision);
      byRev.set(rev, [...(byRev.get(rev) ?? []), key]);
    }
    expect(finalRev).toBe(startRev + byRev.size);
    for (let rev = startRev + 1; rev <= finalRev; rev++) {
      const keys = byRev.get(rev);
      if (!keys) throw new Error(`revision ${rev} has no write: a gap in history (seed ${seed})`);
      if (keys.length === 1) {
        expect(keys[0]).toMatch(/^crash\/w\d+\/\d{7}$/);
      } else {
        // 4. Not torn: a pair shares its revision and its sequence number.
        expect(keys.length).toBe(2);
        const [a, b] = keys.sort();
        expect(a).toMatch(/^crash\/pa\/\d{7}$/);
        expect(b).toBe(a!.replace("/pa/", "/pb/"));
      }
    }
    for (const [key] of byKey) {
      if (key.includes("/pa/")) expect(byKey.has(key.replace("/pa/", "/pb/"))).toBe(true);
      if (key.includes("/pb/")) expect(byKey.has(key.replace("/pb/", "/pa/"))).toBe(true);
    }

    // 5. History reads at an acknowledged revision see exactly that write (sampled).
    const flat = acks.flat();
    for (let i = 0; i < 30 && flat.length > 0; i++) {
      const a = flat[Math.floor(rand() * flat.length)]!;
      const r = await gw.range(a.keys[0]!, { revision: a.revision });
      expect(r.kvs?.length).toBe(1);
      expect(Number(r.kvs[0].mod_revision)).toBe(a.revision);
      const before = await gw.range(a.keys[0]!, { revision: a.revision - 1 });
      expect(before.kvs).toBeUndefined();
    }
  },
  120_000,
);
