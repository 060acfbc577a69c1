// The websocket form of the gateway (etcd 3.4 wraps its gateway in grpc-websocket-proxy):
// each message is one request of the route, each answer line one text message. Every
// expectation holds for etcd 3.4.23 too (E2E_TARGET=etcd).
import { expect, test } from "bun:test";
import { connect } from "node:net";
import { b64, useMember, withTimeout } from "../helpers/index.ts";

const get = useMember();

/** A websocket with its messages and close event collected. */
async function open(path: string, protocols?: string[]) {
  const ws = new WebSocket(`ws://127.0.0.1:${get().member.clientPort}${path}`, protocols);
  const messages: string[] = [];
  let waiter: (() => void) | undefined;
  ws.onmessage = (e) => {
    messages.push(String(e.data));
    waiter?.();
  };
  const closed = new Promise<CloseEvent>((r) => (ws.onclose = (e) => r(e)));
  await withTimeout(new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j))), 5000, `websocket ${path} open`);
  const next = async (): Promise<any> => {
    if (messages.length === 0) await withTimeout(new Promise<void>((r) => (waiter = r)), 5000, `a message on ${path}`);
    return JSON.parse(messages.shift()!);
  };
  return { ws, next, closed, messages };
}

test("a watch over a websocket: created, events, cancel; the client's close is echoed (1000)", async () => {
  const { gw } = get();
  const w = await open("/v3/watch");
  w.ws.send(JSON.stringify({ create_request: { key: b64("ws-key") } }));
  const created = await w.next();
  expect(created.result.created).toBe(true);
  const id = created.result.watch_id ?? "0";
  await gw.put("ws-key", "v1");
  const ev = await w.next();
  expect(ev.result.events[0].kv.key).toBe(b64("ws-key"));
  expect(ev.result.events[0].kv.value).toBe(b64("v1"));
  w.ws.send(JSON.stringify({ cancel_request: { watch_id: id } }));
  expect((await w.next()).result.canceled).toBe(true);
  w.ws.close(1000);
  const c = await withTimeout(w.closed, 5000, "close echoed");
  expect([c.code, c.wasClean]).toEqual([1000, true]);
});

test("a unary route over a websocket answers its one request, then the connection is dropped (1006)", async () => {
  const { gw } = get();
  await gw.put("ws-unary", "u");
  const w = await open("/v3/kv/range");
  w.ws.send(JSON.stringify({ key: b64("ws-unary") }));
  const r = await w.next();
  expect(r.kvs[0].value).toBe(b64("u"));
  expect((await withTimeout(w.closed, 5000, "dropped")).code).toBe(1006);
});

test("an unknown route answers grpc-gateway's 'Not Found' as a message", async () => {
  const w = await open("/v3/nope");
  await withTimeout(w.closed, 5000, "closed");
  expect(w.messages).toEqual(["Not Found"]);
});

test("keepalive over a websocket, with the int64 ID as a JSON number", async () => {
  const { gw } = get();
  const grant = await gw.ok("/v3/lease/grant", { TTL: 30 });
  const w = await open("/v3/lease/keepalive");
  w.ws.send(`{"ID":${grant.ID}}`);
  const r = await w.next();
  expect(r.result.ID).toBe(grant.ID);
  expect(r.result.TTL).toBe("30");
  w.ws.close();
});

/** Sends a raw handshake and returns the first line of the answer. */
function handshake(head: string): Promise<string> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const s = connect(get().member.clientPort, "127.0.0.1", () => s.write(head));
      let got = "";
      s.on("data", (d) => {
        got += d.toString("latin1");
        if (got.includes("\r\n\r\n")) {
          s.destroy();
          resolve(got);
        }
      });
      s.on("error", reject);
    }),
    5000,
    "handshake answer",
  );
}

test("bad handshakes get gorilla/websocket's answers; a good one gets the RFC 6455 accept key", async () => {
  const base = "Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n";
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  const post = await handshake(`POST /v3/watch HTTP/1.1\r\n${base}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
  expect(post.split("\r\n")[0]).toBe("HTTP/1.1 405 Method Not Allowed");
  expect(post).toMatch(/\r\nSec-Websocket-Version: 13\r\n/i);
  const noVersion = await handshake(`GET /v3/watch HTTP/1.1\r\n${base}Sec-WebSocket-Key: ${key}\r\n\r\n`);
  expect(noVersion.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
  const ok = await handshake(`GET /v3/watch HTTP/1.1\r\n${base}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
  expect(ok.split("\r\n")[0]).toBe("HTTP/1.1 101 Switching Protocols");
  // RFC 6455 §1.3's example key and answer.
  expect(ok).toMatch(/\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
});

test("a 'Bearer' subprotocol is answered in kind", async () => {
  const w = await open("/v3/watch", ["Bearer", "sometoken"]);
  expect(w.ws.protocol).toBe("Bearer");
  w.ws.close();
});
