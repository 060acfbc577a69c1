import { test, expect, describe } from "bun:test";
import { CLIENT_PREFACE, ErrorCode, type H2Stream, type H2Options } from "../../src/api/h2/index.ts";
import { FrameReader } from "../../src/api/h2/frame-reader.ts";
import { Peer, frame, block, GET, T, F, u32, goawayCode } from "./fake-peer.ts";

/** Echo handler: answers each request with its body and a trailer carrying the path. */
function echo(log: string[] = []): H2Options {
  return {
    onStream(s: H2Stream) {
      const parts: Uint8Array[] = [];
      log.push(`open ${s.id} ${s.headers.get(":path")}`);
      s.ondata = (c) => parts.push(Buffer.from(c));
      s.onend = () => {
        log.push(`end ${s.id}`);
        if (s.headers.get(":path") === "/hold") return;
        s.respond([[":status", "200"], ["content-type", "application/grpc"]]);
        s.write(Buffer.concat(parts));
        s.end([["grpc-status", "0"], ["x-path", s.headers.get(":path") ?? ""]]);
      };
      s.onclose = (reset) => log.push(`close ${s.id} ${reset}`);
    },
  };
}

function request(id: number, body: string, path = "/x"): Buffer {
  return Buffer.concat([
    frame(T.HEADERS, F.END_HEADERS, id, block([[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "a"]])),
    frame(T.DATA, F.END_STREAM, id, Buffer.from(body)),
  ]);
}

describe("frame reader", () => {
  const wire = Buffer.concat([frame(T.PING, 0, 0, Buffer.alloc(8, 7)), frame(T.DATA, 1, 3, Buffer.from("hello")), frame(T.SETTINGS, 1, 0)]);
  const collect = (chunks: Buffer[]) => {
    const got: string[] = [];
    const r = new FrameReader(16384, (type, flags, id, buf, s, e) => got.push(`${type}/${flags}/${id}/${buf.subarray(s, e).toString("hex")}`), false);
    for (const c of chunks) r.push(c);
    return got;
  };
  const expected = collect([wire]);

  test("several frames in one chunk", () => {
    expect(expected).toEqual(["6/0/0/0707070707070707", "0/1/3/68656c6c6f", "4/1/0/"]);
  });
  test("split at every byte boundary into two chunks", () => {
    for (let i = 0; i <= wire.length; i++) expect(collect([wire.subarray(0, i), wire.subarray(i)])).toEqual(expected);
  });
  test("one byte at a time", () => {
    expect(collect(Array.from(wire, (b) => Buffer.of(b)))).toEqual(expected);
  });
  test("a split frame is copied out of the chunk it began in (the chunk is not kept for it)", () => {
    // Every split point, the header's included: the first chunk is overwritten once pushed, as
    // the memory of a chunk no longer referenced may be; the frames still arrive intact.
    for (let i = 1; i < wire.length; i++) {
      const first = Buffer.from(wire.subarray(0, i));
      const got: string[] = [];
      const r = new FrameReader(16384, (type, flags, id, buf, s, e) => got.push(`${type}/${flags}/${id}/${buf.subarray(s, e).toString("hex")}`), false);
      r.push(first);
      first.fill(0xee);
      r.push(Buffer.from(wire.subarray(i)));
      expect(got).toEqual(expected);
    }
  });
  test("frames larger than the limit are rejected before their payload arrives", () => {
    const r = new FrameReader(16384, () => {}, false);
    expect(() => r.push(frame(T.DATA, 0, 1, Buffer.alloc(0)).fill(0xff, 0, 3))).toThrow("maximum frame size");
  });
});

