import { expect, test } from "bun:test";
import { Code, Errors } from "../../src/rpctypes/index.ts";

test("error catalogue keeps etcd's texts and codes", () => {
  expect(Errors.compacted.message).toBe("etcdserver: mvcc: required revision has been compacted");
  expect(Errors.compacted.code).toBe(Code.OutOfRange);
  expect(Errors.leaseNotFound.code).toBe(Code.NotFound);
});
