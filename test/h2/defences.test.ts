// The engine's defences, one by one, on a scripted connection with a hand-moved clock: each
// test drives the abuse past its limit and checks the exact answer (GOAWAY code, RST_STREAM,
// 431, paused reading), and that just below the limit nothing happens.
import { describe, expect, test } from "bun:test";
import { ErrorCode, type H2Options, type H2Stream } from "../../src/api/h2/index.ts";
import { block, F, FakeClock, frame, GET, goawayCode, goawayText, Peer, T, u32, type Frame } from "./fake-peer.ts";

const GET_PATH = (path: string): Array<[string, string]> => [[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "a"]];

/** Holds every stream open until the test ends it; records what the engine reported. */
function holder(extra: Partial<H2Options> = {}) {
  const streams: H2Stream[] = [];
  const violations: string[] = [];
  const opts: H2Options = {
    onStream(s) {
      streams.push(s);
    },
    onViolation: (code, reason) => violations.push(`${code} ${reason}`),
    ...extra,
  };
  return { opts, streams, violations };
}

function open(id: number, endStream = true): Buffer {
  return frame(T.HEADERS, F.END_HEADERS | (endStream ? F.END_STREAM : 0), id, block(GET));
}
/**
 * Frames written until `done` holds for them. A connection whose input is slowed reads on
 * after timer pauses, so the frames come over several turns.
 */
async function collect(p: Peer, done: (fs: Frame[]) => boolean): Promise<Frame[]> {
  let fs: Frame[] = [];
  for (;;) {
    fs = fs.concat(await p.frames());
    if (done(fs)) return fs;
    await new Promise((r) => setTimeout(r, 2));
  }
}
const rst = (id: number) => frame(T.RST_STREAM, 0, id, u32(ErrorCode.CANCEL));
const ping = (n: number) => frame(T.PING, 0, 0, Buffer.from(String(n).padStart(8, "0")));

describe("rapid reset", () => {
  test("streams opened and cancelled before any answer: 200 a second are fine, more end the connection", async () => {
    const clock = new FakeClock();
    const h = holder({ clock });
    const p = new Peer(h.opts);
    await p.frames();
    const batch = (from: number, n: number) => {
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) parts.push(open(from + 2 * i, false), rst(from + 2 * i));
      return Buffer.concat(parts);
    };
    p.send(batch(1, 200));
    expect(goawayCode(await p.frames())).toBeUndefined();
    // Two seconds later the window has moved on: another 200 are fine too.
    clock.advance(2000);
    p.send(batch(401, 200));
    expect(goawayCode(await p.frames())).toBeUndefined();
    p.send(batch(801, 5));
    const fs = await p.frames();
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(goawayText(fs)).toBe("too many canceled streams");
    expect(h.violations).toEqual([`${ErrorCode.ENHANCE_YOUR_CALM} too many canceled streams`]);
    expect(h.streams.every((s) => s.closed)).toBe(true);
  });

  test("a stream answered before its reset is not a cancel; RST_STREAM frames themselves are capped at 1000 a second", async () => {
    const clock = new FakeClock();
    const h = holder({
      clock,
      onStream(s) {
        h.streams.push(s);
        s.respond([[":status", "200"]]);
      },
    });
    const p = new Peer(h.opts);
    await p.frames();
    const parts: Buffer[] = [];
    for (let i = 0; i < 1000; i++) parts.push(open(1 + 2 * i, false), rst(1 + 2 * i));
    p.send(Buffer.concat(parts));
    expect(goawayCode(await p.frames())).toBeUndefined();
    // Resets of streams that are already gone count as well.
    p.send(rst(1));
    const fs = await p.frames();
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(goawayText(fs)).toBe("too many stream resets");
  });
});