describe("connection setup", () => {
  test("server sends SETTINGS and a connection WINDOW_UPDATE, then ACKs the client's SETTINGS", async () => {
    const p = new Peer(echo());
    const fs = await p.frames();
    expect(fs.map((f) => [f.type, f.flags])).toEqual([[T.SETTINGS, 0], [T.WINDOW_UPDATE, 0], [T.SETTINGS, F.ACK]]);
    const settings = new Map<number, number>();
    for (let o = 0; o < fs[0].payload.length; o += 6) settings.set(fs[0].payload.readUInt16BE(o), fs[0].payload.readUInt32BE(o + 2));
    expect(settings.get(4)).toBe(1024 * 1024); // INITIAL_WINDOW_SIZE
    expect(settings.get(3)).toBe(4294967295); // MAX_CONCURRENT_STREAMS: etcd's --max-concurrent-streams default
    expect(settings.get(6)).toBe(1024 * 1024 + 320); // MAX_HEADER_LIST_SIZE: Go's net/http default
    expect(fs[1].payload.readUInt32BE(0)).toBe(16 * 1024 * 1024 - 65535);
  });

  test("PING is answered with the same payload", async () => {
    const p = new Peer(echo());
    await p.frames();
    for (let i = 0; i < 3; i++) p.send(frame(T.PING, 0, 0, Buffer.from(`ping${String(i).padStart(4, "0")}`)));
    const fs = await p.frames();
    expect(fs.length).toBe(3);
    expect(fs.every((f) => f.type === T.PING && f.flags === F.ACK)).toBe(true);
    expect(fs[2].payload.toString()).toBe("ping0002");
    expect(p.sock.ended).toBe(false);
  });

  test("all frames produced in one turn leave in one socket write", async () => {
    const p = new Peer(echo());
    await p.frames();
    const before = p.sock.writes.length;
    p.send(Buffer.concat([request(1, "a"), request(3, "b"), request(5, "c")]));
    const fs = await p.streamFrames();
    expect(p.sock.writes.length - before).toBe(1);
    expect(fs.filter((f) => f.type === T.DATA && f.payload.length > 0).map((f) => f.payload.toString())).toEqual(["a", "b", "c"]);
  });
});

describe("requests", () => {
  test("a request split at every byte boundary is served the same", async () => {
    const wire = Buffer.concat([Buffer.from(CLIENT_PREFACE), frame(T.SETTINGS, 0, 0), request(1, "split me")]);
    for (let i = 0; i <= wire.length; i++) {
      const log: string[] = [];
      const p = new Peer(echo(log), false);
      p.send(wire.subarray(0, i), wire.subarray(i));
      const fs = await p.streamFrames();
      expect(log).toEqual(["open 1 /x", "end 1", "close 1 false"]);
      expect(fs.map((f) => f.type)).toEqual([T.HEADERS, T.DATA, T.HEADERS]);
      expect(fs[1].payload.toString()).toBe("split me");
      expect(fs[2].fields).toEqual([["grpc-status", "0"], ["x-path", "/x"]]);
      expect(fs[2].flags & F.END_STREAM).toBe(F.END_STREAM);
    }
  });

  test("HEADERS with padding and priority, then two CONTINUATION frames", async () => {
    const log: string[] = [];
    const p = new Peer(echo(log));
    await p.frames();
    const b = block([...GET.filter(([n]) => n !== ":path"), [":path", "/continued"], ["x-long", "v".repeat(100)]]);
    const pad = 5;
    const first = Buffer.concat([Buffer.of(pad), u32(0), Buffer.of(15), b.subarray(0, 10), Buffer.alloc(pad)]);
    p.send(
      frame(T.HEADERS, F.PADDED | F.PRIORITY, 1, first),
      frame(T.CONTINUATION, 0, 1, b.subarray(10, 50)),
      frame(T.CONTINUATION, F.END_HEADERS, 1, b.subarray(50)),
      frame(T.PRIORITY, 0, 1, Buffer.concat([u32(0), Buffer.of(3)])),
      frame(T.DATA, F.PADDED | F.END_STREAM, 1, Buffer.concat([Buffer.of(3), Buffer.from("body"), Buffer.alloc(3)])),
    );
    const fs = await p.streamFrames();
    expect(log).toEqual(["open 1 /continued", "end 1", "close 1 false"]);
    expect(fs[1].payload.toString()).toBe("body");
  });

  test("repeated header names are joined; trailers from the client end the stream", async () => {
    let seen: ReadonlyMap<string, string> | null = null;
    const p = new Peer({
      onStream(s) {
        seen = s.headers;
        s.onend = () => {
          s.respond([[":status", "200"]], true);
        };
      },
    });
    await p.frames();
    p.send(
      frame(T.HEADERS, F.END_HEADERS, 1, block([...GET, ["x-a", "1"], ["x-a", "2"], ["cookie", "a=b"], ["cookie", "c=d"]])),
      frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block([["x-trailer", "t"]])),
    );
    const fs = await p.streamFrames();
    expect(seen!.get("x-a")).toBe("1, 2");
    expect(seen!.get("cookie")).toBe("a=b; c=d");
    expect(fs.map((f) => [f.type, f.flags & F.END_STREAM])).toEqual([[T.HEADERS, F.END_STREAM]]);
  });

  test("a response ended before the request asks the client to stop with RST_STREAM(NO_ERROR)", async () => {
    const log: string[] = [];
    const p = new Peer({
      onStream(s) {
        s.respond([[":status", "200"]]);
        s.end([["grpc-status", "0"]]);
        s.onclose = (reset) => log.push(`close ${reset}`);
      },
    });
    await p.frames();
    p.send(frame(T.HEADERS, F.END_HEADERS, 1, block(GET)), frame(T.DATA, 0, 1, Buffer.from("late")));
    const fs = await p.streamFrames();
    expect(fs.map((f) => f.type)).toEqual([T.HEADERS, T.HEADERS, T.RST_STREAM]);
    expect(fs[2].payload.readUInt32BE(0)).toBe(ErrorCode.NO_ERROR);
  });

  test("large response headers are split into HEADERS + CONTINUATION", async () => {
    const p = new Peer({ onStream(s) { s.respond([[":status", "200"], ["x-big", "b".repeat(40000)]], true); } });
    await p.frames();
    p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(GET)));
    const fs = await p.streamFrames();
    expect(fs.map((f) => f.type)).toEqual([T.HEADERS, T.CONTINUATION, T.CONTINUATION]);
    expect(fs[0].flags).toBe(F.END_STREAM);
    expect(fs[2].flags).toBe(F.END_HEADERS);
    expect(fs[0].fields).toEqual([[":status", "200"], ["x-big", "b".repeat(40000)]]);
  });
});

