// A kept-alive connection the peer dropped while idle must not cost a request.
import { afterEach, expect, test } from "bun:test";
import { createServer, type AddressInfo, type Server } from "node:net";
import { startNode, type Node } from "./harness.ts";

let server: Server | undefined;
let node: Node | undefined;
afterEach(async () => {
  server?.close();
  await node?.close();
});

/**
 * An HTTP/1.1 peer that answers the first request on each connection with keep-alive and then
 * resets the connection when a second request arrives on it: a stale pooled socket, every time.
 */
async function resettingPeer(): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  server = createServer((sock) => {
    connections++;
    let buf = Buffer.alloc(0);
    let answered = false;
    sock.on("error", () => {});
    sock.on("data", (d) => {
      if (answered) return void sock.resetAndDestroy();
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = Number(/content-length: *(\d+)/i.exec(buf.subarray(0, end).toString())?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      answered = true;
      const body = '{"TTL":"60"}';
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, connections: () => connections };
}

test("a request on a reset pooled socket is retried once on a new connection", async () => {
  const peer = await resettingPeer();
  node = await startNode({ id: 1n });
  node.t.addPeer(2n, [peer.url]);
  for (let i = 0; i < 3; i++) expect(await node.t.leaseRenew(2n, 5n)).toBe(60);
  expect(peer.connections()).toBeGreaterThanOrEqual(3);
});
