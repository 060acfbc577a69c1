// Edges where real clients met a difference from etcd: int64 JSON numbers past 2^53 on the
// gateway, unknown JSON fields, nested Txns past the operation budget, --max-concurrent-streams.
// Every expectation here holds for etcd 3.4.23 too (E2E_TARGET=etcd).
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema, RequestOpSchema, TxnRequestSchema, TxnResponseSchema } from "../../src/gen/rpc_pb.ts";
import { grpcUnary } from "../helpers/grpc.ts";
import { F, frame, grpcHeaders, grpcMessage, RawH2, T } from "../helpers/h2-raw.ts";
import { b64, Member, useMember } from "../helpers/index.ts";

const get = useMember();

/** Above 2^53: as a double it would become ...992. */
const BIG = "9007199254740993";

describe("int64 fields sent as JSON numbers are read exactly", () => {
  test("lease grant, time-to-live, put with the lease, keepalive stream, revoke", async () => {
    const { gw } = get();
    const grant = await gw.ok("/v3/lease/grant", `{"TTL":60,"ID":${BIG}}`);
    expect(grant.ID).toBe(BIG);
    const ttl = await gw.ok("/v3/lease/timetolive", `{"ID":${BIG},"keys":true}`);
    expect(ttl.ID).toBe(BIG);
    expect(Number(ttl.TTL)).toBeGreaterThan(0);
    await gw.ok("/v3/kv/put", `{"key":"${b64("int64-key")}","value":"${b64("v")}","lease":${BIG}}`);
    expect((await gw.range("int64-key")).kvs[0].lease).toBe(BIG);
    // A streamed request body: the keepalive's ID is read exactly too.
    const ka = await gw.stream("/v3/lease/keepalive", `{"ID":${BIG}}`);
    const first = await ka.next();
    expect(first.result.ID).toBe(BIG);
    expect(first.result.TTL).toBe("60");
    ka.close();
    await gw.ok("/v3/lease/revoke", `{"ID":${BIG}}`);
    expect((await gw.ok("/v3/lease/timetolive", `{"ID":${BIG}}`)).TTL).toBe("-1");
  });

  test("a watch created with a start revision given as a JSON number", async () => {
    const { gw } = get();
    const put = await gw.put("int64-watch", "1");
    const rev = put.header.revision as string;
    const w = await gw.stream("/v3/watch", `{"create_request":{"key":"${b64("int64-watch")}","start_revision":${rev}}}`);
    expect((await w.next()).result.created).toBe(true);
    const ev = await w.next();
    expect(ev.result.events[0].kv.mod_revision).toBe(rev);
    w.close();
  });

  test("numbers that do not fit, and fractions, are refused with encoding/json's texts", async () => {
    const { gw } = get();
    const cases: Array<[string, string]> = [
      [`{"key":"${b64("a")}","limit":1.5}`, "json: cannot unmarshal number 1.5 into Go value of type int64"],
      [`{"key":"${b64("a")}","limit":9223372036854775808}`, "json: cannot unmarshal number 9223372036854775808 into Go value of type int64"],
      [`{"key":"${b64("a")}","sort_order":1.5}`, "json: cannot unmarshal number 1.5 into Go value of type etcdserverpb.RangeRequest_SortOrder"],
    ];
    for (const [body, text] of cases) {
      const r = await gw.post("/v3/kv/range", body);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ error: text, message: text, code: 3 });
    }
  });
});

test("unknown JSON fields are ignored, as etcd's gateway ignores them", async () => {
  const { gw } = get();
  const r = await gw.post("/v3/kv/put", { key: b64("unknown-fields"), value: b64("v"), bogus: { nested: [1, "x"] }, other: 7 });
  expect(r.status).toBe(200);
  expect((await gw.range("unknown-fields")).kvs[0].value).toBe(b64("v"));
});

describe("a Txn nested past --max-txn-ops: InvalidArgument 'too many operations in txn request'", () => {
  const TOO_MANY = "etcdserver: too many operations in txn request";

  /** A Txn whose success branch nests `n` Txns around one put; encoded without recursion. */
  function nestedTxn(n: number): Uint8Array {
    const varint = (v: number) => {
      const o: number[] = [];
      while (v > 127) {
        o.push((v & 127) | 128);
        v >>>= 7;
      }
      o.push(v);
      return Buffer.from(o);
    };
    let cur = Buffer.from(
      toBinary(TxnRequestSchema, create(TxnRequestSchema, { success: [create(RequestOpSchema, { request: { case: "requestPut", value: create(PutRequestSchema, { key: new TextEncoder().encode("nest") }) } })] })),
    );
    for (let i = 0; i < n; i++) {
      const op = Buffer.concat([Buffer.from([0x22]), varint(cur.length), cur]); // RequestOp.request_txn = 4
      cur = Buffer.concat([Buffer.from([0x12]), varint(op.length), op]); // TxnRequest.success = 2
    }
    return cur;
  }

  test("over gRPC: 127 nested levels are applied, 128 and 50000 are refused", async () => {
    const target = get().member.clientURL;
    const ok = await grpcUnary(target, "/etcdserverpb.KV/Txn", nestedTxn(127), TxnResponseSchema);
    expect([ok.status, ok.message]).toEqual([0, ""]);
    expect(ok.response!.succeeded).toBe(true);
    for (const n of [128, 50_000]) {
      const r = await grpcUnary(target, "/etcdserverpb.KV/Txn", nestedTxn(n), TxnResponseSchema);
      expect([r.status, r.message]).toEqual([3, TOO_MANY]);
    }
  });

  test("over the gateway: the same budget, and encoding/json's depth limit", async () => {
    const { gw } = get();
    const body = (n: number) => {
      let s = `{"request_put":{"key":"${b64("nest")}"}}`;
      for (let i = 0; i < n; i++) s = `{"request_txn":{"success":[${s}]}}`;
      return `{"success":[${s}]}`;
    };
    expect((await gw.post("/v3/kv/txn", body(127))).status).toBe(200);
    expect((await gw.post("/v3/kv/txn", body(128))).json).toEqual({ error: TOO_MANY, message: TOO_MANY, code: 3 });
    const deep = await gw.post("/v3/kv/txn", body(5000));
    expect(deep.status).toBe(400);
    expect(deep.json.error).toBe("invalid character '[' exceeded max depth");
  });
});

