// RFC 6455 framing as the gateway's websocket form reads it: masked client frames,
// fragmentation, control frames between fragments, and the limits that close a connection.
import { expect, test } from "bun:test";
import { acceptKey, CloseCode, encodeFrame, FrameParser, Opcode, WebSocketError } from "../../src/api/http/websocket.ts";

/** A client frame: masked with `mask`. */
function clientFrame(opcode: number, payload: Buffer, fin = true, mask = [1, 2, 3, 4]): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | n]) : n < 65536 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, n >> 8, n & 255]) : (() => {
    const h = Buffer.alloc(10);
    h[0] = (fin ? 0x80 : 0) | opcode;
    h[1] = 0x80 | 127;
    h.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    h.writeUInt32BE(n >>> 0, 6);
    return h;
  })();
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  return Buffer.concat([head, Buffer.from(mask), masked]);
}

function collect(max = 1 << 20) {
  const got: string[] = [];
  const p = new FrameParser(max, {
    message: (d, op) => got.push(`${op === Opcode.TEXT ? "text" : "bin"}:${d.toString()}`),
    ping: (d) => got.push(`ping:${d.toString()}`),
    close: (c) => got.push(`close:${c}`),
  });
  return { p, got };
}

test("RFC 6455 accept key of the spec's example", () => {
  expect(acceptKey("dGhlIHNhbXBsZSBub25jZQ==")).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("frames split at every byte, fragments with a ping between them, 16- and 64-bit lengths", () => {
  const big = Buffer.alloc(70_000, 0x61);
  const wire = Buffer.concat([
    clientFrame(Opcode.TEXT, Buffer.from("hel"), false),
    clientFrame(Opcode.PING, Buffer.from("p")),
    clientFrame(Opcode.CONTINUATION, Buffer.from("lo")),
    clientFrame(Opcode.BINARY, Buffer.alloc(300, 0x62)),
    clientFrame(Opcode.TEXT, big),
    clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])),
  ]);
  const expected = ["ping:p", "text:hello", `bin:${"b".repeat(300)}`, `text:${"a".repeat(70_000)}`, "close:1000"];
  for (const cut of [1, 2, 7, 100, 4096]) {
    const { p, got } = collect();
    for (let o = 0; o < wire.length; o += cut) p.push(wire.subarray(o, o + cut));
    expect(got).toEqual(expected);
  }
});

test("protocol errors and oversized messages are WebSocketErrors with the close code to send", () => {
  const err = (wire: Buffer, max = 100) => {
    const { p } = collect(max);
    try {
      p.push(wire);
    } catch (e) {
      return (e as WebSocketError).code;
    }
    return undefined;
  };
  const unmasked = Buffer.from([0x81, 0x01, 0x61]);
  expect(err(unmasked)).toBe(CloseCode.PROTOCOL_ERROR);
  expect(err(Buffer.concat([Buffer.from([0xc1]), clientFrame(Opcode.TEXT, Buffer.from("x")).subarray(1)]))).toBe(CloseCode.PROTOCOL_ERROR); // RSV1
  expect(err(clientFrame(Opcode.PING, Buffer.alloc(126)))).toBe(CloseCode.PROTOCOL_ERROR);
  expect(err(clientFrame(Opcode.CONTINUATION, Buffer.from("x")))).toBe(CloseCode.PROTOCOL_ERROR);
  expect(err(clientFrame(Opcode.TEXT, Buffer.alloc(101)))).toBe(CloseCode.TOO_BIG);
  // Fragments adding up past the limit are refused before the rest is buffered.
  expect(err(Buffer.concat([clientFrame(Opcode.TEXT, Buffer.alloc(60), false), clientFrame(Opcode.CONTINUATION, Buffer.alloc(60), false)]))).toBe(CloseCode.TOO_BIG);
  // A length announcing 2^40 octets is refused from its header alone.
  const huge = Buffer.from([0x82, 0x80 | 127, 0, 0, 1, 0, 0, 0, 0, 0]);
  expect(err(huge)).toBe(CloseCode.TOO_BIG);
});

test("server frames: unmasked, FIN, the shortest length form", () => {
  expect([...encodeFrame(Opcode.TEXT, Buffer.from("hi"))]).toEqual([0x81, 2, 0x68, 0x69]);
  expect([...encodeFrame(Opcode.TEXT, Buffer.alloc(300)).subarray(0, 4)]).toEqual([0x81, 126, 1, 44]);
  expect([...encodeFrame(Opcode.BINARY, Buffer.alloc(70_000)).subarray(0, 10)]).toEqual([0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
});
