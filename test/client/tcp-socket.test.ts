// The client's cleartext socket over Bun.connect (src/client/tcp-socket.ts), against a real
// node:net server on loopback: what the HTTP/2 client relies on from node:net's Socket — every
// byte written arrives in order even when the kernel pushes back, received chunks stay intact
// after later reads, end() sends what is pending before the FIN, and close, error and refused
// connections are reported as node:net reports them.
import { afterEach, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { bunConnect, TcpSocket } from "../../src/client/tcp-socket.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function listen(onConn: (s: Socket) => void): Promise<number> {
  const srv = createServer(onConn);
  servers.push(srv);
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve((srv.address() as { port: number }).port)));
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const connect = bunConnect()!;

test("runs under Bun", () => {
  expect(connect).toBeDefined();
});

test("a write larger than the socket buffers arrives whole and in order, then drain", async () => {
  let received: Buffer[] = [];
  let done!: () => void;
  const ended = new Promise<void>((r) => (done = r));
  let peer!: Socket;
  const port = await listen((s) => {
    peer = s;
    s.pause(); // the kernel buffers fill, so Bun takes only part of the write
    s.on("data", (c) => received.push(c));
    s.on("end", () => done());
  });
  const sock = await TcpSocket.connect(connect, "127.0.0.1", port);
  let drained = 0;
  sock.on("drain", () => drained++);
  const a = pattern(16 << 20, 1);
  const b = pattern(1000, 7);
  expect(sock.write(a)).toBe(false);
  expect(sock.write(b)).toBe(false);
  sock.end();
  await new Promise((r) => setTimeout(r, 50));
  peer.resume();
  await ended;
  const all = Buffer.concat(received);
  received = [];
  expect(all.length).toBe(a.length + b.length);
  expect(all.subarray(0, a.length).equals(Buffer.from(a))).toBe(true);
  expect(all.subarray(a.length).equals(Buffer.from(b))).toBe(true);
  // end() waited for the pending bytes; no drain is announced to a socket that is ending.
  expect(drained).toBe(0);
});

test("drain follows a write the kernel could not take at once", async () => {
  let peer!: Socket;
  const port = await listen((s) => {
    peer = s;
    s.pause();
  });
  const sock = await TcpSocket.connect(connect, "127.0.0.1", port);
  const drained = new Promise<void>((r) => sock.on("drain", () => r()));
  expect(sock.write(pattern(16 << 20, 3))).toBe(false);
  await new Promise((r) => setTimeout(r, 20));
  peer.resume();
  await drained;
  expect(sock.write(new Uint8Array([1, 2, 3]))).toBe(true);
  sock.destroy();
});

test("chunks handed to the data listener keep their bytes after later reads", async () => {
  const payload = pattern(4 << 20, 5);
  const port = await listen((s) => {
    s.end(Buffer.from(payload));
  });
  const sock = await TcpSocket.connect(connect, "127.0.0.1", port);
  const chunks: Buffer[] = [];
  sock.on("data", (c) => chunks.push(c));
  await new Promise<void>((r) => sock.on("close", () => r()));
  expect(chunks.length).toBeGreaterThan(1);
  expect(Buffer.concat(chunks).equals(Buffer.from(payload))).toBe(true);
  expect(sock.destroyed).toBe(true);
});

test("the peer closing is reported once as close", async () => {
  const port = await listen((s) => s.destroy());
  const sock = await TcpSocket.connect(connect, "127.0.0.1", port);
  let closes = 0;
  await new Promise<void>((r) =>
    sock.on("close", () => {
      closes++;
      r();
    }),
  );
  expect(sock.destroyed).toBe(true);
  sock.destroy();
  await new Promise((r) => setTimeout(r, 20));
  expect(closes).toBe(1);
  expect(sock.write(new Uint8Array(1))).toBe(false);
});

test("destroy reports close after it returns, once", async () => {
  const port = await listen(() => {});
  const sock = await TcpSocket.connect(connect, "127.0.0.1", port);
  let closes = 0;
  sock.on("close", () => closes++);
  sock.destroy();
  expect(sock.destroyed).toBe(true);
  expect(closes).toBe(0);
  await new Promise((r) => setTimeout(r, 20));
  expect(closes).toBe(1);
});

test("a refused connection rejects with node:net's error code", async () => {
  const port = await listen(() => {});
  servers.pop()!.close();
  await new Promise((r) => setTimeout(r, 20));
  const err = await TcpSocket.connect(connect, "127.0.0.1", port).then(
    () => undefined,
    (e: unknown) => e as { code?: string },
  );
  expect(err?.code).toBe("ECONNREFUSED");
});
