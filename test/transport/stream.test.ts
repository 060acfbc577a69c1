// Raft messages over long-lived upgraded streams: batching and order, partial frames, refusals
// before the upgrade, reconnection, the POST fallback for members without streams, bad frames,
// backpressure and TLS.
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { encodeMessage } from "../../src/raft/codec.ts";
import { msg, MessageType, type Message } from "../../src/raft/message.ts";
import { FrameDecoder, STREAM_PROTOCOL, Texts } from "../../src/transport/index.ts";
import { dialStream } from "../../src/transport/stream-client.ts";
import { frameBatch } from "../../src/transport/wire.ts";
import { fixtureTls, seqMsg, startNode, type Node, useNodes } from "./harness.ts";

const node = useNodes();
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

const ESTABLISHED = "established a TCP streaming connection with remote peer";
const LOST = "lost TCP streaming connection with remote peer";
const count = (n: Node, m: string) => n.rec.logs.filter((l) => l.m === m).length;
const identity = (cluster: string, from: string, to: string) => ({
  "x-etcd-cluster-id": cluster, "x-server-from": from, "x-raft-to": to, "x-server-version": "3.4.23",
});
const dial = (url: string, headers: Record<string, string>) => dialStream(new URL(url), headers, undefined, 2000).result;

test("thousands of messages keep their order over the stream, in far fewer writes than messages", async () => {
  const a = await node({ id: 1n });
  const b = await node({ id: 2n });
  a.t.addPeer(2n, [b.url]);
  await a.until(() => count(a, ESTABLISHED) === 1, "stream established");
  expect(a.t.activeSince(2n)).toBe(0);
  const total = 5000;
  const payload = new Uint8Array(100).fill(7);
  for (let i = 0; i < total; i += 50) {
    a.t.send(Array.from({ length: 50 }, (_, k) => seqMsg(1n, 2n, i + k, payload)));
    a.t.send([]); // several sends in one job still make one write
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  await b.until(() => b.rec.received.length === total, "all messages");
  expect(b.rec.received.map((m) => m.index)).toEqual(Array.from({ length: total }, (_, i) => i));
  expect(b.rec.received[4321]!.entries[0]!.data).toEqual(payload);
  const st = a.t.peerStats!(2n)!;
  expect(st.streaming).toBe(true);
  expect(st.posts).toBe(0);
  expect(st.streamWrites).toBeGreaterThan(0);
  expect(st.streamWrites).toBeLessThanOrEqual(10);
  expect(b.rec.receiveCalls).toBeLessThan(total / 10);
  expect(a.t.activeSince(2n)).toBe(0);
});

test("the frame decoder reassembles frames split at every byte and several frames per chunk", () => {
  const msgs: Message[] = Array.from({ length: 40 }, (_, i) => seqMsg(1n, 2n, i, i % 3 === 0 ? new Uint8Array(i * 7).fill(i) : undefined));
  const bytes = Buffer.from(frameBatch(msgs.map(encodeMessage)));
  // Chunk sizes 1, 2, 3, ... cut headers and bodies at every possible offset over the run.
  for (const step of [1, 2, 3, 5, 13, 64, 1000, bytes.length]) {
    const d = new FrameDecoder(1 << 20);
    const out: Message[] = [];
    let calls = 0;
    for (let pos = 0, n = 1; pos < bytes.length; pos += n, n = (n % step) + 1) {
      d.push(bytes.subarray(pos, Math.min(bytes.length, pos + n)), out);
      calls++;
    }
    expect(out.map((m) => m.index)).toEqual(msgs.map((m) => m.index));
    expect(out[9]!.entries[0]!.data).toEqual(new Uint8Array(63).fill(9));
    expect(d.pending).toBe(0);
    expect(calls).toBeGreaterThan(0);
  }
  // A frame longer than the limit is refused as soon as its header is seen.
  const big = new FrameDecoder(16);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(17);
  expect(() => big.push(header, [])).toThrow("exceeds the limit");
});

test("frames written a few bytes at a time on a raw stream are delivered whole and in order", async () => {
  const b = await node({ id: 2n });
  const r = await dial(b.url, identity("c1", "1", "2"));
  if (!r.ok) throw new Error(`upgrade refused: ${r.response.status}`);
  const bytes = frameBatch(Array.from({ length: 30 }, (_, i) => encodeMessage(seqMsg(1n, 2n, i, new Uint8Array(50).fill(i)))));
  for (let pos = 0; pos < bytes.length; pos += 7) {
    r.socket.write(bytes.subarray(pos, pos + 7));
    if (pos % 70 === 0) await new Promise((res) => setImmediate(res));
  }
  await b.until(() => b.rec.received.length === 30, "all frames");
  expect(b.rec.received.map((m) => m.index)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  expect(b.rec.received[29]!.entries[0]!.data).toEqual(new Uint8Array(50).fill(29));
  r.socket.destroy();
});

test("another cluster, a removed sender and a wrong receiver are refused without an upgrade", async () => {
  const b = await node({ id: 2n });
  b.rec.removedIds.add(5n);
  const mismatch = await dial(b.url, identity("aaa", "1", "2"));
  expect(mismatch.ok).toBe(false);
  if (mismatch.ok) return;
  expect(mismatch.response.status).toBe(412);
  expect(mismatch.response.body.toString()).toBe(Texts.clusterMismatch);
  expect(mismatch.response.headers["x-etcd-cluster-id"]).toBe("c1");
  const removed = await dial(b.url, identity("c1", "5", "2"));
  expect(removed.ok ? 101 : [removed.response.status, removed.response.body.toString()]).toEqual([410, Texts.removed]);
  const wrongTo = await dial(b.url, identity("c1", "1", "3"));
  expect(wrongTo.ok ? 101 : [wrongTo.response.status, wrongTo.response.body.toString()]).toEqual([412, Texts.toMismatch]);
  const accepted = await dial(b.url, identity("c1", "1", "2"));
  expect(accepted.ok).toBe(true); // the control: the same request with good headers upgrades
  if (accepted.ok) accepted.socket.destroy();
  expect(b.rec.received).toEqual([]);

  // Through the transports: the sender logs or reports as for POST /raft and never streams.
  const foreign = await node({ id: 1n, clusterId: 0xaaan });
  foreign.t.addPeer(2n, [b.url]);
  await foreign.until(() => foreign.rec.logs.some((l) => l.level === "error" && l.m.includes("cluster ID mismatch")), "mismatch logged");
  const gone = await node({ id: 5n });
  gone.t.addPeer(2n, [b.url]);
  await gone.until(() => gone.rec.removedCalls === 1, "onRemoved from the upgrade answer");
  for (const n of [foreign, gone]) {
    expect(n.t.peerStats!(2n)!.streamsOpened).toBe(0);
    expect(count(n, ESTABLISHED)).toBe(0);
  }
  expect(b.rec.received).toEqual([]);
});

test("a peer that goes down and comes back: unreachable, POST meanwhile, then a new stream", async () => {
  const a = await node({ id: 1n, limits: { backoffMinMs: 20, backoffMaxMs: 100 } });
  const b1 = await startNode({ id: 2n });
  const url = b1.url;
  a.t.addPeer(2n, [url]);
  await a.until(() => count(a, ESTABLISHED) === 1, "first stream");
  a.t.send([seqMsg(1n, 2n, 0)]);
  await b1.until(() => b1.rec.received.length === 1, "delivery on the first stream");
  await b1.close();
  await a.until(() => count(a, LOST) === 1 && a.rec.unreachable.includes(2n), "stream loss reported");
  expect(a.t.peerStats!(2n)!.streaming).toBe(false);
  // While the peer is down, messages go to POST /raft, which fails: reported, dropped, retried.
  a.t.send([seqMsg(1n, 2n, 1)]);
  await a.until(() => a.rec.unreachable.length >= 2, "POST failure while down");
  expect(a.t.peerStats!(2n)!.posts).toBeGreaterThan(0);
  const b2 = await node({ id: 2n, listen: url });
  await a.until(() => count(a, ESTABLISHED) === 2, "stream re-established");
  a.t.send([seqMsg(1n, 2n, 2), seqMsg(1n, 2n, 3)]);
  await b2.until(() => b2.rec.received.some((m) => m.index === 3), "delivery on the new stream");
  const got = b2.rec.received.map((m) => m.index).filter((i) => i >= 2);
  expect(got).toEqual([2, 3]);
  expect(a.t.peerStats!(2n)!.streamsOpened).toBe(2);
  expect(a.t.activeSince(2n)).toBe(0);
});

test("a peer that does not list the sender yet (404 sender not found) is asked again; the stream opens without traffic", async () => {
  // The receiver decides membership from its own peer table, which is empty at first: a member
  // starting before its peers have added it. Nothing is ever sent: followers do not message each
  // other, yet the stream must come up (etcd's health check and active-peer gauge count it).
  const b = await node({ id: 2n, handler: { isMember: undefined } });
  const a = await node({ id: 1n, limits: { backoffMinMs: 20, backoffMaxMs: 100 } });
  a.t.addPeer(2n, [b.url]);
  await b.until(() => b.rec.logs.some((l) => l.m === "failed to find member in cluster"), "first upgrade refused");
  await new Promise((r) => setTimeout(r, 150));
  expect(count(a, ESTABLISHED)).toBe(0);
  b.t.addPeer(1n, [a.url]);
  await a.until(() => count(a, ESTABLISHED) === 1, "stream after the peer lists the sender");
  expect(a.t.peerStats!(2n)!).toMatchObject({ streaming: true, posts: 0 });
  expect(a.rec.logs.some((l) => l.m.startsWith("peer does not accept message streams"))).toBe(false);
  expect(a.t.connectedFor(2n)).toBeGreaterThanOrEqual(0);
});

test("a peer without streams (404 to the upgrade) keeps working over POST /raft", async () => {
  const a = await node({ id: 1n });
  const old = await node({ id: 2n, streams: false });
  const raw = await dial(old.url, identity("c1", "1", "2"));
  expect(raw.ok ? 101 : raw.response.status).toBe(404);
  a.t.addPeer(2n, [old.url]);
  await a.until(() => a.rec.logs.some((l) => l.m.startsWith("peer does not accept message streams")), "refusal noted");
  for (let i = 0; i < 300; i += 30) a.t.send(Array.from({ length: 30 }, (_, k) => seqMsg(1n, 2n, i + k)));
  await old.until(() => old.rec.received.length === 300, "all messages over POST");
  expect(old.rec.received.map((m) => m.index)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  const st = a.t.peerStats!(2n)!;
  expect(st).toMatchObject({ streaming: false, streamsOpened: 0, streamWrites: 0 });
  expect(st.posts).toBeGreaterThan(0);
  expect(a.rec.unreachable).toEqual([]);
  // And it sends to a member with streams over POST too (it never dials one).
  old.t.addPeer(1n, [a.url]);
  old.t.send([seqMsg(2n, 1n, 7)]);
  await a.until(() => a.rec.received.length === 1, "delivery from the member without streams");
  expect(old.t.peerStats!(1n)!.streamsOpened).toBe(0);
});

test("a malformed or oversized frame closes only that stream; other streams keep delivering", async () => {
  const b = await node({ id: 2n, limits: { maxFrameBytes: 4096 } });
  const a = await node({ id: 1n });
  a.t.addPeer(2n, [b.url]);
  await a.until(() => count(a, ESTABLISHED) === 1, "a's stream");
  const bad = async (bytes: Uint8Array) => {
    const r = await dial(b.url, identity("c1", "3", "2"));
    if (!r.ok) throw new Error("upgrade refused");
    const closed = new Promise<void>((res) => r.socket.once("close", () => res()));
    r.socket.on("error", () => {});
    r.socket.write(bytes);
    await closed;
  };
  const good = encodeMessage(seqMsg(3n, 2n, 100));
  // A good frame, then garbage in the same write: the good one is delivered, then the stream closes.
  await bad(new Uint8Array([...frameBatch([good]), ...frameBatch([new Uint8Array([9, 9, 9, 9])])]));
  await bad(frameBatch([encodeMessage(msg({ type: MessageType.MsgHup, from: 3n, to: 2n }))])); // local type
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 5000);
  await bad(header); // beyond maxFrameBytes: closed before the body arrives
  expect(b.rec.logs.filter((l) => l.m === "closed a raft message stream after a malformed frame").length).toBe(3);
  expect(b.rec.received.map((m) => m.index)).toEqual([100]);
  a.t.send([seqMsg(1n, 2n, 1)]);
  await b.until(() => b.rec.received.length === 2, "a's stream still delivers");
  expect(b.rec.received[1]!.index).toBe(1);
  expect(a.t.peerStats!(2n)!).toMatchObject({ streaming: true, streamsOpened: 1, posts: 0 });
  expect(count(a, LOST)).toBe(0);
});

/** Accepts the upgrade and then does not read until `resume`: a peer whose socket fills up. */
async function stalledPeer(): Promise<{ url: string; resume(): void; received: Message[]; until(cond: () => boolean): Promise<void> }> {
  const received: Message[] = [];
  let sock: Socket | undefined;
  let wake = () => {};
  const srv = createServer((s) => {
    s.on("error", () => {});
    s.once("data", () => {
      sock = s;
      s.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_PROTOCOL}\r\n\r\n`);
      s.pause();
      const d = new FrameDecoder(1 << 24);
      s.on("data", (c: Buffer) => {
        d.push(c, received);
        wake();
      });
    });
  });
  servers.push(srv);
  srv.on("close", () => sock?.destroy());
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    resume: () => sock!.resume(),
    received,
    until: (cond) =>
      new Promise<void>((res) => {
        wake = () => {
          if (cond()) res();
        };
        wake();
      }),
  };
}

test("backpressure: a full stream holds messages in the bounded queue, oldest dropped, order kept", async () => {
  const a = await node({ id: 1n, limits: { maxQueue: 8 } });
  const peer = await stalledPeer();
  a.t.addPeer(2n, [peer.url]);
  await a.until(() => count(a, ESTABLISHED) === 1, "stream to the stalled peer");
  const payload = new Uint8Array(256 * 1024).fill(1);
  let sent = 0;
  // Until the socket pushes back and the queue overflows (bounded by 400 sends of 256 KiB).
  while (a.t.peerStats!(2n)!.dropped === 0 && sent < 400) {
    a.t.send([seqMsg(1n, 2n, sent++, payload)]);
    await new Promise((r) => setImmediate(r));
  }
  const st = a.t.peerStats!(2n)!;
  expect(st.dropped).toBeGreaterThan(0);
  expect(st.streamWrites).toBeLessThan(sent);
  // 40 more go to the queue, where only the newest 8 survive; then the peer reads everything.
  for (let i = 0; i < 40; i++) a.t.send([seqMsg(1n, 2n, sent++, payload)]);
  peer.resume();
  await peer.until(() => peer.received.at(-1)?.index === sent - 1);
  const idx = peer.received.map((m) => m.index);
  expect(idx).toEqual([...idx].sort((x, y) => x - y));
  expect(idx.slice(-8)).toEqual(Array.from({ length: 8 }, (_, i) => sent - 8 + i));
  expect(a.t.peerStats!(2n)!.posts).toBe(0);
});

test("streams work over https with client-certificate auth", async () => {
  const tls = await fixtureTls("peer.pem", "peer-key.pem", { ca: "ca.pem", clientCertAuth: true });
  const a = await node({ id: 1n, listen: "https://127.0.0.1:0", tls });
  const b = await node({ id: 2n, listen: "https://127.0.0.1:0", tls });
  a.t.addPeer(2n, [b.url]);
  await a.until(() => count(a, ESTABLISHED) === 1, "TLS stream");
  a.t.send(Array.from({ length: 100 }, (_, i) => seqMsg(1n, 2n, i)));
  await b.until(() => b.rec.received.length === 100, "delivery over the TLS stream");
  expect(b.rec.received.map((m) => m.index)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  expect(a.t.peerStats!(2n)).toMatchObject({ streaming: true, posts: 0 });
});

test("a stream whose writes go unacknowledged past the deadline is closed; a live one is not", async () => {
  const a = await node({ id: 1n, limits: { requestTimeoutMs: 300, backoffMinMs: 1000 } });
  const peer = await stalledPeer();
  a.t.addPeer(2n, [peer.url]);
  await a.until(() => count(a, ESTABLISHED) === 1, "stream to the stalled peer");
  const start = performance.now();
  a.t.send([seqMsg(1n, 2n, 0)]);
  await a.until(() => count(a, LOST) === 1, "stalled stream closed");
  expect(performance.now() - start).toBeGreaterThanOrEqual(290);
  expect(a.rec.logs.some((l) => l.m.startsWith("raft message stream not acknowledged"))).toBe(true);
  expect(a.rec.unreachable).toContain(2n);

  // A live receiver acknowledges: writes spread over several deadlines keep the stream.
  const c = await node({ id: 3n });
  a.t.addPeer(3n, [c.url]);
  await a.until(() => count(a, ESTABLISHED) === 2, "stream to a live peer");
  for (let i = 0; i < 4; i++) {
    a.t.send([seqMsg(1n, 3n, i)]);
    await c.until(() => c.rec.received.length === i + 1, `delivery ${i}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(a.t.peerStats!(3n)).toMatchObject({ streaming: true, streamsOpened: 1, posts: 0 });
  expect(count(a, LOST)).toBe(1);
});
