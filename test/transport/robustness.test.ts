// Deadlines, TLS with client-certificate auth, and shutdown.
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { fixtureTls, seqMsg, startNode, useNodes } from "./harness.ts";

const node = useNodes();
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** Accepts connections and never answers: a peer that hangs. */
async function blackHole(): Promise<string> {
  const sockets: Socket[] = [];
  const srv = createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
  });
  srv.on("close", () => sockets.forEach((s) => s.destroy()));
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

test("a peer that never answers is abandoned at the deadline and the next URL is used", async () => {
  const a = await node({ id: 1n, limits: { requestTimeoutMs: 200, backoffMinMs: 10 } });
  const b = await node({ id: 2n });
  a.t.addPeer(2n, [await blackHole(), b.url]);
  const start = performance.now();
  a.t.send([seqMsg(1n, 2n, 0)]);
  await a.until(() => a.rec.unreachable.length === 1, "timeout reported as unreachable");
  expect(performance.now() - start).toBeGreaterThanOrEqual(190);
  a.t.send([seqMsg(1n, 2n, 1)]);
  await b.until(() => b.rec.received.length === 1, "delivery on the other URL");
  expect(b.rec.received[0]!.index).toBe(1);
});

test("a lease request to a hanging leader fails at the deadline", async () => {
  const a = await node({ id: 1n, limits: { requestTimeoutMs: 150 } });
  a.t.addPeer(2n, [await blackHole()]);
  const start = performance.now();
  const e = await a.t.leaseRenew(2n, 1n).catch((x: unknown) => x);
  expect((e as Error).name).toBe("PeerRequestError");
  expect((e as Error).message).toContain("timed out");
  expect(performance.now() - start).toBeGreaterThanOrEqual(140);
});

const fixture = (f: string) => readFileSync(join(import.meta.dir, "fixtures", f));

test("https peers with client-certificate auth exchange messages; a stranger's certificate is refused", async () => {
  const peerTls = await fixtureTls("peer.pem", "peer-key.pem", { ca: "ca.pem", clientCertAuth: true });
  const a = await node({ id: 1n, listen: "https://127.0.0.1:0", tls: peerTls });
  const b = await node({ id: 2n, listen: "https://127.0.0.1:0", tls: peerTls });
  expect(b.url.startsWith("https://127.0.0.1:")).toBe(true);
  a.t.addPeer(2n, [b.url]);
  a.t.send([seqMsg(1n, 2n, 0), seqMsg(1n, 2n, 1)]);
  await b.until(() => b.rec.received.length === 2, "delivery over TLS");
  expect(b.rec.received.map((m) => m.index)).toEqual([0, 1]);

  const stranger = await node({
    id: 3n, listen: "https://127.0.0.1:0",
    tls: await fixtureTls("stranger.pem", "stranger-key.pem", { ca: "ca.pem" }),
  });
  stranger.t.addPeer(2n, [b.url]);
  stranger.t.send([seqMsg(3n, 2n, 9)]);
  await stranger.until(() => stranger.rec.unreachable.length === 1, "handshake refused");
  expect(b.rec.received.length).toBe(2);
  // Without any client certificate the handshake fails too; the CA alone is not enough.
  const bare = await new Promise<string>((resolve) => {
    const q = request(new URL("/version", b.url), { ca: fixture("ca.pem") }, (r) => resolve(`HTTP ${r.statusCode}`));
    q.on("error", () => resolve("refused"));
    q.end();
  });
  expect(bare).toBe("refused");
});

test("close stops the listener and later sends are ignored", async () => {
  const a = await node({ id: 1n });
  const b = await startNode({ id: 2n });
  a.t.addPeer(2n, [b.url]);
  a.t.send([seqMsg(1n, 2n, 0)]);
  await b.until(() => b.rec.received.length === 1, "delivery");
  await b.close();
  await b.t.close(); // idempotent
  b.t.send([seqMsg(2n, 1n, 0)]);
  const refused = await fetch(`${b.url}/version`).then(
    () => "answered",
    () => "refused",
  );
  expect(refused).toBe("refused");
  expect(a.rec.received).toEqual([]);
});