describe("stream errors reset one stream, the connection lives on", () => {
  const cases: Array<[string, Buffer, number]> = [
    ["upper-case header name", frame(T.HEADERS, 5, 1, block([...GET, ["X-Up", "1"]])), ErrorCode.PROTOCOL_ERROR],
    ["missing :path", frame(T.HEADERS, 5, 1, block(GET.filter(([n]) => n !== ":path"))), ErrorCode.PROTOCOL_ERROR],
    ["unknown pseudo-header", frame(T.HEADERS, 5, 1, block([...GET, [":foo", "x"]])), ErrorCode.PROTOCOL_ERROR],
    ["pseudo-header after a regular one", frame(T.HEADERS, 5, 1, block([["x-a", "1"], ...GET])), ErrorCode.PROTOCOL_ERROR],
    ["connection-specific header", frame(T.HEADERS, 5, 1, block([...GET, ["connection", "close"]])), ErrorCode.PROTOCOL_ERROR],
    ["te other than trailers", frame(T.HEADERS, 5, 1, block([...GET, ["te", "gzip"]])), ErrorCode.PROTOCOL_ERROR],
    ["content-length mismatch", Buffer.concat([frame(T.HEADERS, 4, 1, block([...GET, ["content-length", "10"]])), frame(T.DATA, 1, 1, Buffer.from("abc"))]), ErrorCode.PROTOCOL_ERROR],
    ["stream WINDOW_UPDATE of 0", Buffer.concat([frame(T.HEADERS, 4, 1, block(GET)), frame(T.WINDOW_UPDATE, 0, 1, u32(0))]), ErrorCode.PROTOCOL_ERROR],
    ["DATA after END_STREAM", Buffer.concat([frame(T.HEADERS, 5, 1, block([...GET.slice(0, 2), [":path", "/hold"]])), frame(T.DATA, 0, 1, Buffer.from("x"))]), ErrorCode.STREAM_CLOSED],
    ["PRIORITY of wrong length", Buffer.concat([frame(T.HEADERS, 4, 1, block(GET)), frame(T.PRIORITY, 0, 1, Buffer.alloc(4))]), ErrorCode.FRAME_SIZE_ERROR],
    ["stream window exceeded", Buffer.concat([frame(T.HEADERS, 4, 1, block(GET)), frame(T.DATA, 0, 1, Buffer.alloc(16001))]), ErrorCode.FLOW_CONTROL_ERROR],
  ];
  for (const [name, wire, code] of cases) {
    test(name, async () => {
      const log: string[] = [];
      const p = new Peer({ ...echo(log), initialWindowSize: 16000 });
      await p.frames();
      p.send(wire);
      const fs = await p.streamFrames();
      const rst = fs.find((f) => f.type === T.RST_STREAM);
      expect(rst?.payload.readUInt32BE(0)).toBe(code);
      expect(p.sock.ended).toBe(false);
      // The connection still serves the next request.
      p.send(request(3, "next"));
      const next = await p.streamFrames();
      expect(next.find((f) => f.type === T.DATA && f.id === 3)?.payload.toString()).toBe("next");
    });
  }

  test("streams beyond MAX_CONCURRENT_STREAMS are refused", async () => {
    const p = new Peer({ onStream() {}, maxConcurrentStreams: 2 });
    await p.frames();
    p.send(...[1, 3, 5].map((id) => frame(T.HEADERS, F.END_HEADERS, id, block(GET))));
    const fs = await p.streamFrames();
    expect(fs.map((f) => [f.type, f.id, f.payload.readUInt32BE(0)])).toEqual([[T.RST_STREAM, 5, ErrorCode.REFUSED_STREAM]]);
  });

  test("a handler that throws gets its stream reset and the error reported", async () => {
    const errors: Error[] = [];
    const p = new Peer({ onStream() { throw new Error("boom"); }, onError: (e) => errors.push(e) });
    await p.frames();
    p.send(frame(T.HEADERS, F.END_HEADERS, 1, block(GET)));
    const fs = await p.streamFrames();
    expect(fs.map((f) => [f.type, f.payload.readUInt32BE(0)])).toEqual([[T.RST_STREAM, ErrorCode.INTERNAL_ERROR]]);
    expect(errors.map((e) => e.message)).toEqual(["boom"]);
  });

  test("RST_STREAM from the client closes the stream with reset = true", async () => {
    const log: string[] = [];
    const p = new Peer(echo(log));
    await p.frames();
    p.send(frame(T.HEADERS, F.END_HEADERS, 1, block(GET)), frame(T.RST_STREAM, 0, 1, u32(ErrorCode.CANCEL)));
    expect(log).toEqual(["open 1 /x", "close 1 true"]);
    expect(await p.streamFrames()).toEqual([]);
  });

  test("oversized header list gets HTTP 431", async () => {
    const p = new Peer({ onStream() { throw new Error("not reached"); }, maxHeaderListSize: 200 });
    await p.frames();
    p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block([...GET, ["x-big", "z".repeat(150)], ["x-big2", "z".repeat(150)]])));
    const fs = await p.streamFrames();
    expect(fs[0].fields).toEqual([[":status", "431"]]);
  });
});

