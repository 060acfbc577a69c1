// An attacker process for the attack tests and benchmarks: `bun test/helpers/h2-attacker.ts
// <kind> <port> <ms>` runs one abuse of the client port for <ms> milliseconds, reconnecting
// each time the server closes the connection (as real attacks do), and prints one JSON line:
// how many connections it used, which GOAWAY codes and debug texts ended them, and what else
// the server answered (RST_STREAM codes, HTTP statuses). Run in its own process so that its
// CPU use does not distort the latency the test measures for a normal client.
import { create, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema } from "../../src/gen/rpc_pb.ts";
import { block, F, frame, grpcHeaders, grpcMessage, RawH2, T, u32 } from "./h2-raw.ts";

export interface AttackResult {
  kind: string;
  connections: number;
  /** GOAWAY "code debug" -> count. */
  goaways: Record<string, number>;
  /** Connections closed without a GOAWAY seen. */
  closedSilently: number;
  /** RST_STREAM codes received -> count. */
  resets: Record<string, number>;
  /** :status values received -> count. */
  statuses: Record<string, number>;
  frames: number;
}

type Attack = (c: RawH2, deadline: number) => Promise<void>;

const put = grpcMessage(toBinary(PutRequestSchema, create(PutRequestSchema, { key: new TextEncoder().encode("attack"), value: new Uint8Array(8) })));
const drained = (c: RawH2): Promise<unknown> =>
  c.socket.writableLength > 1 << 20 && !c.closedFlag ? Promise.race([new Promise((r) => c.socket.once("drain", r)), c.closed]) : Promise.resolve();
