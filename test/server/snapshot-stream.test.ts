// A snapshot sent to a lagging member streams from a consistent copy on disk: the raft loop
// hands the transport an iterator after taking the copy, not a buffered image, and the copy is
// removed once the send is over (sent, failed, or never started).
import { afterEach, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Message } from "../../src/raft/message.ts";
import type { PeerTransport } from "../../src/transport/types.ts";
import { TestCluster, type TestMember } from "./harness.ts";

let cl: TestCluster | undefined;
afterEach(async () => {
  await cl?.cleanup();
  cl = undefined;
});

const copies = (m: TestMember) => readdirSync(join(m.dataDir, "member")).filter((n) => /\.snap-.*\.tmp$/.test(n));

/** Counts the chunks read from the leader's state machine snapshot (the copy on disk). */
function countReads(m: TestMember): { pulled: number } {
  const counter = { pulled: 0 };
  const sm = m.server.loop.sm;
  const orig = sm.snapshot.bind(sm);
  sm.snapshot = () => {
    const it = orig()[Symbol.asyncIterator]();
    return {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          const r = await it.next();
          if (!r.done) counter.pulled++;
          return r;
        },
        return: (v?: unknown) => it.return!(v as never),
      }),
    };
  };
  return counter;
}

function transportOf(m: TestMember): PeerTransport {
  return (m.server as unknown as { o: { transport: PeerTransport } }).o.transport;
}

/** A 3-member cluster whose third member is down while the leader writes ~600 KB and compacts. */
async function lagging(): Promise<{ leader: TestMember; lag: TestMember }> {
  cl = await TestCluster.start(3, { snapshotCount: 20, catchUpEntries: 2 });
  const leader = cl.leader()!;
  const lag = cl.followers()[0]!;
  cl.net.down.add(lag.id);
  const big = "x".repeat(20_000);
  for (let i = 0; i < 30; i++) await cl.put(leader, `big${i}`, big);
  expect(leader.m!.log.firstIndex()).toBeGreaterThan(lag.server.loop.commitIndex() + 1); // needs a snapshot
  return { leader, lag };
}

test("the image streams: the transport gets it after one chunk was read; the copy is removed after", async () => {
  const { leader, lag } = await lagging();
  const reads = countReads(leader);
  const t = transportOf(leader);
  const orig = t.sendSnapshot.bind(t);
  const seen: { readAtSend: number; chunks: number }[] = [];
  t.sendSnapshot = (m: Message, image: () => AsyncIterable<Uint8Array>) => {
    const rec = { readAtSend: reads.pulled, chunks: 0 };
    seen.push(rec);
    orig(m, async function* () {
      for await (const c of image()) {
        rec.chunks++;
        yield c;
      }
    });
  };
  cl!.net.down.delete(lag.id);
  await cl!.until(() => lag.server.loop.sm.appliedIndex >= leader.server.loop.sm.appliedIndex);
  expect(seen.length).toBeGreaterThan(0);
  // The copy is taken (first chunk read) before the message is handed over; the rest is read
  // only as the transport pulls it. The image is many chunks (32 KiB each).
  expect(seen[0]!.readAtSend).toBe(1);
  expect(seen[0]!.chunks).toBeGreaterThan(10);
  // All data chunks were sent, the SHA-256 trailer was not.
  expect(reads.pulled).toBe(seen[0]!.chunks + 1);
  expect(await cl!.get(lag, "big29", true)).toBe("x".repeat(20_000));
  expect(copies(leader)).toEqual([]);
});

test("an image the transport never reads is removed when the send is reported failed", async () => {
  const { leader, lag } = await lagging();
  const t = transportOf(leader);
  const orig = t.sendSnapshot.bind(t);
  const dropped: Message[] = [];
  t.sendSnapshot = (m: Message) => {
    dropped.push(m);
  };
  cl!.net.down.delete(lag.id);
  await cl!.until(() => dropped.length > 0);
  const waiting = copies(leader);
  expect(waiting.length).toBe(1); // the consistent copy waits for the transport
  // The failure is reported (as the transport does when it cannot send); with the real send
  // back, raft sends a new snapshot and the member catches up. The first copy is gone.
  t.sendSnapshot = orig;
  leader.server.loop.reportSnapshot(dropped[0]!.to, false);
  await cl!.until(() => !copies(leader).includes(waiting[0]!) && lag.server.loop.sm.appliedIndex >= leader.server.loop.sm.appliedIndex);
  expect(await cl!.get(lag, "big0", true)).toBe("x".repeat(20_000));
  expect(copies(leader)).toEqual([]);
});

test("a MsgSnap the raft log refuses (an old term) leaves the follower's store untouched", async () => {
  const { leader, lag } = await lagging();
  const { writeFileSync } = await import("node:fs");
  const { msg, MessageType } = await import("../../src/raft/message.ts");
  const blobs: Uint8Array[] = [];
  for await (const r of leader.server.loop.sm.snapshot()) blobs.push(r.blob);
  const path = join(lag.dataDir, "member", "stale-image.tmp");
  writeFileSync(path, Buffer.concat(blobs.slice(0, -1)));
  const applied = lag.server.loop.sm.appliedIndex;
  const revision = lag.server.loop.sm.revision;
  const term = lag.server.loop.term();
  const l = leader.server.loop;
  const m = msg({
    type: MessageType.MsgSnap, from: leader.id, to: lag.id, term: term - 1,
    snapshot: { meta: { index: l.sm.appliedIndex, term: l.term(), confState: l.node.raft.prs.confState() }, data: new Uint8Array(0) },
  });
  await lag.server.receiveSnapshot(m, path);
  // Nothing replaced: same store, same raft log; the image file is gone.
  expect(lag.server.loop.sm.appliedIndex).toBe(applied);
  expect(lag.server.loop.sm.revision).toBe(revision);
  expect(lag.server.loop.snapshotsReceived).toBe(0);
  expect(lag.server.loop.node.raft.raftLog.committed).toBeLessThan(l.sm.appliedIndex);
  expect(readdirSync(join(lag.dataDir, "member")).includes("stale-image.tmp")).toBe(false);
  // The real catch-up still works afterwards.
  cl!.net.down.delete(lag.id);
  await cl!.until(() => lag.server.loop.sm.appliedIndex >= leader.server.loop.sm.appliedIndex);
  expect(lag.server.loop.snapshotsReceived).toBe(1);
});
