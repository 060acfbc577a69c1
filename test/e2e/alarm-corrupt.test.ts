// A CORRUPT alarm (raised through the Alarm API, as etcd's corruption check raises it) stops
// the data requests that go through the log on every member — put, delete, txn, compaction,
// lease grant and revoke fail with "etcdserver: corrupt cluster" — while reads still answer
// and health reports the alarm; disarming it lets writes through again.
import { expect, test } from "bun:test";
import { b64, useMember } from "../helpers/index.ts";

const env = useMember();

const corrupt = { error: "etcdserver: corrupt cluster", message: "etcdserver: corrupt cluster", code: 15 };

test("CORRUPT alarm: writes through the log fail with 'corrupt cluster', reads answer; disarm restores writes", async () => {
  const { gw } = env();
  await gw.ok("/v3/kv/put", { key: b64("c/a"), value: b64("1") });
  const lease = await gw.ok("/v3/lease/grant", { TTL: "60" });
  const before = (await gw.ok("/v3/kv/range", { key: b64("c/a") })).header.revision;
  await gw.ok("/v3/maintenance/alarm", { action: "ACTIVATE", memberID: "4242", alarm: "CORRUPT" });

  for (const [path, body] of [
    ["/v3/kv/put", { key: b64("c/b"), value: b64("2") }],
    ["/v3/kv/deleterange", { key: b64("c/a") }],
    ["/v3/kv/txn", { success: [{ request_put: { key: b64("c/b"), value: b64("2") } }] }],
    ["/v3/kv/compaction", { revision: "1" }],
    ["/v3/lease/grant", { TTL: "60" }],
    ["/v3/lease/revoke", { ID: lease.ID }],
  ] as const) {
    const r = await gw.post(path, body);
    expect({ path, status: r.status, json: r.json }).toEqual({ path, status: 500, json: corrupt });
  }
  const read = await gw.ok("/v3/kv/range", { key: b64("c/a") });
  expect(read.kvs[0].value).toBe(b64("1"));
  expect(read.header.revision).toBe(before);
  const health = await gw.get("/health");
  expect(health.status).toBe(503);

  await gw.ok("/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: "4242", alarm: "CORRUPT" });
  await gw.ok("/v3/kv/put", { key: b64("c/b"), value: b64("2") });
  expect((await gw.get("/health")).status).toBe(200);
});
