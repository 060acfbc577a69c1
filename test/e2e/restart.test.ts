// Stop (SIGTERM) and kill (SIGKILL) a member, restart it on the same data dir: data, history,
// revision, leases and compaction state survive, and clients carry on.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { b64, Ctl, errorLine, Gateway, Member } from "../helpers/index.ts";

let member: Member;
let ctl: Ctl;
let gw: Gateway;

beforeAll(async () => {
  member = await Member.start({ name: "restart" });
  ctl = new Ctl(member.endpoint);
  gw = new Gateway(member.clientURL);
}, 30_000);

afterAll(async () => {
  await member?.cleanup();
});

test("after SIGTERM and restart: values, history and revision are kept; ids unchanged", async () => {
  const r1 = (await gw.put("rs/k", "one")).header.revision;
  const r2 = (await gw.put("rs/k", "two")).header.revision;
  const statusBefore = await gw.ok("/v3/maintenance/status", {});
  await member.stop();
  expect(member.running).toBe(false);
  await member.launch();
  const now = await gw.range("rs/k");
  expect(now.header.revision).toBe(r2);
  expect(now.kvs[0].value).toBe(b64("two"));
  expect(now.kvs[0].create_revision).toBe(r1);
  expect(now.kvs[0].version).toBe("2");
  expect((await gw.range("rs/k", { revision: r1 })).kvs[0].value).toBe(b64("one"));
  const statusAfter = await gw.ok("/v3/maintenance/status", {});
  expect(statusAfter.header.member_id).toBe(statusBefore.header.member_id);
  expect(statusAfter.header.cluster_id).toBe(statusBefore.header.cluster_id);
  // The next write continues the revision sequence.
  expect(Number((await gw.put("rs/k", "three")).header.revision)).toBe(Number(r2) + 1);
}, 30_000);

test("after SIGKILL and restart: acknowledged writes, the compaction and leases are kept", async () => {
  const lease = await gw.ok("/v3/lease/grant", { TTL: 600 });
  await gw.put("rk/leased", "v", { lease: lease.ID });
  const old = (await gw.put("rk/k", "a")).header.revision;
  const cut = (await gw.put("rk/k", "b")).header.revision;
  await gw.ok("/v3/kv/compaction", { revision: cut });
  const last = (await gw.put("rk/k", "c")).header.revision;
  await member.kill();
  await member.launch();
  expect((await gw.range("rk/k")).header.revision).toBe(last);
  expect((await gw.range("rk/k")).kvs[0].value).toBe(b64("c"));
  const compacted = await ctl.run("get", "rk/k", "--rev", old);
  expect(errorLine(compacted)).toBe("Error: etcdserver: mvcc: required revision has been compacted");
  expect(await ctl.ok("get", "rk/k", "--rev", cut, "--print-value-only")).toBe("b\n");
  const ttl = await gw.ok("/v3/lease/timetolive", { ID: lease.ID, keys: true });
  expect(ttl.grantedTTL).toBe("600");
  expect(Number(ttl.TTL)).toBeGreaterThan(0);
  expect(ttl.keys).toEqual([b64("rk/leased")]);
}, 30_000);
