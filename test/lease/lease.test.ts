import { afterEach, expect, test } from "bun:test";
import { Errors } from "../../src/rpctypes/index.ts";
import { dec, enc, fmtKvs, Harness } from "../state/harness.ts";

let h: Harness;
afterEach(async () => h?.close());

test("grant: min TTL raise, exists, too large; put attaches, revoke deletes keys in one revision", async () => {
  h = await new Harness().open();
  const g = await h.do({ leaseGrant: { ID: 100n, TTL: 1n } });
  expect([g.ID, g.TTL, g.header.revision]).toEqual([100n, 2n, 1n]);
  expect(await h.do({ leaseGrant: { ID: 100n, TTL: 5n } })).toBe(Errors.leaseExist);
  expect(await h.do({ leaseGrant: { ID: 101n, TTL: 9_000_000_001n } })).toBe(Errors.leaseTTLTooLarge);
  await h.do({ leaseGrant: { ID: 200n, TTL: 30n } });
  await h.put("a", "1", { lease: 100n }); // 2
  await h.put("b", "2", { lease: 100n }); // 3
  await h.put("c", "3", { lease: 200n }); // 4
  await h.put("b", "2", { lease: 200n }); // 5: moves b to lease 200
  const ttl = h.sm.leaseTimeToLive({ ID: 200n, keys: true } as never);
  expect([ttl.TTL, ttl.grantedTTL, ttl.keys.map(dec)]).toEqual([30n, 30n, ["b", "c"]]);
  const r = await h.do({ leaseRevoke: { ID: 100n } });
  expect(r.header.revision).toBe(6n);
  expect(fmtKvs((await h.get("a", { rangeEnd: enc("z") })).kvs)).toEqual(["b=2 c3 m5 v2 l200", "c=3 c4 m4 v1 l200"]);
  expect(await h.do({ leaseRevoke: { ID: 100n } })).toBe(Errors.leaseNotFound);
  // revoking a lease with no keys makes no revision
  await h.do({ leaseGrant: { ID: 300n, TTL: 10n } });
  expect((await h.do({ leaseRevoke: { ID: 300n } })).header.revision).toBe(6n);
  const unknown = h.sm.leaseTimeToLive({ ID: 999n, keys: false } as never);
  expect([unknown.TTL, unknown.grantedTTL]).toEqual([-1n, 0n]);
  expect(h.sm.leaseLeases().leases.map((l) => l.ID)).toEqual([200n]);
});

test("expiry with a fake clock, keepalive renews, LeaseExpire revokes, checkpoint sets remaining", async () => {
  h = await new Harness().open();
  await h.do({ leaseGrant: { ID: 1n, TTL: 10n } });
  await h.do({ leaseGrant: { ID: 2n, TTL: 20n } });
  await h.put("k", "v", { lease: 1n });
  h.now += 9_500;
  expect(h.sm.leaseTimeToLive({ ID: 1n } as never).TTL).toBe(0n);
  expect(h.sm.expiredLeases(h.now, 10)).toEqual([]);
  expect(h.sm.leaseRenew(1n)).toBe(10);
  h.now += 9_999;
  expect(h.sm.expiredLeases(h.now, 10)).toEqual([]);
  h.now += 1;
  expect(h.sm.expiredLeases(h.now, 10)).toEqual([1n]);
  expect(h.sm.leaseRenew(1n)).toBe(0); // expired: keepalive answers TTL 0
  expect(h.sm.leaseRenew(77n)).toBe(0);
  h.now += 1_000;
  expect(h.sm.expiredLeases(h.now, 10)).toEqual([1n, 2n]);
  expect(h.sm.expiredLeases(h.now, 1)).toEqual([1n]);
  const res = await h.do({ leaseExpire: { IDs: [1n, 55n] } });
  expect(res.header.revision).toBe(3n);
  expect((await h.get("k")).kvs).toEqual([]);
  expect(h.sm.leaseIdExists(1n)).toBe(false);
  await h.do({ leaseCheckpoint: { checkpoints: [{ ID: 2n, remainingTTL: 7n }] } });
  // Applying a checkpoint keeps the running deadline (here already passed), as etcd's does;
  // only a new leader (promote) or a restart starts from the checkpointed remaining TTL.
  expect(h.sm.leaseTimeToLive({ ID: 2n } as never).TTL).toBe(0n);
  // restart restores the lease with its checkpointed remaining TTL
  await h.reopen();
  expect(h.sm.leaseTimeToLive({ ID: 2n } as never)).toMatchObject({ TTL: 7n, grantedTTL: 20n });
  h.now += 7_000;
  expect(h.sm.expiredLeases(h.now, 10)).toEqual([2n]);
  h.sm.leasePromote(1_000);
  expect(h.sm.expiredLeases(h.now + 7_999, 10)).toEqual([]);
});

