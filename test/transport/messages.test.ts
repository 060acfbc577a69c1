// Message batches between two transports: order, batching, refusals and bad input.
import { expect, test } from "bun:test";
import { encodeMessage } from "../../src/raft/codec.ts";
import { msg, MessageType } from "../../src/raft/message.ts";
import { encodeBatch, Texts } from "../../src/transport/index.ts";
import { rawPost, seqMsg, startNode, useNodes } from "./harness.ts";

const node = useNodes();
const headers = (cluster: string, from: string) => ({
  "x-etcd-cluster-id": cluster, "x-server-from": from, "x-server-version": "3.4.23",
});

test("thousands of messages arrive in order, in far fewer requests than messages", async () => {
  const a = await node({ id: 1n });
  const b = await node({ id: 2n });
  a.t.addPeer(2n, [b.url]);
  const total = 5000;
  const payload = new Uint8Array(100).fill(7);
  for (let i = 0; i < total; i += 50) {
    a.t.send(Array.from({ length: 50 }, (_, k) => seqMsg(1n, 2n, i + k, payload)));
    // Give the event loop a turn now and then so batches form while others are in flight.
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  await b.until(() => b.rec.received.length === total, "all messages");
  expect(b.rec.received.map((m) => m.index)).toEqual(Array.from({ length: total }, (_, i) => i));
  expect(b.rec.received[10]!.entries[0]!.data).toEqual(payload);
  expect(b.rec.receiveCalls).toBeGreaterThan(1);
  expect(b.rec.receiveCalls).toBeLessThan(total / 10);
  expect(a.t.activeSince(2n)).toBeGreaterThanOrEqual(0);
  expect(a.t.activeSince(3n)).toBeUndefined();
});

test("a request with another cluster ID is refused with etcd's text and nothing is delivered", async () => {
  const a = await node({ id: 1n, clusterId: 0xaaan });
  const b = await node({ id: 2n, clusterId: 0xbbbn });
  a.t.addPeer(2n, [b.url]);
  a.t.send([seqMsg(1n, 2n, 1)]);
  await a.until(() => a.rec.unreachable.length > 0, "unreachable after mismatch");
  const err = a.rec.logs.find((l) => l.level === "error");
  expect(err?.m).toContain("cluster ID mismatch");
  expect(err?.m).toContain("bbb");
  expect(err?.m).toContain("aaa");
  const raw = await rawPost(`${b.url}/raft`, encodeBatch([seqMsg(1n, 2n, 1)]), headers("aaa", "1"));
  expect(raw).toEqual({ status: 412, text: Texts.clusterMismatch });
  const missing = await rawPost(`${b.url}/raft`, encodeBatch([seqMsg(1n, 2n, 1)]), {});
  expect(missing.status).toBe(412);
  expect(b.rec.received).toEqual([]);
  expect(a.rec.removedCalls).toBe(0);
});

test("a removed sender gets 410 and its transport reports onRemoved", async () => {
  const a = await node({ id: 1n });
  const b = await node({ id: 2n });
  b.rec.removedIds.add(1n);
  a.t.addPeer(2n, [b.url]);
  a.t.send([seqMsg(1n, 2n, 1)]);
  await a.until(() => a.rec.removedCalls > 0, "onRemoved");
  expect(a.rec.removedCalls).toBe(1);
  expect(b.rec.received).toEqual([]);
  const raw = await rawPost(`${b.url}/raft`, encodeBatch([seqMsg(1n, 2n, 1)]), headers("c1", "1"));
  expect(raw).toEqual({ status: 410, text: Texts.removed });
});

test("malformed bodies get 400, deliver nothing, and the server keeps serving", async () => {
  const a = await node({ id: 1n });
  const b = await node({ id: 2n });
  const h = headers("c1", "1");
  const good = encodeMessage(seqMsg(1n, 2n, 1));
  const frame = (bytes: Uint8Array, len = bytes.length) => {
    const out = new Uint8Array(4 + bytes.length);
    new DataView(out.buffer).setUint32(0, len);
    out.set(bytes, 4);
    return out;
  };
  const bodies: Uint8Array[] = [
    new Uint8Array([1, 2, 3]), // truncated frame header
    frame(good, good.length + 10), // frame overruns the body
    frame(new Uint8Array([9, 9, 9, 9])), // unknown codec version
    frame(good.subarray(0, good.length - 1)), // truncated message
    new Uint8Array([...frame(good), ...frame(encodeMessage(msg({ type: MessageType.MsgHup, to: 2n })))]), // local type
    frame(encodeMessage(msg({ type: MessageType.MsgSnap, to: 2n, from: 1n }))), // MsgSnap off its route
  ];
  for (const body of bodies) {
    const r = await rawPost(`${b.url}/raft`, body, h);
    expect(r.status).toBe(400);
  }
  const snap = await rawPost(`${b.url}/raft/snapshot`, frame(good), h);
  expect(snap.status).toBe(400);
  const lease = await rawPost(`${b.url}/leases`, "{not json", h);
  expect(lease.status).toBe(400);
  expect(b.rec.received).toEqual([]);
  // Still serving: an empty batch is fine and a real one arrives.
  expect((await rawPost(`${b.url}/raft`, new Uint8Array(0), h)).status).toBe(204);
  a.t.addPeer(2n, [b.url]);
  a.t.send([seqMsg(1n, 2n, 42)]);
  await b.until(() => b.rec.received.length === 1, "delivery after bad input");
  expect(b.rec.received[0]!.index).toBe(42);
});

test("a peer that is down: onUnreachable, growing backoff, then delivery once it is up", async () => {
  const a = await node({ id: 1n });
  // Find a port, then free it so the peer is down.
  const probe = await startNode({ id: 2n });
  const url = probe.url;
  await probe.close();
  a.t.addPeer(2n, [url]);
  const times: number[] = [];
  const seen = () => {
    while (times.length < a.rec.unreachable.length) times.push(performance.now());
    return times.length;
  };
  a.t.send([seqMsg(1n, 2n, 0)]);
  // Keep a message queued so each backoff expiry makes another attempt.
  await a.until(() => seen() >= 1, "first failure");
  a.t.send([seqMsg(1n, 2n, 1)]);
  await a.until(() => seen() >= 2, "second failure");
  a.t.send([seqMsg(1n, 2n, 2)]);
  await a.until(() => seen() >= 3, "third failure");
  expect(a.rec.unreachable.every((id) => id === 2n)).toBe(true);
  // Backoff doubles: ≥100 ms before the 2nd attempt, ≥200 ms before the 3rd (timer slack allowed).
  expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(90);
  expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(180);
  expect(a.t.activeSince(2n)).toBeUndefined();
  const b = await node({ id: 2n, listen: url });
  a.t.send([seqMsg(1n, 2n, 3)]);
  await b.until(() => b.rec.received.some((m) => m.index === 3), "delivery after the peer came up");
  // One request in flight per peer: once a later message arrives, the earlier answer was seen.
  a.t.send([seqMsg(1n, 2n, 4)]);
  await b.until(() => b.rec.received.some((m) => m.index === 4), "a second delivery");
  expect(a.t.activeSince(2n)).toBeGreaterThanOrEqual(0);
});

test("the queue is bounded: the oldest messages are dropped while a peer is unreachable", async () => {
  const a = await node({ id: 1n, limits: { maxQueue: 10, backoffMinMs: 50 } });
  const probe = await startNode({ id: 2n });
  const url = probe.url;
  await probe.close();
  a.t.addPeer(2n, [url]);
  a.t.send([seqMsg(1n, 2n, 0)]);
  await a.until(() => a.rec.unreachable.length >= 1, "first failure");
  // During the backoff 100 messages queue; only the newest 10 survive.
  a.t.send(Array.from({ length: 100 }, (_, i) => seqMsg(1n, 2n, 100 + i)));
  const b = await node({ id: 2n, listen: url });
  await b.until(() => b.rec.received.length === 10, "the surviving messages");
  expect(b.rec.received.map((m) => m.index)).toEqual(Array.from({ length: 10 }, (_, i) => 190 + i));
});

test("a second URL is tried after the first fails", async () => {
  const a = await node({ id: 1n, limits: { backoffMinMs: 10 } });
  const b = await node({ id: 2n });
  const probe = await startNode({ id: 3n });
  const dead = probe.url;
  await probe.close();
  a.t.addPeer(2n, [dead, b.url]);
  a.t.send([seqMsg(1n, 2n, 0)]);
  await a.until(() => a.rec.unreachable.length >= 1, "failure on the dead URL");
  a.t.send([seqMsg(1n, 2n, 1)]);
  await b.until(() => b.rec.received.length === 1, "delivery on the second URL");
  expect(b.rec.received[0]!.index).toBe(1);
});

test("a request meant for another member is refused with 412 and nothing is delivered", async () => {
  const a = await node({ id: 1n });
  const b = await node({ id: 2n });
  // Member 3's URL points at member 2 (a misconfigured cluster).
  a.t.addPeer(3n, [b.url]);
  a.t.send([seqMsg(1n, 3n, 1)]);
  await a.until(() => a.rec.unreachable.length === 1, "refusal");
  expect(a.rec.unreachable).toEqual([3n]);
  expect(a.rec.logs.find((l) => l.level === "error")?.m).toContain("not 3");
  const raw = await rawPost(`${b.url}/raft`, encodeBatch([seqMsg(1n, 2n, 1)]), { ...headers("c1", "1"), "x-raft-to": "3" });
  expect(raw).toEqual({ status: 412, text: Texts.toMismatch });
  expect(b.rec.received).toEqual([]);
});
