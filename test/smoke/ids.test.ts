import { expect, test } from "bun:test";
import { computeClusterId, computeMemberId, hexId } from "../../src/membership/ids.ts";
import { IdGenerator } from "../../src/server/id-generator.ts";
import { buildRequest, peekRequestId } from "../../src/server/request-codec.ts";

test("member and cluster IDs match etcd's for the default member", () => {
  const m = computeMemberId(["http://localhost:2380"], "etcd-cluster");
  expect(hexId(m)).toBe("8e9e05c52164694d");
  expect(hexId(computeClusterId([m]))).toBe("cdf818194e3a8c32");
});

test("peer URL order does not change the member ID; a join time does", () => {
  const a = computeMemberId(["http://a:2380", "http://b:2380"], "t");
  expect(computeMemberId(["http://b:2380", "http://a:2380"], "t")).toBe(a);
  expect(computeMemberId(["http://a:2380", "http://b:2380"], "t", 1700000000)).not.toBe(a);
});

test("lease IDs are positive, unique and carry the member prefix", () => {
  const g = new IdGenerator(0xffffffffffffffffn, 1_700_000_000_000);
  const seen = new Set<bigint>();
  for (let i = 0; i < 1000; i++) {
    const id = g.nextLeaseId();
    expect(id > 0n).toBe(true);
    expect(id < 1n << 63n).toBe(true);
    seen.add(id);
  }
  expect(seen.size).toBe(1000);
});

test("the request ID is read from an encoded request without decoding it", () => {
  for (const id of [1n, 300n, 0xfedcba9876543210n]) {
    expect(peekRequestId(buildRequest({ ID: id, put: { key: new Uint8Array([1]) } }).data)).toBe(id);
  }
  expect(peekRequestId(new Uint8Array(0))).toBe(0n);
});
