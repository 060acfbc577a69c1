// The peer port refuses anyone who is not a member before reading a body (etcd's 404 "error
// sender not found"), bounds what it buffers per body and per frame, and serves unix:// URLs.
import { expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { encodeBatch, peerLimitsFor } from "../../src/transport/index.ts";
import { seqMsg, useNodes } from "./harness.ts";

const node = useNodes();
const MEMBERS = new Set([1n, 2n]);
const isMember = (id: bigint) => MEMBERS.has(id);

/** Writes a raw HTTP/1.1 request head (and `body`) and resolves with the status line and body of the answer. */
function rawRequest(url: string, head: string, body = ""): Promise<{ status: number; text: string; ms: number }> {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => s.write(head + body));
    let got = "";
    s.setEncoding("latin1");
    s.on("data", (d: string) => {
      got += d;
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = /content-length: *([0-9]+)/i.exec(got.slice(0, end));
      const text = got.slice(end + 4);
      if (len !== null && text.length < Number(len[1])) return;
      s.destroy();
      resolve({ status: Number(got.slice(9, 12)), text, ms: performance.now() - t0 });
    });
    s.on("error", reject);
  });
}

const head = (path: string, from: string | undefined, extra: string) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nX-Etcd-Cluster-Id: c1\r\n${from === undefined ? "" : `X-Server-From: ${from}\r\n`}${extra}\r\n`;

test("a sender that is not a member is refused with 404 before its body is read; members are served", async () => {
  const a = await node({ id: 1n, handler: { isMember } });
  // A 100 MB body is announced and never sent: the answer cannot wait for it.
  const huge = await rawRequest(`${a.url}/raft`, head("/raft", "9", "Content-Length: 104857600\r\n"), "0123456789");
  expect(huge.status).toBe(404);
  expect(huge.text.trim()).toBe("error sender not found");
  expect(a.rec.receiveCalls).toBe(0);
  for (const path of ["/raft/snapshot", "/leases", "/members/promote/5"]) {
    expect((await rawRequest(`${a.url}${path}`, head(path, "9", "Content-Length: 104857600\r\n"), "x")).status).toBe(404);
  }
  const noFrom = await rawRequest(`${a.url}/raft`, head("/raft", undefined, "Content-Length: 0\r\n"));
  expect(noFrom).toMatchObject({ status: 404, text: "invalid from" });
  // A member's batch goes through.
  const batch = Buffer.from(encodeBatch([seqMsg(2n, 1n, 1)]));
  const ok = await rawRequest(`${a.url}/raft`, head("/raft", "2", `Content-Length: ${batch.length}\r\n`), batch.toString("latin1"));
  expect(ok.status).toBe(204);
  expect(a.rec.received.map((m) => m.from)).toEqual([2n]);
  // The refusal is logged (rarely: a flood must not fill the log).
  expect(a.rec.logs.map((l) => l.m)).toContain("failed to find member in cluster");
});

test("by default the members are the transport's peers: a sender becomes one with addPeer and stops being one with removePeer", async () => {
  const a = await node({ id: 1n, handler: { isMember: undefined } });
  const b = await node({ id: 2n, handler: { isMember: undefined } });
  b.t.addPeer(1n, [a.url]);
  b.t.send([seqMsg(2n, 1n, 1)]);
  await b.until(() => b.rec.unreachable.length > 0, "b refused by a");
  expect(a.rec.received.length).toBe(0);
  a.t.addPeer(2n, [b.url]);
  await a.until(() => {
    b.t.send([seqMsg(2n, 1n, 2)]);
    return a.rec.received.length > 0;
  }, "b accepted once a knows it");
  a.t.removePeer(2n);
  const batch = Buffer.from(encodeBatch([seqMsg(2n, 1n, 3)]));
  const r = await rawRequest(`${a.url}/raft`, head("/raft", "2", `Content-Length: ${batch.length}\r\n`), batch.toString("latin1"));
  expect(r).toMatchObject({ status: 404, text: "error sender not found" });
});

test("a stream upgrade from a non-member is refused with 404; a removed member gets 410", async () => {
  const a = await node({ id: 1n, handler: { isMember } });
  a.rec.removedIds.add(7n);
  const up = (from: string) =>
    rawRequest(a.url, `GET /raft/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: conclave-raft/1\r\nX-Etcd-Cluster-Id: c1\r\nX-Server-From: ${from}\r\nX-Raft-To: 1\r\n\r\n`);
  expect(await up("9")).toMatchObject({ status: 404, text: "error sender not found" });
  expect(await up("7")).toMatchObject({ status: 410, text: "the member has been permanently removed from the cluster" });
  // A member's stream carries messages.
  const b = await node({ id: 2n, handler: { isMember } });
  b.t.addPeer(1n, [a.url]);
  b.t.send([seqMsg(2n, 1n, 1)]);
  await a.until(() => a.rec.received.length === 1, "a message over the stream");
});

test("bodies and frames are bounded by what raft sends, not by 64-128 MiB", async () => {
  const l = peerLimitsFor(1.5 * 1024 * 1024);
  expect(l.maxFrameBytes).toBe(1024 * 1024 + 1.5 * 1024 * 1024 + 512 * 1024 + 64 * 1024);
  expect(l.maxReceiveBytes).toBe(4 * 1024 * 1024 + l.maxFrameBytes);
  const a = await node({ id: 1n, handler: { isMember }, limits: { maxReceiveBytes: 1000 } });
  const big = "x".repeat(1001);
  const r = await rawRequest(`${a.url}/raft`, head("/raft", "2", `Content-Length: ${big.length}\r\n`), big);
  expect(r.status).toBe(413);
  expect(a.rec.receiveCalls).toBe(0);
});

test("unix:// peer URLs: members listen on a socket file and exchange messages, by stream and by POST", async () => {
  const dir = (await node({ id: 99n })).tmpDir;
  const sa = `unix://${join(dir, "a.sock").replaceAll("/", "%2F")}`;
  // etcd's form is unix://host:port (a file named host:port in the working directory); a path
  // works the same once percent-encoded into the host.
  const a = await node({ id: 1n, handler: { isMember }, listen: sa });
  const b = await node({ id: 2n, handler: { isMember }, listen: `unix://${join(dir, "b.sock").replaceAll("/", "%2F")}` });
  expect(a.url.startsWith("unix://")).toBe(true);
  b.t.addPeer(1n, [a.url]);
  a.t.addPeer(2n, [b.url]);
  b.t.send([seqMsg(2n, 1n, 1)]);
  a.t.send([seqMsg(1n, 2n, 1)]);
  await a.until(() => a.rec.received.length === 1, "a message from b");
  await b.until(() => b.rec.received.length === 1, "a message from a");
  const c = await node({ id: 3n, streams: false, listen: `unix://${join(dir, "c.sock").replaceAll("/", "%2F")}` });
  c.t.addPeer(1n, [a.url]);
  c.t.send([seqMsg(3n, 1n, 5)]);
  // c is not a member of a's cluster: refused, never delivered.
  await c.until(() => c.rec.unreachable.length > 0, "c's POST refused");
  expect(a.rec.received.some((m) => m.from === 3n)).toBe(false);
});