describe("header blocks", () => {
  test("empty CONTINUATION frames without end: ENHANCE_YOUR_CALM after the frame limit", async () => {
    const p = new Peer(holder().opts);
    await p.frames();
    const parts = [frame(T.HEADERS, 0, 1, block(GET))];
    // 1 MiB + 320 list limit: room for ceil(2 MiB / 16 KB) + 8 = 137 frames.
    for (let i = 0; i < 137; i++) parts.push(frame(T.CONTINUATION, 0, 1));
    p.send(Buffer.concat(parts));
    expect(goawayCode(await p.frames())).toBeUndefined();
    p.send(frame(T.CONTINUATION, 0, 1));
    const fs = await p.frames();
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(goawayText(fs)).toBe("h2: too many CONTINUATION frames");
  });

  test("a block that goes on after its list passed the limit is skipped to its end and refused with 431; the connection lives on (as grpc-go)", async () => {
    const h = holder({ maxHeaderListSize: 4096 });
    const p = new Peer(h.opts);
    await p.frames();
    p.send(frame(T.HEADERS, 0, 1, block(GET)));
    // 4000 references to ":method: GET" (42 octets each) take the list past 4096 in this piece,
    // and more of the block follows (read at a slowed pace from here on).
    p.send(frame(T.CONTINUATION, 0, 1, Buffer.alloc(4000, 0x82)));
    p.send(frame(T.CONTINUATION, F.END_HEADERS, 1, Buffer.alloc(4000, 0x82)));
    let fs = await collect(p, (fs) => fs.some((f) => f.id === 1 && f.type === T.RST_STREAM));
    expect(goawayCode(fs)).toBeUndefined();
    expect(fs.find((f) => f.id === 1)?.fields).toEqual([[":status", "431"]]);
    // The request had not ended: the client is asked to stop sending it.
    expect(fs.find((f) => f.type === T.RST_STREAM && f.id === 1)?.payload.readUInt32BE(0)).toBe(ErrorCode.NO_ERROR);
    // A first piece longer than twice the limit: the same.
    p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, Buffer.concat([block(GET), Buffer.alloc(8200, 0x82)])));
    fs = await collect(p, (fs) => fs.some((f) => f.id === 3));
    expect(goawayCode(fs)).toBeUndefined();
    expect(fs.find((f) => f.id === 3)?.fields).toEqual([[":status", "431"]]);
    expect(h.streams.length).toBe(0);
    // DATA for the refused stream is dropped; the next request is served.
    p.send(frame(T.DATA, F.END_STREAM, 1, Buffer.from("x")), open(5));
    fs = await collect(p, () => h.streams.length > 0);
    expect(goawayCode(fs)).toBeUndefined();
    expect(h.streams.map((s) => s.id)).toEqual([5]);
  });

  test("past the limit a block may go on for the limit's size again, skipped; more ends the connection (Go's server ends it at the first piece)", async () => {
    // With the default limit (1 MiB + 320): two frames of references to ":method: GET" (42
    // octets each) take the list past it, then `more` frames of 16 KB follow.
    const overBlock = (id: number, more: number) => {
      const parts = [frame(T.HEADERS, 0, id, block(GET))];
      for (let i = 0; i < 2; i++) parts.push(frame(T.CONTINUATION, 0, id, Buffer.alloc(16384, 0x82)));
      for (let i = 1; i <= more; i++) parts.push(frame(T.CONTINUATION, i === more ? F.END_HEADERS : 0, id, Buffer.alloc(16384, 0x82)));
      return Buffer.concat(parts);
    };
    const p = new Peer(holder().opts);
    await p.frames();
    // 64 x 16 KB = 1 MiB, under the limit's 1 MiB + 320.
    p.send(overBlock(1, 64));
    let fs = await collect(p, (fs) => fs.some((f) => f.id === 1));
    expect(fs.find((f) => f.id === 1)?.fields).toEqual([[":status", "431"]]);
    expect(goawayCode(fs)).toBeUndefined();
    p.send(overBlock(3, 65));
    fs = await collect(p, (fs) => goawayCode(fs) !== undefined);
    expect(goawayCode(fs)).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(goawayText(fs)).toBe("h2: header list too large");
    expect(fs.some((f) => f.id === 3)).toBe(false);
  });

  test("a field split across CONTINUATION frames is decoded whole; only the split part is kept between them", async () => {
    const h = holder();
    const p = new Peer(h.opts);
    await p.frames();
    const b = block([...GET, ["x-long", "z".repeat(5000)], ["x-after", "1"]]);
    // Cut inside the long value, and then one octet at a time for a while.
    p.send(frame(T.HEADERS, F.END_STREAM, 1, b.subarray(0, 100)));
    for (let o = 100; o < 140; o++) p.send(frame(T.CONTINUATION, 0, 1, b.subarray(o, o + 1)));
    p.send(frame(T.CONTINUATION, F.END_HEADERS, 1, b.subarray(140)));
    await p.frames();
    expect(h.streams.length).toBe(1);
    expect(h.streams[0]!.headers.get("x-long")).toBe("z".repeat(5000));
    expect(h.streams[0]!.headers.get("x-after")).toBe("1");
  });

  test("HPACK bomb in one frame: references stop being expanded at the list limit; 431, table in sync", async () => {
    const h = holder();
    const p = new Peer(h.opts);
    await p.frames();
    // Insert a 4000-octet entry (literal with incremental indexing, new name).
    const big = "v".repeat(4000);
    // Value length 4000 = 127 + 3873, 3873 = 0x21 + 30 * 128: octets 0x7f 0xa1 0x1e (RFC 7541 §5.1).
    const insert = Buffer.concat([Buffer.from([0x40, 5]), Buffer.from("x-big"), Buffer.from([0x7f, 0xa1, 0x1e]), Buffer.from(big)]);
    // 12000 one-octet references to it (index 62): 48 MB of header text if expanded.
    const bomb = Buffer.concat([block(GET), insert, Buffer.alloc(12_000, 0xbe)]);
    const t0 = performance.now();
    p.send(frame(T.HEADERS, F.END_STREAM | F.END_HEADERS, 1, bomb));
    const ms = performance.now() - t0;
    const fs = await p.streamFrames();
    expect(fs[0]!.fields).toEqual([[":status", "431"]]);
    expect(h.streams.length).toBe(0);
    expect(ms).toBeLessThan(100);
    // The entry went into the table: a later request referencing it is decoded against it.
    p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, Buffer.concat([block(GET), Buffer.from([0xbe])])));
    await p.frames();
    expect(h.streams.length).toBe(1);
    expect(h.streams[0]!.headers.get("x-big")).toBe(big);
  });

  test("HPACK bomb over several frames: skipped past the limit, 431, table in sync, the connection lives on", async () => {
    const h = holder();
    const p = new Peer(h.opts);
    await p.frames();
    const insert = Buffer.concat([Buffer.from([0x40, 5]), Buffer.from("x-big"), Buffer.from([0x7f, 0xa1, 0x1e]), Buffer.alloc(4000, 0x76)]);
    const bomb = Buffer.concat([block(GET), insert, Buffer.alloc(40_000, 0xbe)]);
    p.send(frame(T.HEADERS, F.END_STREAM, 1, bomb.subarray(0, 16384)));
    p.send(frame(T.CONTINUATION, 0, 1, bomb.subarray(16384, 32768)));
    p.send(frame(T.CONTINUATION, F.END_HEADERS, 1, bomb.subarray(32768)));
    const fs = await collect(p, (fs) => fs.some((f) => f.id === 1));
    expect(goawayCode(fs)).toBeUndefined();
    expect(fs.find((f) => f.id === 1)?.fields).toEqual([[":status", "431"]]);
    expect(h.streams.length).toBe(0);
    p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, Buffer.concat([block(GET), Buffer.from([0xbe])])));
    await collect(p, () => h.streams.length > 0);
    expect(h.streams[0]!.headers.get("x-big")).toBe("v".repeat(4000));
  });

  test("16 header lists refused in a row slow the connection's reading (not closed); a served request lifts it", async () => {
    const h = holder({ maxHeaderListSize: 4096 });
    const p = new Peer(h.opts);
    await p.frames();
    const over = (id: number) => frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, Buffer.concat([block(GET), Buffer.alloc(200, 0x82)]));
    const refuse = (from: number, n: number) => p.send(Buffer.concat(Array.from({ length: n }, (_, i) => over(from + 2 * i))));
    const until = async (cond: () => boolean) => {
      while (!cond()) await new Promise((r) => setTimeout(r, 2));
    };
    refuse(1, 15);
    expect(p.sock.paused).toBe(false);
    refuse(31, 1);
    // The 16th: reading pauses after it, and what arrives meanwhile waits for the pause's end.
    expect(p.sock.paused).toBe(true);
    p.send(open(33));
    expect(h.streams.length).toBe(0);
    await until(() => h.streams.length === 1);
    // Served: the count starts again, and reading goes on without pauses.
    await until(() => !p.sock.paused);
    refuse(35, 15);
    expect(p.sock.paused).toBe(false);
    const fs = await p.frames();
    expect(goawayCode(fs)).toBeUndefined();
    expect(fs.filter((f) => f.fields?.[0]?.[1] === "431").length).toBe(31);
  });

  test("CR, LF, NUL and other control characters in a value: RST_STREAM(PROTOCOL_ERROR), the connection lives on", async () => {
    for (const bad of ["a\rb", "a\nb", "a\x00b", "a\x01b", "a\x7fb"]) {
      const h = holder();
      const p = new Peer(h.opts);
      await p.frames();
      p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block([...GET, ["x-v", bad]])));
      const fs = await p.frames();
      const r = fs.find((f) => f.type === T.RST_STREAM);
      expect(r?.payload.readUInt32BE(0)).toBe(ErrorCode.PROTOCOL_ERROR);
      expect(goawayCode(fs)).toBeUndefined();
      expect(h.streams.length).toBe(0);
      // HTAB is allowed, as Go allows it.
      p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, block([...GET, ["x-v", "a\tb"]])));
      await p.frames();
      expect(h.streams.length).toBe(1);
    }
  });

  test("HEADERS on a stream id lower than one already used: GOAWAY(PROTOCOL_ERROR)", async () => {
    const h = holder();
    const p = new Peer(h.opts);
    await p.frames();
    p.send(open(5));
    await p.frames();
    p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, block(GET_PATH("/lower"))));
    const fs = await p.frames();
    expect(goawayCode(fs)).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(h.streams.map((s) => s.id)).toEqual([5]);
  });
});