describe("connection errors send GOAWAY with the right code", () => {
  const cases: Array<[string, Buffer[], number]> = [
    ["DATA on stream 0", [frame(T.DATA, 0, 0, Buffer.from("x"))], ErrorCode.PROTOCOL_ERROR],
    ["HEADERS on an even stream", [frame(T.HEADERS, 5, 2, block(GET))], ErrorCode.PROTOCOL_ERROR],
    ["frame over the maximum size", [frame(T.DATA, 0, 1, Buffer.alloc(16385))], ErrorCode.FRAME_SIZE_ERROR],
    ["another frame inside a header block", [frame(T.HEADERS, 0, 1, block(GET)), frame(T.PING, 0, 0, Buffer.alloc(8))], ErrorCode.PROTOCOL_ERROR],
    ["CONTINUATION without HEADERS", [frame(T.CONTINUATION, 4, 1, block(GET))], ErrorCode.PROTOCOL_ERROR],
    ["undecodable header block", [frame(T.HEADERS, 5, 1, Buffer.from("ff", "hex"))], ErrorCode.COMPRESSION_ERROR],
    ["connection window overflow", [frame(T.WINDOW_UPDATE, 0, 0, u32(0x7fffffff))], ErrorCode.FLOW_CONTROL_ERROR],
    ["PING of wrong length", [frame(T.PING, 0, 0, Buffer.alloc(7))], ErrorCode.FRAME_SIZE_ERROR],
    ["SETTINGS of wrong length", [frame(T.SETTINGS, 0, 0, Buffer.alloc(5))], ErrorCode.FRAME_SIZE_ERROR],
    ["SETTINGS_INITIAL_WINDOW_SIZE too large", [frame(T.SETTINGS, 0, 0, Buffer.from("000480000000", "hex"))], ErrorCode.FLOW_CONTROL_ERROR],
    ["SETTINGS_MAX_FRAME_SIZE too small", [frame(T.SETTINGS, 0, 0, Buffer.from("000500000100", "hex"))], ErrorCode.PROTOCOL_ERROR],
    ["PUSH_PROMISE from a client", [frame(T.PUSH_PROMISE, 4, 1, Buffer.alloc(4))], ErrorCode.PROTOCOL_ERROR],
    ["DATA on an idle stream", [frame(T.DATA, 0, 7, Buffer.from("x"))], ErrorCode.PROTOCOL_ERROR],
    ["padding longer than the payload", [frame(T.HEADERS, F.PADDED | 5, 1, Buffer.of(200, 0x82))], ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [name, wire, code] of cases) {
    test(name, async () => {
      const p = new Peer(echo());
      await p.frames();
      p.send(...wire);
      const fs = await p.frames();
      expect(goawayCode(fs)).toBe(code);
      expect(p.sock.ended).toBe(true);
    });
  }

  test("a bad preface and a first frame other than SETTINGS", async () => {
    const a = new Peer(echo(), false);
    a.send(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    expect(goawayCode(await a.frames())).toBe(ErrorCode.PROTOCOL_ERROR);
    const b = new Peer(echo(), false);
    b.send(Buffer.from(CLIENT_PREFACE), frame(T.PING, 0, 0, Buffer.alloc(8)));
    expect(goawayCode(await b.frames())).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  test("open streams see onclose(true) when the connection fails", async () => {
    const log: string[] = [];
    const p = new Peer(echo(log));
    p.send(frame(T.HEADERS, F.END_HEADERS, 1, block(GET)), frame(T.DATA, 0, 0, Buffer.alloc(1)));
    expect(log).toEqual(["open 1 /x", "close 1 true"]);
  });
});

describe("graceful shutdown", () => {
  test("goaway() refuses new streams and ends the socket after the last one finishes", async () => {
    let held: H2Stream | null = null;
    const opened: number[] = [];
    const p = new Peer({ onStream(s) { opened.push(s.id); held = s; } });
    await p.frames();
    p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(GET)));
    p.conn.goaway();
    const fs = await p.frames();
    const g = fs.find((f) => f.type === T.GOAWAY)!;
    expect([g.payload.readUInt32BE(0), g.payload.readUInt32BE(4)]).toEqual([1, ErrorCode.NO_ERROR]);
    p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, block(GET)));
    expect(opened).toEqual([1]);
    expect(p.sock.ended).toBe(false);
    held!.respond([[":status", "200"]], true);
    expect(p.sock.ended).toBe(true);
  });
});

describe("octets already read by a protocol sniffer", () => {
  test("are processed first, whether they hold part of the preface or whole frames", async () => {
    const { FakeSocket } = await import("./fake-peer.ts");
    const { serveH2 } = await import("../../src/api/h2/index.ts");
    const wire = Buffer.concat([Buffer.from(CLIENT_PREFACE), frame(T.SETTINGS, 0, 0), request(1, "sniffed")]);
    for (const cut of [3, 24, wire.length]) {
      const sock = new FakeSocket();
      const log: string[] = [];
      serveH2(sock as unknown as import("node:net").Socket, echo(log), wire.subarray(0, cut));
      sock.emit("data", wire.subarray(cut));
      expect(log).toEqual(["open 1 /x", "end 1", "close 1 false"]);
    }
  });
});
