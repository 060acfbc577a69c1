import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { TxnRequestSchema, type TxnRequest } from "../../src/gen/rpc_pb.ts";
import { Errors } from "../../src/rpctypes/index.ts";
import { validatePut, validateRange, validateTxn } from "../../src/server/validate.ts";
import { enc } from "./harness.ts";

const put = (k: string) => ({ request: { case: "requestPut" as const, value: { key: enc(k), value: enc("v") } } });
const del = (k: string, end = "") => ({ request: { case: "requestDeleteRange" as const, value: { key: enc(k), rangeEnd: enc(end) } } });
const txn = (t: Parameters<typeof create<typeof TxnRequestSchema>>[1]) => ({ request: { case: "requestTxn" as const, value: create(TxnRequestSchema, t) } });
const check = (t: Parameters<typeof create<typeof TxnRequestSchema>>[1], max = 128) => {
  try {
    validateTxn(create(TxnRequestSchema, t) as TxnRequest, max);
    return "ok";
  } catch (e) {
    return (e as Error).message;
  }
};

test("put/range static checks", () => {
  expect(() => validatePut({ key: new Uint8Array(0) } as never)).toThrow(Errors.emptyKey);
  expect(() => validatePut({ key: enc("k"), value: enc("v"), ignoreValue: true, lease: 0n } as never)).toThrow(Errors.valueProvided);
  expect(() => validatePut({ key: enc("k"), value: new Uint8Array(0), ignoreLease: true, lease: 5n } as never)).toThrow(Errors.leaseProvided);
  expect(() => validateRange({ key: new Uint8Array(0) } as never)).toThrow(Errors.emptyKey);
});

test("txn checks: op count (recursive), empty keys, duplicate keys per branch", () => {
  const dup = Errors.duplicateKey.message;
  expect(check({ success: [put("a"), put("b")] }, 2)).toBe("ok");
  expect(check({ success: [put("a"), put("b"), put("c")] }, 2)).toBe(Errors.tooManyOps.message);
  expect(check({ success: [txn({ failure: [put("a"), put("b"), put("c")] })] }, 2)).toBe(Errors.tooManyOps.message);
  expect(check({ compare: [{ key: new Uint8Array(0) }] })).toBe(Errors.emptyKey.message);
  expect(check({ failure: [put("")] })).toBe(Errors.emptyKey.message);
  expect(check({ success: [put("a"), put("a")] })).toBe(dup);
  expect(check({ success: [put("a")], failure: [put("a")] })).toBe("ok");
  expect(check({ success: [put("b"), del("a", "c")] })).toBe(dup);
  expect(check({ success: [put("c"), del("a", "c")] })).toBe("ok");
  expect(check({ success: [del("a"), del("a")] })).toBe("ok");
  expect(check({ success: [put("a"), txn({ success: [put("a")] })] })).toBe(dup);
  expect(check({ success: [txn({ success: [put("a")], failure: [put("a")] })] })).toBe("ok");
  expect(check({ success: [txn({ success: [del("a")] }), put("a")] })).toBe(dup);
  expect(check({ success: [txn({ success: [put("x")] }), txn({ failure: [put("x")] })] })).toBe(dup);
});