describe("keepalive pings (grpc-go's enforcement, etcd --grpc-keepalive-min-time)", () => {
  test("without an open stream the fourth ping in two hours is GOAWAY(ENHANCE_YOUR_CALM, too_many_pings)", async () => {
    const clock = new FakeClock();
    const h = holder({ clock });
    const p = new Peer(h.opts);
    await p.frames();
    for (let i = 0; i < 3; i++) {
      clock.advance(60_000);
      p.send(ping(i));
    }
    expect(goawayCode(await p.frames())).toBeUndefined();
    clock.advance(60_000);
    p.send(ping(4));
    const fs = await p.frames();
    // The ping is answered, then the GOAWAY follows.
    expect(fs.filter((f) => f.type === T.PING).length).toBe(1);
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(goawayText(fs)).toBe("too_many_pings");
  });

  test("with a stream open, pings 5 s apart are fine forever; 2 s apart are struck", async () => {
    const clock = new FakeClock();
    const h = holder({ clock });
    const p = new Peer(h.opts);
    await p.frames();
    p.send(open(1, false));
    for (let i = 0; i < 20; i++) {
      clock.advance(5000);
      p.send(ping(i));
    }
    const fs0 = await p.frames();
    expect(goawayText(fs0)).toBeUndefined();
    // Two strikes are tolerated, the third ends it.
    for (let i = 0; i < 2; i++) {
      clock.advance(2000);
      p.send(ping(i));
    }
    expect(goawayCode(await p.frames())).toBeUndefined();
    clock.advance(2000);
    p.send(ping(9));
    expect(goawayText(await p.frames())).toBe("too_many_pings");
  });

  test("pings after the server sent data are forgiven", async () => {
    const clock = new FakeClock();
    const h = holder({ clock });
    const p = new Peer(h.opts);
    await p.frames();
    p.send(open(1, false));
    await p.frames();
    h.streams[0]!.respond([[":status", "200"]]);
    for (let i = 0; i < 10; i++) {
      h.streams[0]!.write(Buffer.from("x"));
      clock.advance(100);
      p.send(ping(i));
    }
    expect(goawayCode(await p.frames())).toBeUndefined();
  });

  test("the server pings an idle client after the interval and closes it when nothing comes back", async () => {
    const clock = new FakeClock();
    const h = holder({ clock, keepalive: { intervalMs: 10_000, timeoutMs: 3000 } });
    const p = new Peer(h.opts);
    await p.frames();
    clock.advance(9_000);
    expect((await p.frames()).some((f) => f.type === T.PING)).toBe(false);
    clock.advance(1_000);
    const pinged = await p.frames();
    expect(pinged.some((f) => f.type === T.PING && f.flags === 0)).toBe(true);
    // An ack keeps it alive for another interval.
    p.send(frame(T.PING, F.ACK, 0, Buffer.alloc(8)));
    clock.advance(9_000);
    expect(p.sock.ended || p.sock.destroyed).toBe(false);
    clock.advance(1_000);
    expect((await p.frames()).some((f) => f.type === T.PING && f.flags === 0)).toBe(true);
    clock.advance(2_999);
    expect(p.sock.destroyed).toBe(false);
    clock.advance(1);
    expect(p.sock.ended).toBe(true);
    expect(h.violations[0]).toContain("keepalive ping not answered");
  });

  test("a connection that never sends SETTINGS is closed after the handshake timeout", async () => {
    const clock = new FakeClock();
    const h = holder({ clock });
    const p = new Peer(h.opts, false);
    p.send(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    clock.advance(9_999);
    expect(p.sock.ended).toBe(false);
    clock.advance(1);
    const fs = await p.frames();
    expect(goawayCode(fs)).toBe(ErrorCode.SETTINGS_TIMEOUT);
    expect(p.sock.ended).toBe(true);
  });
});

describe("floods of frames that need an answer, from a client that does not read", () => {
  for (const [name, mk] of [
    ["PING", (i: number) => ping(i)],
    ["SETTINGS", () => frame(T.SETTINGS, 0, 0)],
  ] as const) {
    test(`${name}: reading pauses at 50 queued answers; past 10000 the connection ends`, async () => {
      const clock = new FakeClock();
      const h = holder({ clock, keepalive: { minTimeMs: 0, permitWithoutStream: true } });
      const p = new Peer(h.opts);
      await p.frames();
      p.sock.full = true;
      // The first write after congestion tells the engine the socket is full.
      p.send(mk(0));
      await p.settle();
      for (let i = 1; i < 60; i++) p.send(mk(i));
      expect(p.sock.paused).toBe(true);
      // The client reads: reading resumes.
      p.sock.drain();
      expect(p.sock.paused).toBe(false);
      // Paused and never read for 10 s: closed.
      p.sock.full = true;
      p.send(mk(0));
      await p.settle();
      for (let i = 1; i < 60; i++) p.send(mk(i));
      expect(p.sock.paused).toBe(true);
      clock.advance(10_000);
      expect(p.sock.ended).toBe(true);
      expect(h.violations.at(-1)).toContain("too many control frames queued");
    });

    test(`${name}: one read holding more than 10000 of them ends the connection at once`, async () => {
      const clock = new FakeClock();
      const h = holder({ clock, keepalive: { minTimeMs: 0, permitWithoutStream: true } });
      const p = new Peer(h.opts);
      await p.frames();
      // One read holding 10001 frames is not stopped by pausing: the queue limit ends it.
      p.sock.full = true;
      p.send(mk(0));
      await p.settle();
      p.send(Buffer.concat(Array.from({ length: 10_001 }, (_, i) => mk(i))));
      const fs = await p.frames();
      expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
      expect(goawayText(fs)).toBe("too many control frames queued (client not reading)");
    });
  }

  test("WINDOW_UPDATE past 2^31-1 on the connection: GOAWAY(FLOW_CONTROL_ERROR); on a stream: RST_STREAM", async () => {
    const h = holder();
    const p = new Peer(h.opts);
    await p.frames();
    p.send(open(1, false));
    p.send(frame(T.WINDOW_UPDATE, 0, 1, u32(0x7fffffff)));
    const fs = await p.frames();
    expect(fs.find((f) => f.type === T.RST_STREAM)?.payload.readUInt32BE(0)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
    for (let i = 0; i < 2; i++) p.send(frame(T.WINDOW_UPDATE, 0, 0, u32(0x40000000)));
    expect(goawayCode(await p.frames())).toBe(ErrorCode.FLOW_CONTROL_ERROR);
  });
});

/** A connection with stream 1 open and answered (HEADERS sent), ready for DATA. */
async function answering(clock: FakeClock, ...first: Buffer[]) {
  const h = holder({ clock });
  const p = new Peer(h.opts);
  await p.frames();
  p.send(open(1, false), ...first);
  await p.frames();
  const s = h.streams[0]!;
  s.respond([[":status", "200"]]);
  return { h, p, s };
}

describe("output bounds (slow consumers)", () => {
  test("a stream over 1 MiB queued is not writable, and drains (ondrain) below 256 KiB", async () => {
    const { p, s } = await answering(new FakeClock());
    let drains = 0;
    s.ondrain = () => drains++;
    const chunk = Buffer.alloc(64 * 1024, 1);
    // The client's initial window (65535 octets) takes the first chunk but one octet; the rest queues.
    for (let i = 0; i < 16; i++) s.write(chunk);
    expect(s.bufferedAmount).toBe(16 * 65536 - 65535);
    expect(s.writable).toBe(true);
    s.write(chunk);
    expect(s.bufferedAmount).toBe(17 * 65536 - 65535);
    expect(s.writable).toBe(false);
    // Window for all but 200 KiB: the queue falls under the low-water mark.
    p.send(frame(T.WINDOW_UPDATE, 0, 0, u32(16 * 1024 * 1024)), frame(T.WINDOW_UPDATE, 0, 1, u32(17 * 65536 - 65535 - 200 * 1024)));
    expect(s.bufferedAmount).toBe(200 * 1024);
    expect(s.writable).toBe(true);
    expect(drains).toBe(1);
  });

  test("a connection over its 16 MiB bound for 10 s is closed; one that drains in time is not", async () => {
    const clock = new FakeClock();
    const { h, p, s } = await answering(clock);
    const mib = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 17; i++) s.write(mib);
    clock.advance(9_000);
    p.send(frame(T.WINDOW_UPDATE, 0, 0, u32(8 * 1024 * 1024)), frame(T.WINDOW_UPDATE, 0, 1, u32(8 * 1024 * 1024)));
    clock.advance(2_000);
    expect(p.sock.ended).toBe(false);
    for (let i = 0; i < 9; i++) s.write(mib);
    clock.advance(9_999);
    expect(p.sock.ended).toBe(false);
    clock.advance(1);
    const fs = await p.frames();
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(p.sock.ended).toBe(true);
    expect(s.closed).toBe(true);
    expect(h.violations[0]).toContain("client not reading");
  });

  test("a connection past the 64 MiB hard cap is closed at once", async () => {
    const { h, p, s } = await answering(new FakeClock());
    const mib = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 63; i++) s.write(mib);
    expect(p.sock.ended).toBe(false);
    s.write(mib);
    s.write(mib);
    expect(p.sock.ended).toBe(true);
    expect(s.closed).toBe(true);
    expect(h.violations[0]).toContain("exceeds 67108864");
  });

  test("while the socket is congested DATA waits in the stream queue, not in the socket", async () => {
    const { p, s } = await answering(new FakeClock(), frame(T.WINDOW_UPDATE, 0, 0, u32(1 << 30)), frame(T.WINDOW_UPDATE, 0, 1, u32(1 << 30)));
    s.write(Buffer.alloc(300 * 1024));
    await p.settle();
    p.sock.full = true;
    s.write(Buffer.alloc(300 * 1024));
    await p.settle();
    const before = p.sock.writes.length;
    const queued = s.bufferedAmount;
    for (let i = 0; i < 10; i++) s.write(Buffer.alloc(100 * 1024));
    await p.settle();
    expect(p.sock.writes.length).toBe(before);
    expect(s.bufferedAmount).toBe(queued + 1000 * 1024);
    p.sock.drain();
    await p.settle();
    expect(s.bufferedAmount).toBe(0);
  });
});