test("--max-concurrent-streams: streams past the limit get RST_STREAM(REFUSED_STREAM)", async () => {
  const m = await Member.start({ extraArgs: ["--max-concurrent-streams", "2"] });
  try {
    const c = await RawH2.connect(m.clientPort);
    const settings = c.frames.find((f) => f.type === T.SETTINGS && f.flags === 0)!;
    const advertised = new Map<number, number>();
    for (let o = 0; o < settings.payload.length; o += 6) advertised.set(settings.payload.readUInt16BE(o), settings.payload.readUInt32BE(o + 2));
    expect(advertised.get(3)).toBe(2);
    const watch = grpcMessage(Buffer.from([0x0a, 0x03, 0x0a, 0x01, 0x61])); // WatchRequest{create_request{key:"a"}}
    for (const id of [1, 3, 5]) c.send(c.headers(id, grpcHeaders("/etcdserverpb.Watch/Watch"), false), frame(T.DATA, 0, id, watch));
    await c.until(() => c.resets().has(5), 5000, "stream 5 refused");
    expect(c.resets().get(5)).toBe(7); // REFUSED_STREAM
    // The two within the limit are served (their watches are created).
    await c.until(() => [1, 3].every((id) => c.frames.some((f) => f.id === id && f.type === T.DATA)), 5000, "streams 1 and 3 answered");
    expect(c.resets().has(1) || c.resets().has(3)).toBe(false);
    // Once one ends, a new stream fits again.
    c.send(frame(T.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])));
    c.send(c.headers(7, grpcHeaders("/etcdserverpb.Watch/Watch"), false), frame(T.DATA, F.END_STREAM & 0, 7, watch));
    await c.until(() => c.frames.some((f) => f.id === 7 && f.type === T.DATA), 5000, "stream 7 answered");
    expect(c.resets().has(7)).toBe(false);
    c.close();
  } finally {
    await m.cleanup();
  }
});

describe("HTTP/1.1 requests with invalid header bytes or oversized heads get Go's answers", () => {
  /**
   * Sends raw bytes and resolves with everything the server answers before closing (or
   * resetting: a server that refuses a head while the rest is still arriving resets the
   * connection after its answer, as Go's does).
   */
  const raw = (bytes: string): Promise<string> =>
    new Promise((resolve) => {
      const s = connect(get().member.clientPort, "127.0.0.1", () => s.write(Buffer.from(bytes, "latin1")));
      let got = "";
      s.on("data", (d) => (got += d.toString("latin1")));
      s.on("close", () => resolve(got));
      s.on("error", () => resolve(got));
      setTimeout(() => s.destroy(), 3000);
    });
  for (const [what, value] of [["CR", "a\rb"], ["NUL", "a\x00b"], ["a control character", "a\x01b"]] as const) {
    test(`${what} in a header value`, async () => {
      const r = await raw(`GET /version HTTP/1.1\r\nHost: x\r\nX-A: ${value}\r\n\r\n`);
      expect(r.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request: invalid header value");
      expect(r.endsWith("\r\n\r\n400 Bad Request: invalid header value")).toBe(true);
    });
  }
  test("a bad escape in the path is refused before routing, on every route; one in the query is not", async () => {
    for (const path of ["/v2/keys/%zz", "/v3/kv/%4", "/version%"]) {
      const r = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(r.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
      expect(r).toContain("\r\nConnection: close\r\n");
      expect(r.endsWith("\r\n\r\n400 Bad Request")).toBe(true);
    }
    const ok = await raw("GET /version?a=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(ok.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
  });
  test("a space in a header name", async () => {
    const r = await raw("GET /version HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n");
    expect(r.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request: invalid header name");
  });
  test("Go's header limit: a 1 MiB request head is served; one past 1 MiB + 4 KiB gets 431", async () => {
    const ok = await raw(`GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ${"a".repeat(1 << 20)}\r\n\r\n`);
    expect(ok.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    expect(ok).toContain('"etcdserver":');
    const over = await raw(`GET /version HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat((1 << 20) + 8192)}\r\n\r\n`);
    expect(over.split("\r\n")[0]).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect(over.endsWith("\r\n\r\n431 Request Header Fields Too Large")).toBe(true);
  });
});

test("a streamed gateway request over the receive limit: HTTP 429 and the stream's error line", async () => {
  const { gw } = get();
  // A 3 MiB key: over --max-request-bytes + 512 KiB (2 MiB) once decoded.
  const key = Buffer.alloc(3 * 1024 * 1024, 0x61).toString("base64");
  const r = await gw.post("/v3/watch", `{"create_request":{"key":"${key}"}}`, 20_000);
  expect(r.status).toBe(429);
  const line = JSON.parse(r.text.trim().split("\n")[0]!);
  expect(line.error.grpc_code).toBe(8);
  expect(line.error.http_code).toBe(429);
  expect(line.error.message).toMatch(/^grpc: received message larger than max \([0-9]+ vs\. 2097152\)$/);
}, 30_000);