const alive = (c: RawH2, deadline: number) => !c.closedFlag && Date.now() < deadline;
const tick = () => new Promise((r) => setImmediate(r));
/** Waits for the server to close the connection, or the attack's deadline. */
const untilClosed = (c: RawH2, deadline: number) => Promise.race([c.closed, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);

const ATTACKS: Record<string, Attack> = {
  /** HEADERS + a Put request + RST_STREAM, as fast as the socket takes them (CVE-2023-44487). */
  async "rapid-reset"(c, deadline) {
    let id = 1;
    while (alive(c, deadline)) {
      const parts: Buffer[] = [];
      for (let i = 0; i < 100; i++, id += 2) {
        parts.push(c.headers(id, grpcHeaders("/etcdserverpb.KV/Put"), false), frame(T.DATA, F.END_STREAM, id, put), frame(T.RST_STREAM, 0, id, u32(8)));
      }
      c.send(...parts);
      await drained(c);
      await tick();
    }
  },
  /** A header block that never ends: empty CONTINUATION frames. */
  async "continuation-flood"(c, deadline) {
    c.send(frame(T.HEADERS, 0, 1, block(grpcHeaders("/etcdserverpb.KV/Range"))));
    const empties = Buffer.concat(Array.from({ length: 1000 }, () => frame(T.CONTINUATION, 0, 1)));
    while (alive(c, deadline)) {
      c.send(empties);
      await drained(c);
      await tick();
    }
  },
  /** A header block that never ends: full CONTINUATION frames of indexed fields. */
  async "continuation-big"(c, deadline) {
    c.send(frame(T.HEADERS, 0, 1, block(grpcHeaders("/etcdserverpb.KV/Range"))));
    const full = frame(T.CONTINUATION, 0, 1, Buffer.alloc(16384, 0x82));
    while (alive(c, deadline)) {
      c.send(full, full, full, full);
      await drained(c);
      await tick();
    }
  },
  /**
   * HPACK bomb: a 4 KB table entry, then HEADERS frames of one-octet references to it (each
   * 16 KB frame is 64 MB of header text if expanded). Each stream gets 431.
   */
  async "hpack-bomb"(c, deadline) {
    const insert = Buffer.concat([Buffer.from([0x40, 5]), Buffer.from("x-big"), Buffer.from([0x7f, 0xa1, 0x1e]), Buffer.alloc(4000, 0x76)]);
    const head = block(grpcHeaders("/etcdserverpb.KV/Range"));
    c.send(frame(T.HEADERS, F.END_STREAM | F.END_HEADERS, 1, Buffer.concat([head, insert, Buffer.alloc(16384 - head.length - insert.length, 0xbe)])));
    const refs = Buffer.concat([head, Buffer.alloc(16384 - head.length, 0xbe)]);
    let id = 3;
    while (alive(c, deadline)) {
      const parts: Buffer[] = [];
      for (let i = 0; i < 16; i++, id += 2) parts.push(frame(T.HEADERS, F.END_STREAM | F.END_HEADERS, id, refs));
      c.send(...parts);
      await drained(c);
      await new Promise((r) => setTimeout(r, 1));
    }
  },
  /**
   * A bomb spread over HEADERS and CONTINUATION frames: the list crosses its limit and more of
   * the block follows, which ends the connection (as Go's server does).
   */
  async "hpack-bomb-frames"(c, deadline) {
    const insert = Buffer.concat([Buffer.from([0x40, 5]), Buffer.from("x-big"), Buffer.from([0x7f, 0xa1, 0x1e]), Buffer.alloc(4000, 0x76)]);
    const b = Buffer.concat([block(grpcHeaders("/etcdserverpb.KV/Range")), insert, Buffer.alloc(64_000, 0xbe)]);
    const parts = [frame(T.HEADERS, F.END_STREAM, 1, b.subarray(0, 16384))];
    for (let o = 16384; o < b.length; o += 16384) parts.push(frame(T.CONTINUATION, o + 16384 >= b.length ? F.END_HEADERS : 0, 1, b.subarray(o, o + 16384)));
    c.send(...parts);
    await untilClosed(c, deadline);
  },
  /** A header block over twice SETTINGS_MAX_HEADER_LIST_SIZE (2 MiB + 640) of small indexed fields. */
  async "hpack-bomb-huge"(c, deadline) {
    const b = Buffer.concat([block(grpcHeaders("/etcdserverpb.KV/Range")), Buffer.alloc(3 * 1024 * 1024, 0x82)]);
    const parts = [frame(T.HEADERS, F.END_STREAM, 1, b.subarray(0, 16384))];
    for (let o = 16384; o < b.length; o += 16384) parts.push(frame(T.CONTINUATION, o + 16384 >= b.length ? F.END_HEADERS : 0, 1, b.subarray(o, o + 16384)));
    c.send(...parts);
    await untilClosed(c, deadline);
  },
  /** Header lists over the limit made of plain literals: 431 each. */
  async "header-list"(c, deadline) {
    let id = 1;
    const big: Array<[string, string]> = [["x-a", "a".repeat(600_000)], ["x-b", "b".repeat(600_000)]];
    while (alive(c, deadline)) {
      const b = block(grpcHeaders("/etcdserverpb.KV/Range", big));
      const parts = [frame(T.HEADERS, F.END_STREAM, id, b.subarray(0, 16384))];
      for (let o = 16384; o < b.length; o += 16384) parts.push(frame(T.CONTINUATION, o + 16384 >= b.length ? F.END_HEADERS : 0, id, b.subarray(o, o + 16384)));
      c.send(...parts);
      id += 2;
      await drained(c);
      await new Promise((r) => setTimeout(r, 5));
    }
  },
  /** PING after PING (grpc-go's enforcement answers with too_many_pings). */
  async "ping-flood"(c, deadline) {
    const pings = Buffer.concat(Array.from({ length: 100 }, (_, i) => frame(T.PING, 0, 0, Buffer.alloc(8, i))));
    while (alive(c, deadline)) {
      c.send(pings);
      await drained(c);
      await tick();
    }
  },
  /** SETTINGS after SETTINGS without ever reading the acknowledgements. */
  async "settings-flood-noread"(c, deadline) {
    c.socket.pause();
    const settings = Buffer.concat(Array.from({ length: 1000 }, () => frame(T.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 1, 0, 0]))));
    while (alive(c, deadline)) {
      if (c.socket.writableLength < 4 << 20) c.send(settings);
      await new Promise((r) => setTimeout(r, 1));
    }
    c.socket.resume();
  },
  /** WINDOW_UPDATE frames of +1 until the connection window overflows 2^31-1. */
  async "window-flood"(c, deadline) {
    const updates = Buffer.concat(Array.from({ length: 1000 }, () => frame(T.WINDOW_UPDATE, 0, 0, u32(0x100000))));
    while (alive(c, deadline)) {
      c.send(updates);
      await drained(c);
      await tick();
    }
  },
  /** HEADERS on a stream id lower than one already used. */
  async "lower-stream"(c, deadline) {
    c.send(c.headers(5, grpcHeaders("/etcdserverpb.KV/Put"), false), frame(T.DATA, F.END_STREAM, 5, put));
    await new Promise((r) => setTimeout(r, 20));
    c.send(c.headers(3, grpcHeaders("/etcdserverpb.KV/Put"), false), frame(T.DATA, F.END_STREAM, 3, put));
    await untilClosed(c, deadline);
  },
  /** CR, LF and NUL in header values: each stream is refused, the connection lives on. */
  async "bad-values"(c, deadline) {
    let id = 1;
    while (alive(c, deadline)) {
      for (const v of ["a\r\nb", "a\nb", "a\x00b"]) {
        c.send(c.headers(id, grpcHeaders("/etcdserverpb.KV/Put", [["x-injected", v]]), false), frame(T.DATA, F.END_STREAM, id, put));
        id += 2;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  },
};

export async function attack(kind: string, port: number, ms: number): Promise<AttackResult> {
  const run = ATTACKS[kind];
  if (run === undefined) throw new Error(`unknown attack ${kind}`);
  const r: AttackResult = { kind, connections: 0, goaways: {}, closedSilently: 0, resets: {}, statuses: {}, frames: 0 };
  const deadline = Date.now() + ms;
  do {
    const c = await RawH2.connect(port);
    r.connections++;
    await run(c, deadline);
    // Give the server a moment to answer what was sent, then tally.
    await Promise.race([c.closed, new Promise((res) => setTimeout(res, 200))]);
    if (c.goaway !== undefined) {
      const k = `${c.goaway.code} ${c.goaway.debug}`;
      r.goaways[k] = (r.goaways[k] ?? 0) + 1;
    } else if (c.closedFlag) r.closedSilently++;
    for (const code of c.resets().values()) r.resets[code] = (r.resets[code] ?? 0) + 1;
    for (const f of c.frames) {
      const st = f.fields?.find(([n]) => n === ":status")?.[1];
      if (st !== undefined) r.statuses[st] = (r.statuses[st] ?? 0) + 1;
    }
    r.frames += c.frames.length;
    c.close();
  } while (Date.now() < deadline);
  return r;
}

if (import.meta.main) {
  const [kind, port, ms] = process.argv.slice(2);
  const r = await attack(kind!, Number(port), Number(ms ?? 2000));
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}
