// Attacks on the client port's HTTP/2 engine, each against the compiled member over a real
// socket, from an attacker process that reconnects whenever it is thrown out. For each: the
// attacker's connections end with the defence's code, a normal client on its own connection
// keeps its latency during and after the attack, and the member's memory stays bounded.
// Conclave only: these are its own defences (etcd 3.4 has none against most of them; the
// benchmarks in bench/attacks.ts put both side by side).
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/api/h2/index.ts";
import { LatencyProbe, RssSampler, rssMiB, runAttacker, type LatencyStats } from "../helpers/attack.ts";
import { isEtcd, Member } from "../helpers/index.ts";

/** How long each attack runs. */
const ATTACK_MS = 1000;
/**
 * Latency bounds for the normal client (sequential puts; 2-20 ms p99 on an idle member here).
 * The attacker, the member and the client share two cores, so the attacker's own CPU costs the
 * client some latency; what the bounds rule out is the member stalling (before the defences a
 * put behind a header bomb took ~1 s, behind a reassembly copy 7-9 s) or failing requests.
 */
const DURING_P99_MS = 300;
const DURING_MAX_MS = 1000;
const AFTER_P99_MS = 150;
/**
 * The member's resident memory may grow this much during an attack (a fresh member starts at
 * 80-100 MiB). What grows is garbage the collector has not yet returned: the attackers push
 * 50-200 MB/s of frames at it; the peak does not grow with the attack's length, and falls back
 * once it stops. Without the defences these attacks took the member to gigabytes (header
 * blocks without end, headers expanded a thousandfold).
 */
const RSS_GROWTH_MIB = 320;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh member with a normal client warmed up and its baseline latency measured. */
async function prepared(): Promise<{ member: Member; probe: LatencyProbe; baseline: LatencyStats }> {
  const member = await Member.start();
  const probe = new LatencyProbe(member.clientPort);
  probe.phase("warmup");
  await sleep(400);
  probe.phase("baseline");
  await sleep(400);
  return { member, probe, baseline: probe.stats("baseline") };
}

interface Expect {
  /** GOAWAY "code debug" the attacker's connections must end with (all of them but the last). */
  goaway?: string;
  /** RST_STREAM code every refused stream gets. */
  reset?: number;
  /** HTTP status every stream gets. */
  status?: string;
  /** GOAWAYs the attacker may get, exactly ({}: its connections are never closed). */
  goaways?: Record<string, number>;
  /**
   * How long the attack runs when not ATTACK_MS: a block past the list limit is read at a
   * slowed pace (~1 MB/s), so the answer comes well inside this.
   */
  ms?: number;
}

const CASES: Array<[string, string, Expect]> = [
  ["rapid reset: requests opened and cancelled at once", "rapid-reset", { goaway: `${ErrorCode.ENHANCE_YOUR_CALM} too many canceled streams` }],
  ["CONTINUATION flood of empty frames", "continuation-flood", { goaway: `${ErrorCode.ENHANCE_YOUR_CALM} h2: too many CONTINUATION frames` }],
  ["CONTINUATION flood of full frames (header list far over the limit)", "continuation-big", { goaway: `${ErrorCode.PROTOCOL_ERROR} h2: header list too large`, ms: 5000 }],
  ["HPACK bomb, one frame a stream: 431 per stream, no expansion", "hpack-bomb", { status: "431" }],
  // The block's rest past the limit is skipped and refused, the connection kept (as grpc-go).
  ["HPACK bomb over several frames: 431, the connection kept", "hpack-bomb-frames", { status: "431", goaways: {} }],
  // Over twice the limit: the connection ends, after the part past the limit was read slowly.
  ["header block past twice the list limit", "hpack-bomb-huge", { goaway: `${ErrorCode.PROTOCOL_ERROR} h2: header list too large`, ms: 5000 }],
  // Each list's over-limit part is read at the slowed pace (~0.7 s a list).
  ["header lists over SETTINGS_MAX_HEADER_LIST_SIZE: 431", "header-list", { status: "431", ms: 3000 }],
  ["PING flood", "ping-flood", { goaway: `${ErrorCode.ENHANCE_YOUR_CALM} too_many_pings` }],
  ["WINDOW_UPDATE flood until the window overflows", "window-flood", { goaway: `${ErrorCode.FLOW_CONTROL_ERROR} h2: connection window overflow` }],
  ["HEADERS on a lower stream id", "lower-stream", { goaway: `${ErrorCode.PROTOCOL_ERROR} h2: HEADERS on a closed or lower stream id` }],
  ["CR, LF and NUL in header values", "bad-values", { reset: ErrorCode.PROTOCOL_ERROR }],
];

describe.if(!isEtcd())("HTTP/2 attacks on the compiled member", () => {
  for (const [name, kind, want] of CASES) {
    test(name, async () => {
      const { member, probe, baseline } = await prepared();
      try {
      const pid = member.process.pid!;
      const before = rssMiB(pid);
      const rss = new RssSampler(pid);
      probe.phase(`${kind}:during`);
      const r = await runAttacker(kind, member.clientPort, want.ms ?? ATTACK_MS);
      probe.phase(`${kind}:after`);
      await sleep(300);
      const peak = rss.stop();
      const during = probe.stats(`${kind}:during`);
      const after = probe.stats(`${kind}:after`);
      const report = JSON.stringify({ r, baseline, during, after, before, peak });
      // The attack was met with the defence's answer.
      if (want.goaway !== undefined) {
        expect(Object.keys(r.goaways), report).toEqual([want.goaway]);
        expect(r.goaways[want.goaway]!, report).toBeGreaterThanOrEqual(1);
      }
      if (want.reset !== undefined) {
        expect(Object.keys(r.resets), report).toEqual([String(want.reset)]);
        expect(r.goaways, report).toEqual({});
      }
      if (want.goaways !== undefined) {
        expect(r.goaways, report).toEqual(want.goaways);
        expect(r.connections, report).toBe(1);
      }
      if (want.status !== undefined) {
        expect(Object.keys(r.statuses), report).toEqual([want.status]);
        expect(r.statuses[want.status]!, report).toBeGreaterThan(0);
      }
      // The normal client was served throughout, within bounds.
      expect(during.failures + after.failures, report).toBe(0);
      expect(during.count, report).toBeGreaterThan(0);
      expect(during.p99, report).toBeLessThan(DURING_P99_MS);
      expect(during.max, report).toBeLessThan(DURING_MAX_MS);
      expect(after.p99, report).toBeLessThan(AFTER_P99_MS);
      // Memory stayed bounded.
      expect(peak - before, report).toBeLessThan(RSS_GROWTH_MIB);
      expect(member.running).toBe(true);
      console.log(`${kind}: ${JSON.stringify({ connections: r.connections, goaways: r.goaways, resets: r.resets, statuses: r.statuses, baselineP99: baseline.p99.toFixed(2), duringP99: during.p99.toFixed(2), afterP99: after.p99.toFixed(2), rss: `${before.toFixed(0)}->${peak.toFixed(0)} MiB` })}`);
      } finally {
        await probe.stop();
        await member.cleanup();
      }
    }, 30_000);
  }
});
