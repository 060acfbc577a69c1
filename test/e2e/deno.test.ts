// The member also runs from source on Deno (`deno task start`), through the same client port
// code (the h2 engine, not Deno's node:http2). This checks the task wiring and what the README
// claims works there: etcdctl put/get/watch/lease and the JSON gateway.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ctl, Gateway, Member, isEtcd, makeTempDir, spawnEtcdctl } from "../helpers/index.ts";

const root = resolve(import.meta.dir, "../..");
const deno = join(root, "node_modules/.bin/deno");
let member: Member | undefined;

beforeAll(async () => {
  if (isEtcd()) return;
  const dir = makeTempDir("deno-bin");
  const wrapper = join(dir, "conclave-deno");
  writeFileSync(wrapper, `#!/bin/sh\ncd ${JSON.stringify(root)} && exec ${JSON.stringify(deno)} run --allow-all src/main.ts "$@"\n`);
  chmodSync(wrapper, 0o755);
  member = await Member.start({ bin: wrapper, healthTimeoutMs: 60_000 });
}, 90_000);

afterAll(async () => {
  await member?.cleanup();
});

// Deno is a second runtime for the source; etcd has no counterpart, so etcd mode skips these.
test.skipIf(isEtcd())("deno task start runs the entry point (help text)", () => {
  const r = spawnSync(deno, ["task", "start", "--help"], { cwd: root, encoding: "utf8", timeout: 60_000 });
  expect(r.status).toBe(0);
  expect(r.stdout + r.stderr).toContain("--listen-client-urls");
}, 90_000);

test.skipIf(isEtcd())("on Deno: etcdctl put/get, watch, lease and the gateway work", async () => {
  const ctl = new Ctl(member!.endpoint);
  expect((await ctl.ok("put", "deno/a", "1")).trim()).toBe("OK");
  expect((await ctl.ok("get", "deno/a", "--print-value-only")).trim()).toBe("1");
  const gw = new Gateway(member!.clientURL);
  const r = await gw.range("deno/a");
  expect(r.kvs[0].value).toBe(Buffer.from("1").toString("base64"));
  // Replay from the put's revision: deterministic, no race with the watch's creation.
  const rev = String(r.kvs[0].mod_revision);
  const w = spawnEtcdctl(member!.endpoint, ["watch", "deno/", "--prefix", "--rev", rev]);
  try {
    expect(await w.stdoutAtLeast(3, 10_000)).toEqual(["PUT", "deno/a", "1"]);
  } finally {
    await w.kill();
  }
  expect(await ctl.ok("lease", "grant", "60")).toMatch(/^lease [0-9a-f]{16} granted with TTL\(60s\)/);
}, 60_000);
