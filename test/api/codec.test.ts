import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { base64ErrorOffset } from "../../src/api/gateway/base64.ts";
import { httpStatusFromCode } from "../../src/rpctypes/index.ts";
import { decodeJson, encodeJson } from "../../src/api/gateway/json-codec.ts";
import { JsonSplitter } from "../../src/api/gateway/json-splitter.ts";
import { FrameReader } from "../../src/api/grpc/framing.ts";
import { decodeGrpcMessage, encodeGrpcMessage } from "../../src/api/grpc/status.ts";
import * as pb from "../../src/gen/rpc_pb.ts";
import { Code, EtcdError, Errors } from "../../src/rpctypes/index.ts";

test("grpc-message percent-encodes non-printable bytes and '%' only", () => {
  expect(encodeGrpcMessage("etcdserver: no leader")).toBe("etcdserver: no leader");
  expect(encodeGrpcMessage("50% ok\nü")).toBe("50%25 ok%0A%C3%BC");
  expect(decodeGrpcMessage("50%25 ok%0A%C3%BC")).toBe("50% ok\nü");
});

test("frame reader: partial headers, merged frames, limits", () => {
  const r = new FrameReader(10, undefined);
  const out: Uint8Array[] = [];
  const two = Buffer.from([0, 0, 0, 0, 1, 7, 0, 0, 0, 0, 2, 8, 9]);
  r.push(two.subarray(0, 3), out);
  expect(out.length).toBe(0);
  expect(r.partial).toBe(true);
  r.push(two.subarray(3), out);
  expect(out.map((m) => [...m])).toEqual([[7], [8, 9]]);
  expect(r.partial).toBe(false);
  expect(() => r.push(Buffer.from([0, 0, 0, 0, 11]), [])).toThrow("grpc: received message larger than max (11 vs. 10)");
  expect(() => new FrameReader(10, undefined).push(Buffer.from([1, 0, 0, 0, 1, 0]), [])).toThrow(
    "grpc: compressed flag set with identity or empty encoding",
  );
});

test("Go base64 error offsets", () => {
  expect(base64ErrorOffset("Zm9v")).toBe(-1);
  expect(base64ErrorOffset("Zm9vYg==")).toBe(-1);
  expect(base64ErrorOffset("!")).toBe(0);
  expect(base64ErrorOffset("Zm9v!")).toBe(4);
  expect(base64ErrorOffset("Zm9")).toBe(0);
  expect(base64ErrorOffset("Zm9vYg=x")).toBe(6);
});

test("gateway JSON: proto names, int64 as strings, bytes base64, enums by name, zeros omitted", () => {
  const alarm = create(pb.AlarmResponseSchema, {
    header: { clusterId: 14841639068965178418n, memberId: 10276657743932975437n, revision: 3n, raftTerm: 0n },
    alarms: [{ memberID: 5n, alarm: pb.AlarmType.NOSPACE }],
  });
  expect(encodeJson(pb.AlarmResponseSchema, alarm)).toBe(
    '{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"3"},"alarms":[{"memberID":"5","alarm":"NOSPACE"}]}',
  );
  const lease = create(pb.LeaseGrantResponseSchema, { ID: 7n, TTL: 60n });
  expect(encodeJson(pb.LeaseGrantResponseSchema, lease)).toBe('{"ID":"7","TTL":"60"}');
  const txn = create(pb.TxnResponseSchema, {
    succeeded: true,
    responses: [{ response: { case: "responsePut", value: { header: { revision: 4n } } } }],
  });
  expect(encodeJson(pb.TxnResponseSchema, txn)).toBe('{"succeeded":true,"responses":[{"response_put":{"header":{"revision":"4"}}}]}');
});