describe("fair reading", () => {
  test("a slowed connection's chunk is processed at once, then reading pauses for its size at the slowed rate", async () => {
    const { InputPacer, SLOW_OCTETS_PER_MS } = await import("../../src/api/h2/input-pacer.ts");
    const sock = new (await import("./fake-peer.ts")).FakeSocket();
    const clock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} };
    let processed = 0;
    const pacer = new InputPacer(sock as never, clock, (slice) => {
      processed += slice.length;
      return true;
    });
    pacer.slow = true;
    const size = 128 * 1024;
    const pauseMs = size / SLOW_OCTETS_PER_MS;
    const t0 = performance.now();
    pacer.push(Buffer.alloc(size));
    // All of it in this turn: nothing of the chunk is kept through the pause.
    expect(processed).toBe(size);
    expect(sock.paused).toBe(true);
    // Read meanwhile: waits for the pause's end.
    pacer.push(Buffer.alloc(100));
    expect(processed).toBe(size);
    while (processed === size) await new Promise((r) => setTimeout(r, 5));
    // Timers never fire early, so this bound holds on any machine.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(pauseMs - 1);
    expect(processed).toBe(size + 100);
    // Lifted: the next chunk pays no pause.
    pacer.slow = false;
    while (sock.paused) await new Promise((r) => setTimeout(r, 5));
    pacer.push(Buffer.alloc(100));
    expect(sock.paused).toBe(false);
    pacer.stop();
  });

  test("input that takes more than 3 ms of a turn yields the event loop; reading pauses until it is done", async () => {
    const { InputPacer } = await import("../../src/api/h2/input-pacer.ts");
    const sock = new (await import("./fake-peer.ts")).FakeSocket();
    // A clock where every slice costs 1 ms.
    let t = 0;
    const clock = { now: () => (t += 1), setTimeout: () => 0, clearTimeout: () => {} };
    const seen: number[] = [];
    const pacer = new InputPacer(sock as never, clock, (slice) => {
      seen.push(slice.length);
      return true;
    });
    const turns: number[] = [];
    pacer.push(Buffer.alloc(10 * 32 * 1024));
    turns.push(seen.length);
    expect(sock.paused).toBe(true);
    // More input while yielded waits behind the rest, in order.
    pacer.push(Buffer.alloc(100));
    while (sock.paused) {
      await new Promise((r) => setImmediate(r));
      turns.push(seen.length);
    }
    expect(seen.reduce((a, b) => a + b, 0)).toBe(10 * 32 * 1024 + 100);
    expect(seen.at(-1)).toBe(100);
    // Several turns, each a few slices.
    expect(turns.length).toBeGreaterThan(2);
    expect(turns[0]).toBeLessThan(10);
  });
});
