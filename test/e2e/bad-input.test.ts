// Bad input against a member with small limits: each request gets etcd's error text, nothing
// is partially applied (the revision does not move) and the member keeps serving.
import { expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { LockRequestSchema, LockResponseSchema } from "../../src/gen/v3lock_pb.ts";
import { b64, errorLine, useMember } from "../helpers/index.ts";
import { grpcUnary } from "../helpers/grpc.ts";

const MAX_REQUEST_BYTES = 4096;
const MAX_TXN_OPS = 8;
const env = useMember({
  extraArgs: ["--max-request-bytes", String(MAX_REQUEST_BYTES), "--max-txn-ops", String(MAX_TXN_OPS)],
});

async function revision(): Promise<string> {
  return (await env().gw.range("bad/probe")).header.revision;
}

/** Runs `f`, then checks that the revision did not move and a normal write still works. */
async function unchanged(f: () => Promise<void>): Promise<void> {
  const before = await revision();
  await f();
  expect(await revision()).toBe(before);
  const put = await env().gw.put("bad/alive", "yes");
  expect(Number(put.header.revision)).toBe(Number(before) + 1);
}

function errorBody(message: string, code: number) {
  return { error: message, message, code };
}

test("request larger than --max-request-bytes: etcdctl and gateway get 'request is too large'", async () => {
  const { ctl, gw } = env();
  const value = "a".repeat(MAX_REQUEST_BYTES * 2);
  await unchanged(async () => {
    const r = await ctl.runWith({ stdin: value }, "put", "bad/big");
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe("Error: etcdserver: request is too large");
    const g = await gw.post("/v3/kv/put", { key: b64("bad/big"), value: b64(value) });
    expect(g.status).toBe(400);
    expect(g.json).toEqual(errorBody("etcdserver: request is too large", 3));
  });
  expect((await gw.range("bad/big")).kvs).toBeUndefined();
  // Just under the limit is fine.
  expect((await ctl.runWith({ stdin: "a".repeat(MAX_REQUEST_BYTES - 200) }, "put", "bad/fits")).code).toBe(0);
});

test("request beyond the transport limit (max-request-bytes + 512 KiB) is refused as ResourceExhausted", async () => {
  const { ctl, gw } = env();
  const value = "a".repeat(MAX_REQUEST_BYTES + 600 * 1024);
  await unchanged(async () => {
    const r = await ctl.runWith({ stdin: value }, "put", "bad/huge");
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(
      /^Error: rpc error: code = ResourceExhausted desc = grpc: received message larger than max \(\d+ vs\. 528384\)$/,
    );
    const g = await gw.post("/v3/kv/put", { key: b64("bad/huge"), value: b64(value) });
    expect(g.status).toBe(429);
    expect(g.json.code).toBe(8);
    expect(g.json.message).toMatch(/^grpc: received message larger than max \(\d+ vs\. 528384\)$/);
  });
  expect((await gw.range("bad/huge")).kvs).toBeUndefined();
});

test("txn over --max-txn-ops fails as a whole", async () => {
  const { ctl, gw } = env();
  const ops = Array.from({ length: MAX_TXN_OPS + 1 }, (_, i) => `put bad/t${i} v`).join("\n");
  await unchanged(async () => {
    const r = await ctl.runWith({ stdin: `\n${ops}\n\n\n` }, "txn");
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe("Error: etcdserver: too many operations in txn request");
    const g = await gw.post("/v3/kv/txn", {
      success: Array.from({ length: MAX_TXN_OPS + 1 }, (_, i) => ({ request_put: { key: b64(`bad/t${i}`), value: b64("v") } })),
    });
    expect(g.status).toBe(400);
    expect(g.json).toEqual(errorBody("etcdserver: too many operations in txn request", 3));
  });
  expect((await gw.range("bad/t0")).kvs).toBeUndefined();
  // Exactly the limit is accepted.
  const okOps = Array.from({ length: MAX_TXN_OPS }, (_, i) => `put bad/t${i} v`).join("\n");
  const ok = await ctl.runWith({ stdin: `\n${okOps}\n\n\n` }, "txn");
  expect(ok.stdout.startsWith("SUCCESS\n")).toBe(true);
});

test("duplicate keys in one txn branch (put twice, put + overlapping delete) are rejected", async () => {
  const { ctl, gw } = env();
  await unchanged(async () => {
    const r = await ctl.runWith({ stdin: "\nput bad/d 1\nput bad/d 2\n\n\n" }, "txn");
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe("Error: etcdserver: duplicate key given in txn request");
    const g = await gw.post("/v3/kv/txn", {
      success: [
        { request_put: { key: b64("bad/d1"), value: b64("v") } },
        { request_delete_range: { key: b64("bad/d"), range_end: b64("bad/e") } },
      ],
    });
    expect(g.status).toBe(400);
    expect(g.json).toEqual(errorBody("etcdserver: duplicate key given in txn request", 3));
  });
  // The same key in success and failure branches is fine.
  const ok = await gw.ok("/v3/kv/txn", {
    success: [{ request_put: { key: b64("bad/d"), value: b64("s") } }],
    failure: [{ request_put: { key: b64("bad/d"), value: b64("f") } }],
  });
  expect(ok.succeeded).toBe(true);
});

test("unknown lease: put and txn put fail with 'requested lease not found'", async () => {
  const { ctl, gw } = env();
  await unchanged(async () => {
    const r = await ctl.run("put", "bad/l", "v", "--lease=abcdef");
    expect(errorLine(r)).toBe("Error: etcdserver: requested lease not found");
    const g = await gw.post("/v3/kv/txn", {
      success: [
        { request_put: { key: b64("bad/l1"), value: b64("v") } },
        { request_put: { key: b64("bad/l2"), value: b64("v"), lease: "11259375" } },
      ],
    });
    expect(g.status).toBe(404);
    expect(g.json).toEqual(errorBody("etcdserver: requested lease not found", 5));
  });
  expect((await gw.range("bad/l1")).kvs).toBeUndefined();
});

test("future and compacted revisions: range, compaction and txn range get etcd's texts", async () => {
  const { ctl, gw } = env();
  await gw.put("bad/h", "1");
  const compactAt = (await gw.put("bad/h", "2")).header.revision;
  await gw.ok("/v3/kv/compaction", { revision: compactAt });
  await unchanged(async () => {
    const future = String(Number(compactAt) + 100);
    const f = await ctl.run("get", "bad/h", "--rev", future);
    expect(errorLine(f)).toBe("Error: etcdserver: mvcc: required revision is a future revision");
    const c = await ctl.run("get", "bad/h", "--rev", String(Number(compactAt) - 1));
    expect(errorLine(c)).toBe("Error: etcdserver: mvcc: required revision has been compacted");
    const t = await gw.post("/v3/kv/txn", {
      success: [
        { request_put: { key: b64("bad/tx"), value: b64("v") } },
        { request_range: { key: b64("bad/h"), revision: String(Number(compactAt) - 1) } },
      ],
    });
    expect(t.status).toBe(400);
    expect(t.json).toEqual(errorBody("etcdserver: mvcc: required revision has been compacted", 11));
    const tf = await gw.post("/v3/kv/txn", {
      success: [
        { request_put: { key: b64("bad/tx"), value: b64("v") } },
        { request_range: { key: b64("bad/h"), revision: future } },
      ],
    });
    expect(tf.json).toEqual(errorBody("etcdserver: mvcc: required revision is a future revision", 11));
    const cf = await gw.post("/v3/kv/compaction", { revision: future });
    expect(cf.json).toEqual(errorBody("etcdserver: mvcc: required revision is a future revision", 11));
  });
  expect((await gw.range("bad/tx")).kvs).toBeUndefined();
});

test("empty key and ignore_value on a missing key", async () => {
  const { ctl, gw } = env();
  await unchanged(async () => {
    const r = await ctl.run("put", "", "v");
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe("Error: etcdserver: key is not provided");
    const g = await gw.post("/v3/kv/put", { key: b64("bad/nokey"), ignore_value: true });
    expect(g.status).toBe(400);
    expect(g.json).toEqual(errorBody("etcdserver: key not found", 3));
    const both = await gw.post("/v3/kv/put", { key: b64("bad/x"), value: b64("v"), ignore_value: true });
    expect(both.json).toEqual(errorBody("etcdserver: value is provided", 3));
  });
});

test("malformed JSON bodies: Go's scanner texts; what follows the first value is left unread", async () => {
  const { gw } = env();
  await gw.post("/v3/kv/put", { key: b64("bad/json"), value: b64("v") });
  await unchanged(async () => {
    const cases: [string, string][] = [
      ["{bad json", "invalid character 'b' looking for beginning of object key string"],
      ['{"key":"Zm9v",}', "invalid character '}' looking for beginning of object key string"],
      ['{"key":tru}', "invalid character '}' in literal true (expecting 'e')"],
      ['{"key":"Zm9v" "x":1}', "invalid character '\"' after object key:value pair"],
      ['{"limit":01}', "invalid character '1' after object key:value pair"],
      ['{"key":"\\x"}', "invalid character 'x' in string escape code"],
      ['{"key":"Zm9v"', "unexpected EOF"],
      ["nul", "unexpected EOF"],
      ["[1,2", "unexpected EOF"],
    ];
    for (const [body, message] of cases) {
      const g = await gw.post("/v3/kv/put", body);
      expect({ body, status: g.status, json: g.json }).toEqual({ body, status: 400, json: errorBody(message, 3) });
    }
  });
  // etcd's gateway decodes one value with a json.Decoder: trailing bytes are never read.
  for (const body of [`{"key":"${b64("bad/json")}"} xyz`, `{"key":"${b64("bad/json")}"}}`, `{"key":"${b64("bad/json")}"}{"key":"YQ=="}`]) {
    const g = await gw.post("/v3/kv/range", body);
    expect({ body, status: g.status }).toEqual({ body, status: 200 });
    expect(g.json.kvs?.[0]?.value).toBe(b64("v"));
  }
});

test("JSON values of the wrong kind: encoding/json's and jsonpb's texts; bytes may be an array of numbers", async () => {
  const { gw } = env();
  await unchanged(async () => {
    const cases: [string, string, string][] = [
      ["/v3/kv/range", '{"key":"YQ==","sort_order":"NOPE"}', 'unknown value "NOPE" for enum etcdserverpb.RangeRequest_SortOrder'],
      ["/v3/kv/range", '{"key":"YQ==","sort_order":true}', "json: cannot unmarshal bool into Go value of type etcdserverpb.RangeRequest_SortOrder"],
      ["/v3/kv/range", '{"key":"YQ==","keys_only":"yes"}', "json: cannot unmarshal string into Go value of type bool"],
      ["/v3/kv/range", '{"key":"YQ==","keys_only":{}}', "json: cannot unmarshal object into Go value of type bool"],
      ["/v3/kv/range", '{"key":"YQ==","limit":true}', "json: cannot unmarshal bool into Go value of type int64"],
      ["/v3/kv/range", '{"key":"YQ==","limit":[1]}', "json: cannot unmarshal array into Go value of type int64"],
      ["/v3/kv/range", '{"key":true}', "json: cannot unmarshal bool into Go value of type []uint8"],
      ["/v3/kv/range", '{"key":{"a":1}}', "json: cannot unmarshal object into Go value of type []uint8"],
      ["/v3/kv/range", '{"key":["a"]}', "json: cannot unmarshal string into Go value of type uint8"],
      ["/v3/kv/range", '{"key":[300]}', "json: cannot unmarshal number 300 into Go value of type uint8"],
      ["/v3/kv/txn", '{"compare":{}}', "json: cannot unmarshal object into Go value of type []json.RawMessage"],
      ["/v3/kv/txn", '{"compare":[{"key":"YQ==","result":"NOPE"}]}', 'unknown value "NOPE" for enum etcdserverpb.Compare_CompareResult'],
    ];
    for (const [path, body, message] of cases) {
      const g = await gw.post(path, body);
      expect({ body, status: g.status, json: g.json }).toEqual({ body, status: 400, json: errorBody(message, 3) });
    }
    // A streaming call whose first request does not decode ends with the decoder's error as
    // gRPC's Unknown (HTTP 500), as grpc-gateway ends it.
    for (const [path, body, message] of [
      ["/v3/watch", "{bad}", "invalid character 'b' looking for beginning of object key string"],
      ["/v3/watch", '{"create_request":{"key":"YQ=="}', "unexpected EOF"],
      ["/v3/watch", '{"create_request":{"key":"!!"}}', "illegal base64 data at input byte 0"],
      ["/v3/lease/keepalive", '{"ID":true}', "json: cannot unmarshal bool into Go value of type int64"],
    ]) {
      const g = await gw.post(path!, body);
      expect({ body, status: g.status, json: g.json }).toEqual({ body, status: 500, json: errorBody(message!, 2) });
    }
  });
  // Go reads a []byte from an array of numbers too: [98,97,100,47,106,115,111,110] is "bad/json".
  const g = await gw.post("/v3/kv/range", `{"key":[${[...Buffer.from("bad/json")].join(",")}]}`);
  expect(g.json.kvs?.[0]?.key).toBe(b64("bad/json"));
});

test("Lock and Election: errors of the calls beneath reach the caller as Unknown, as from etcd's in-process client", async () => {
  const { gw, member } = env();
  await unchanged(async () => {
    for (const [path, body] of [
      ["/v3/lock/lock", { name: b64("bad/lock"), lease: "999" }],
      ["/v3/election/campaign", { name: b64("bad/el"), lease: "999", value: b64("v") }],
    ] as const) {
      const g = await gw.post(path, body);
      expect({ path, status: g.status, json: g.json }).toEqual({ path, status: 500, json: errorBody("etcdserver: requested lease not found", 2) });
    }
    const r = await grpcUnary(
      member.clientURL,
      "/v3lockpb.Lock/Lock",
      toBinary(LockRequestSchema, create(LockRequestSchema, { name: new TextEncoder().encode("bad/lock"), lease: 999n })),
      LockResponseSchema,
    );
    expect({ status: r.status, message: r.message }).toEqual({ status: 2, message: "etcdserver: requested lease not found" });
  });
});
