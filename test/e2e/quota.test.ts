// --quota-backend-bytes: filling the backend raises the NOSPACE alarm; writes then fail with
// etcd's text while reads and deletes work; compact + defrag + alarm disarm recovers.
import { expect, test } from "bun:test";
import { b64, errorLine, useMember } from "../helpers/index.ts";

const QUOTA = 200_000;
const env = useMember({ extraArgs: ["--quota-backend-bytes", String(QUOTA)] });
const VALUE = "a".repeat(10_000);

test("NOSPACE: raised when full, listed, reported by status and /health, cleared by disarm", async () => {
  const { ctl, gw } = env();
  const memberId: string = (await gw.ok("/v3/maintenance/status", {})).header.member_id;
  // Bounded: 100 writes of 10 kB are five times the quota.
  let failed: string | undefined;
  let written = 0;
  for (let i = 0; i < 100 && failed === undefined; i++) {
    const r = await ctl.runWith({ stdin: VALUE }, "put", `q/${i}`);
    if (r.code === 0) written++;
    else failed = errorLine(r);
  }
  expect(failed).toBe("Error: etcdserver: mvcc: database space exceeded");
  expect(written).toBeGreaterThan(0);

  const alarm = `memberID:${memberId} alarm:NOSPACE `;
  expect(await ctl.ok("alarm", "list")).toBe(`${alarm}\n`);
  expect(await gw.ok("/v3/maintenance/alarm", {})).toEqual({ alarms: [{ memberID: memberId, alarm: "NOSPACE" }] });
  const status = await gw.ok("/v3/maintenance/status", {});
  expect(status.errors).toEqual([alarm]);
  expect((await ctl.ok("endpoint", "status")).endsWith(`, ${alarm}\n`)).toBe(true);
  const health = await gw.get("/health");
  expect(health.status).toBe(503);
  expect(health.json).toEqual({ health: "false" });
  const excluded = await gw.get("/health?exclude=NOSPACE");
  expect(excluded.status).toBe(200);
  expect(excluded.json).toEqual({ health: "true" });

  // Writes that need space fail; reads and deletes still work.
  const put = await gw.post("/v3/kv/put", { key: b64("q/x"), value: b64("small") });
  expect(put.status).toBe(429);
  expect(put.json).toEqual({
    error: "etcdserver: mvcc: database space exceeded",
    message: "etcdserver: mvcc: database space exceeded",
    code: 8,
  });
  const lease = await ctl.run("lease", "grant", "10");
  expect(errorLine(lease)).toBe("Error: failed to grant lease (etcdserver: mvcc: database space exceeded)");
  expect(await ctl.ok("get", "q/0", "--keys-only")).toBe("q/0\n\n");
  expect(await ctl.ok("del", "q/", "--prefix")).toBe(`${written}\n`);

  // Recover: compact everything, defragment, disarm.
  const rev = /"revision":(\d+)/.exec(await ctl.ok("get", "q/0", "-w", "json"))![1]!;
  await ctl.ok("compaction", rev);
  await ctl.ok("defrag");
  expect(await ctl.ok("alarm", "disarm")).toBe(`${alarm}\n`);
  expect(await ctl.ok("alarm", "list")).toBe("");
  expect(await ctl.ok("put", "q/after", "ok")).toBe("OK\n");
  expect((await gw.get("/health")).json).toEqual({ health: "true" });
}, 60_000);