test("gateway JSON input: proto or camelCase names, int64 as string or number, enums as name or number", () => {
  const r = decodeJson<pb.RangeRequest>(pb.RangeRequestSchema, '{"key":"Zm9v","range_end":"Zm9w","limit":"5","sortOrder":"DESCEND","sort_target":2}');
  expect(new TextDecoder().decode(r.key)).toBe("foo");
  expect(new TextDecoder().decode(r.rangeEnd)).toBe("fop");
  expect(r.limit).toBe(5n);
  expect(r.sortOrder).toBe(pb.RangeRequest_SortOrder.DESCEND);
  expect(r.sortTarget).toBe(pb.RangeRequest_SortTarget.CREATE);
  expect(decodeJson<pb.PutRequest>(pb.PutRequestSchema, "").key.length).toBe(0);
  const t = decodeJson<pb.TxnRequest>(pb.TxnRequestSchema, '{"success":[{"request_put":{"key":"YQ==","value":"Yg=="}}]}');
  expect(t.success[0]!.request.case).toBe("requestPut");
});

test("gateway JSON input errors are InvalidArgument with Go's wording", () => {
  const err = (s: string) => {
    try {
      decodeJson(pb.PutRequestSchema, s);
    } catch (e) {
      expect((e as EtcdError).code).toBe(Code.InvalidArgument);
      return (e as Error).message;
    }
    throw new Error("accepted " + s);
  };
  expect(err('{"key":"Zm9v!"}')).toBe("illegal base64 data at input byte 4");
  expect(err("hello")).toBe("invalid character 'h' looking for beginning of value");
  expect(err('{"key":')).toBe("unexpected EOF");
  expect(err("[1]")).toBe("json: cannot unmarshal array into Go value of type map[string]json.RawMessage");
  expect(() => decodeJson(pb.TxnRequestSchema, '{"success":[{"request_put":{"key":"%%"}}]}')).toThrow(
    "illegal base64 data at input byte 0",
  );
});

test("gateway JSON input: unknown fields are ignored, as etcd's gateway ignores them", () => {
  const p = decodeJson<pb.PutRequest>(pb.PutRequestSchema, '{"key":"Zm9v","foo":1,"bar":{"x":[1,"y",{"z":null}]},"value":"YmFy"}');
  expect(new TextDecoder().decode(p.key)).toBe("foo");
  expect(new TextDecoder().decode(p.value)).toBe("bar");
});

test("gateway JSON numbers are read exactly, with encoding/json's refusals", () => {
  const tl = (s: string) => decodeJson<pb.LeaseTimeToLiveRequest>(pb.LeaseTimeToLiveRequestSchema, s).ID;
  // Above 2^53: a double would turn ...993 into ...992.
  expect(tl('{"ID":9007199254740993}')).toBe(9007199254740993n);
  expect(tl('{"ID":"9007199254740993"}')).toBe(9007199254740993n);
  expect(tl('{"ID":9223372036854775807}')).toBe(9223372036854775807n);
  expect(tl('{"ID":-9223372036854775808}')).toBe(-9223372036854775808n);
  expect(tl('{"ID":-0}')).toBe(0n);
  const m = decodeJson<pb.MemberRemoveRequest>(pb.MemberRemoveRequestSchema, '{"ID":18446744073709551615}');
  expect(m.ID).toBe(18446744073709551615n);
  // Nested and repeated places too.
  const t = decodeJson<pb.TxnRequest>(pb.TxnRequestSchema, '{"compare":[{"key":"YQ==","target":"LEASE","lease":9007199254740995}],"success":[{"request_put":{"key":"YQ==","lease":9007199254740997}}]}');
  expect(t.compare[0]!.targetUnion.value).toBe(9007199254740995n);
  expect((t.success[0]!.request.value as pb.PutRequest).lease).toBe(9007199254740997n);
  const err = (schema: Parameters<typeof decodeJson>[0], s: string) => {
    try {
      decodeJson(schema, s);
    } catch (e) {
      expect((e as EtcdError).code).toBe(Code.InvalidArgument);
      return (e as Error).message;
    }
    throw new Error("accepted " + s);
  };
  // Texts taken from etcd 3.4.23's gateway.
  const R = pb.RangeRequestSchema;
  expect(err(R, '{"key":"Zm9v","limit":1.0}')).toBe("json: cannot unmarshal number 1.0 into Go value of type int64");
  expect(err(R, '{"key":"Zm9v","limit":-1e2}')).toBe("json: cannot unmarshal number -1e2 into Go value of type int64");
  expect(err(R, '{"key":"Zm9v","limit":"1.0"}')).toBe("json: cannot unmarshal number 1.0 into Go value of type int64");
  expect(err(R, '{"key":"Zm9v","limit":"abc"}')).toBe("invalid character 'a' looking for beginning of value");
  expect(err(R, '{"key":"Zm9v","limit":9223372036854775808}')).toBe("json: cannot unmarshal number 9223372036854775808 into Go value of type int64");
  expect(err(R, '{"key":"Zm9v","sort_order":1.5}')).toBe("json: cannot unmarshal number 1.5 into Go value of type etcdserverpb.RangeRequest_SortOrder");
  expect(err(R, '{"key":"Zm9v","sort_order":99999999999}')).toBe("json: cannot unmarshal number 99999999999 into Go value of type etcdserverpb.RangeRequest_SortOrder");
  expect(err(R, '{"key":"Zm9v","serializable":1}')).toBe("json: cannot unmarshal number into Go value of type bool");
  expect(err(R, '{"key":1}')).toBe("json: cannot unmarshal number into Go value of type []uint8");
  expect(err(pb.MemberRemoveRequestSchema, '{"ID":18446744073709551616}')).toBe("json: cannot unmarshal number 18446744073709551616 into Go value of type uint64");
  expect(err(pb.MemberRemoveRequestSchema, '{"ID":-1}')).toBe("json: cannot unmarshal number -1 into Go value of type uint64");
  // A string holding the mark's escape does not confuse the reader.
  const k = decodeJson<pb.PutRequest>(pb.PutRequestSchema, '{"key":"Zm9v","lease":12,"value":"","x":"\\\\u0001 \\u0001 \\u0002"}');
  expect(k.lease).toBe(12n);
});