test("restart restores lease key attachments (revoke after reopen deletes the keys)", async () => {
  h = await new Harness().open();
  await h.do({ leaseGrant: { ID: 5n, TTL: 60n } });
  await h.put("x", "1", { lease: 5n });
  await h.put("y", "1", { lease: 5n });
  await h.reopen();
  expect(h.sm.leaseTimeToLive({ ID: 5n, keys: true } as never).keys.map(dec)).toEqual(["x", "y"]);
  await h.do({ leaseRevoke: { ID: 5n } });
  expect((await h.get("\0", { rangeEnd: enc("\0") })).count).toBe(0n);
});

test("alarms: NOSPACE blocks put, txn with puts and lease grant; deletes still work; persisted", async () => {
  h = await new Harness().open();
  await h.put("a", "1");
  const act = await h.do({ alarm: { action: 1, memberID: 2n, alarm: 1 } });
  expect(act.alarms.length).toBe(1);
  expect(act.header).toBeUndefined();
  expect(await h.put("b", "1")).toBe(Errors.noSpace);
  expect(await h.do({ leaseGrant: { ID: 1n, TTL: 5n } })).toBe(Errors.noSpace);
  expect(await h.do({ txn: { failure: [{ request: { case: "requestPut", value: { key: enc("q") } } }] } })).toBe(Errors.noSpace);
  expect((await h.do({ deleteRange: { key: enc("a") } })).deleted).toBe(1n);
  await h.reopen();
  expect(h.sm.alarms().map((a) => [a.memberID, a.alarm])).toEqual([[2n, 1]]);
  const get = await h.do({ alarm: { action: 0 } });
  expect(get.alarms.length).toBe(1);
  const off = await h.do({ alarm: { action: 2, memberID: 2n, alarm: 1 } });
  expect(off.alarms.length).toBe(1);
  expect((await h.put("b", "1")).header.revision).toBe(4n);
  expect(h.sm.quotaExceeded({ put: { key: enc("k"), value: new Uint8Array(10) } } as never)).toBe(false);
});

test("quota: a put that would pass quota-backend-bytes is reported", async () => {
  h = await new Harness({ quotaBackendBytes: 64 * 1024 }).open();
  const big = { put: { key: enc("k"), value: new Uint8Array(128 * 1024) } } as never;
  expect(h.sm.quotaExceeded(big)).toBe(true);
  expect(h.sm.quotaExceeded({ deleteRange: { key: enc("k") } } as never)).toBe(false);
});

test("checkpoints never shorten a lease: remaining TTLs are rounded up, and a cleared one means the full TTL", async () => {
  const { Lessor } = await import("../../src/lease/lessor.ts");
  let now = 1_000_000;
  const l = new Lessor(() => now, 2);
  l.grant(7n, 10, []);
  now += 900; // 9.1 s left
  const lease = l.get(7n)!;
  expect(l.remainingSeconds(lease)).toBe(9);
  expect(l.remainingSecondsCeil(lease)).toBe(10);
  l.checkpoint(7n, l.remainingSecondsCeil(lease), []);
  expect(l.checkpointed(7n)).toBe(true);
  // Applied, a checkpoint keeps the running deadline (moving it to the rounded-up value would
  // lengthen the lease by up to a second per checkpoint, as etcd's Checkpoint does not).
  expect(lease.expiry).toBe(1_000_000 + 10_000);
  // A new leader starts from it: never before the lease's own deadline.
  l.promote(0);
  expect(lease.expiry).toBeGreaterThanOrEqual(1_000_000 + 10_000);
  // A renewal clears it through the log (remaining 0): the full TTL counts, never "now".
  l.checkpoint(7n, 0, []);
  expect(l.checkpointed(7n)).toBe(false);
  // A new leader then restarts the lease from the full TTL (plus the grace it adds).
  now += 5000;
  l.promote(1000);
  expect(lease.expiry).toBe(now + 10_000 + 1000);
});
