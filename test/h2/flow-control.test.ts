import { test, expect } from "bun:test";
import type { H2Options } from "../../src/api/h2/index.ts";
import { Peer, frame, block, GET, T, F, u32, type Frame } from "./fake-peer.ts";

/** Answers every request with `size` octets (byte i = i % 251) and a grpc-status trailer. */
function big(size: number): H2Options {
  return {
    onStream(s) {
      s.onend = () => {
        s.respond([[":status", "200"]]);
        const body = new Uint8Array(size);
        for (let i = 0; i < size; i++) body[i] = i % 251;
        s.write(body);
        s.end([["grpc-status", "0"]]);
      };
    },
  };
}

const dataOf = (fs: Frame[]) => fs.filter((f) => f.type === T.DATA);
const octets = (fs: Frame[]) => dataOf(fs).reduce((n, f) => n + f.payload.length, 0);
const ended = (fs: Frame[]) => fs.some((f) => f.flags & F.END_STREAM);

test("a response larger than the default 64 KiB window completes once the client sends WINDOW_UPDATE", async () => {
  const size = 200 * 1024;
  const p = new Peer(big(size));
  await p.frames();
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(GET)));
  const first = await p.streamFrames();
  expect(octets(first)).toBe(65535);
  expect(ended(first)).toBe(false);
  expect(dataOf(first).every((f) => f.payload.length <= 16384)).toBe(true);
  // Nothing more without window.
  p.send(frame(T.PING, 0, 0, Buffer.alloc(8)));
  expect(octets(await p.streamFrames())).toBe(0);
  // The stream window alone is not enough: the connection window is also exhausted.
  p.send(frame(T.WINDOW_UPDATE, 0, 1, u32(size)));
  expect(octets(await p.streamFrames())).toBe(0);
  p.send(frame(T.WINDOW_UPDATE, 0, 0, u32(size)));
  const rest = await p.streamFrames();
  expect(octets(rest)).toBe(size - 65535);
  expect(rest.at(-1)!.type).toBe(T.HEADERS);
  expect(rest.at(-1)!.fields).toEqual([["grpc-status", "0"]]);
  expect(ended(rest)).toBe(true);
  const body = Buffer.concat(dataOf([...first, ...rest]).map((f) => f.payload));
  expect(body.every((b, i) => b === i % 251)).toBe(true);
});

test("SETTINGS_INITIAL_WINDOW_SIZE changes apply to open streams, including to below zero", async () => {
  const p = new Peer(big(100000));
  await p.frames();
  p.send(frame(T.WINDOW_UPDATE, 0, 0, u32(1 << 20)));
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(GET)));
  expect(octets(await p.streamFrames())).toBe(65535);
  // +10000 on the open stream.
  p.send(frame(T.SETTINGS, 0, 0, Buffer.from([0, 4, ...u32(65535 + 10000)])));
  expect(octets(await p.streamFrames())).toBe(10000);
  // Shrink by 20000: the stream window is now -20000; an update of 20000 brings it to 0.
  p.send(frame(T.SETTINGS, 0, 0, Buffer.from([0, 4, ...u32(65535 - 10000)])));
  p.send(frame(T.WINDOW_UPDATE, 0, 1, u32(20000)));
  expect(octets(await p.streamFrames())).toBe(0);
  p.send(frame(T.WINDOW_UPDATE, 0, 1, u32(100000)));
  const rest = await p.streamFrames();
  expect(octets(rest)).toBe(100000 - 75535);
  expect(ended(rest)).toBe(true);
});

test("a larger SETTINGS_MAX_FRAME_SIZE from the peer allows larger DATA frames", async () => {
  const p = new Peer(big(60000));
  await p.frames();
  p.send(frame(T.SETTINGS, 0, 0, Buffer.from([0, 5, ...u32(1 << 20)])));
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(GET)));
  const fs = await p.streamFrames();
  expect(dataOf(fs).map((f) => f.payload.length)).toEqual([60000]);
});

test("received data is acknowledged with WINDOW_UPDATE once half the stream window is consumed", async () => {
  const got: number[] = [];
  const p = new Peer({ initialWindowSize: 65536, onStream(s) { s.ondata = (c) => got.push(c.length); } });
  await p.frames();
  p.send(frame(T.HEADERS, F.END_HEADERS, 1, block(GET)));
  p.send(frame(T.DATA, 0, 1, Buffer.alloc(16000)), frame(T.DATA, 0, 1, Buffer.alloc(16000)));
  expect((await p.frames()).filter((f) => f.type === T.WINDOW_UPDATE)).toEqual([]);
  p.send(frame(T.DATA, 0, 1, Buffer.alloc(16000)));
  const wu = (await p.frames()).filter((f) => f.type === T.WINDOW_UPDATE);
  expect(wu.map((f) => [f.id, f.payload.readUInt32BE(0)])).toEqual([[1, 48000]]);
  expect(got).toEqual([16000, 16000, 16000]);
  // The window was replenished: a further 64000 octets are within it.
  for (let i = 0; i < 4; i++) p.send(frame(T.DATA, 0, 1, Buffer.alloc(16000)));
  expect((await p.frames()).some((f) => f.type === T.RST_STREAM)).toBe(false);
});

test("socket backpressure holds DATA until drain", async () => {
  const p = new Peer(big(500000));
  await p.frames();
  p.send(frame(T.SETTINGS, 0, 0, Buffer.from([0, 4, ...u32(1 << 24)])), frame(T.WINDOW_UPDATE, 0, 0, u32(1 << 24)));
  await p.frames();
  p.sock.full = true;
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(GET)));
  // The write that filled the buffer went out; the server then waits.
  const first = octets(await p.streamFrames());
  p.send(frame(T.PING, 0, 0, Buffer.alloc(8)));
  expect(octets(await p.streamFrames())).toBe(0);
  expect(first).toBeLessThan(500000);
  p.sock.full = false;
  p.sock.emit("drain");
  const rest = await p.streamFrames();
  expect(first + octets(rest)).toBe(500000);
  expect(ended(rest)).toBe(true);
});

test("drained() waits while DATA held back by flow control is over the high-water mark and resolves once it drained", async () => {
  const states: string[] = [];
  let stream: import("../../src/api/h2/index.ts").H2Stream | undefined;
  let drained: Promise<void> | null = null;
  const p = new Peer({
    limits: { streamHighWater: 32768, streamLowWater: 8192 },
    onStream(s) {
      s.ondrain = () => states.push("ondrain");
      stream = s;
      s.onend = () => {
        s.respond([[":status", "200"]]);
        s.write(new Uint8Array(16384));
        states.push(s.drained() === null ? "small: nothing waits" : "small: waits");
        s.write(new Uint8Array(100_000)); // beyond the 64 KiB window: 50849 octets wait
        drained = s.drained();
        states.push(drained === null ? "big: nothing waits" : "big: waits");
        states.push(s.writable ? "writable" : "not writable");
        void drained?.then(() => states.push("drained"));
      };
    },
  });
  await p.frames();
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(GET)));
  expect(octets(await p.streamFrames())).toBe(65535);
  expect(states).toEqual(["small: nothing waits", "big: waits", "not writable"]);
  p.send(frame(T.WINDOW_UPDATE, 0, 1, u32(1 << 20)));
  p.send(frame(T.WINDOW_UPDATE, 0, 0, u32(1 << 20)));
  expect(octets(await p.streamFrames())).toBe(116384 - 65535);
  await drained;
  expect(states).toEqual(["small: nothing waits", "big: waits", "not writable", "ondrain", "drained"]);
  expect(stream!.drained()).toBeNull();
  expect(stream!.writable).toBe(true);
});