test("gateway JSON nesting: encoding/json's depth limit, and a nested Txn past the budget is too many operations", () => {
  let s = '{"request_put":{"key":"YQ=="}}';
  for (let i = 0; i < 200; i++) s = `{"request_txn":{"success":[${s}]}}`;
  const t = decodeJson<pb.TxnRequest>(pb.TxnRequestSchema, `{"success":[${s}]}`);
  expect(t.success.length).toBe(1);
  let deep = "1";
  for (let i = 0; i < 10_001; i++) deep = `[${deep}]`;
  expect(() => decodeJson(pb.TxnRequestSchema, `{"success":${deep}}`)).toThrow("invalid character '[' exceeded max depth");
});

test("JSON splitter refuses a value that grows past its limit, before buffering more", () => {
  const s = new JsonSplitter(100, 40);
  const enc = new TextEncoder();
  expect(s.push(enc.encode('{"a":1}{"b":"' + "x".repeat(50)))).toEqual(['{"a":1}']);
  expect(() => s.push(enc.encode("y".repeat(60)))).toThrow("grpc: received message larger than max (116 vs. 40)");
});

test("JSON splitter finds each top-level object across chunk boundaries", () => {
  const s = new JsonSplitter();
  const enc = new TextEncoder();
  expect(s.push(enc.encode('{"a":"}{"} {"b'))).toEqual(['{"a":"}{"}']);
  expect(s.push(enc.encode('":[1,{}]}\n{"c":1}'))).toEqual(['{"b":[1,{}]}', '{"c":1}']);
  expect(s.rest()).toBe("");
});

test("one table maps gRPC codes to HTTP statuses (etcd 3.4 gateway)", () => {
  expect(httpStatusFromCode(Errors.emptyKey.code)).toBe(400);
  expect(httpStatusFromCode(Errors.compacted.code)).toBe(400);
  expect(httpStatusFromCode(Errors.noSpace.code)).toBe(429);
  expect(httpStatusFromCode(Errors.leaseNotFound.code)).toBe(404);
  expect(httpStatusFromCode(Errors.leaseExist.code)).toBe(412);
  expect(httpStatusFromCode(Errors.watchCanceled.code)).toBe(408);
  expect(httpStatusFromCode(Errors.permissionDenied.code)).toBe(403);
  expect(httpStatusFromCode(Errors.invalidAuthToken.code)).toBe(401);
  expect(httpStatusFromCode(Errors.noLeader.code)).toBe(503);
  expect(httpStatusFromCode(Errors.corrupt.code)).toBe(500);
  expect(httpStatusFromCode(Code.Unimplemented)).toBe(501);
});
