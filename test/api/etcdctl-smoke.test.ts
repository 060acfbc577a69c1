// The real etcdctl 3.4 against the client port on the fake server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFile, spawn } from "node:child_process";
import { Errors } from "../../src/rpctypes/index.ts";
import { startHarness, type Harness } from "./helpers.ts";

const ETCDCTL = "/usr/bin/etcdctl";
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const env = { ...process.env, ETCDCTL_API: "3" };
const args = () => [`--endpoints=127.0.0.1:${h.port}`, "--dial-timeout=3s", "--command-timeout=5s"];

function ctl(...a: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(ETCDCTL, [...args(), ...a], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test("etcdctl put, get, get -w json", async () => {
  expect((await ctl("put", "foo", "bar")).stdout).toBe("OK\n");
  expect((await ctl("get", "foo")).stdout).toBe("foo\nbar\n");
  const j = JSON.parse((await ctl("get", "foo", "-w", "json")).stdout);
  expect(j.kvs[0].value).toBe(Buffer.from("bar").toString("base64"));
  expect(j.header.cluster_id).toBe(4096);
});

test("etcdctl surfaces server errors with etcd's text", async () => {
  h.fake.failNext = Errors.futureRev;
  const r = await ctl("get", "foo");
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("etcdserver: mvcc: required revision is a future revision");
});

test("etcdctl watch sees a put and a delete", async () => {
  const child = spawn(ETCDCTL, [...args(), "watch", "wk"], { env });
  let out = "";
  const got = new Promise<void>((resolve) => {
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("DELETE\nwk\n")) resolve();
    });
  });
  try {
    while (h.fake.watchers.size === 0) await new Promise((r) => setTimeout(r, 5));
    await ctl("put", "wk", "v1");
    await ctl("del", "wk");
    await got;
    expect(out).toBe("PUT\nwk\nv1\nDELETE\nwk\n\n");
  } finally {
    child.kill();
  }
});

test("etcdctl lease grant / keep-alive --once / member list / endpoint status", async () => {
  const g = await ctl("lease", "grant", "30");
  expect(g.stdout).toBe("lease 0000000000007000 granted with TTL(30s)\n");
  expect((await ctl("lease", "keep-alive", "--once", "7000")).stdout).toBe("lease 0000000000007000 keepalived with TTL(30)\n");
  expect((await ctl("member", "list")).stdout).toBe("2000, started, default, http://127.0.0.1:2380, http://127.0.0.1:2379, false\n");
  const st = await ctl("endpoint", "status");
  expect(st.stdout).toBe(`127.0.0.1:${h.port}, 2000, 3.4.23, 4.1 kB, true, false, 2, 5, 5, \n`);
});

test("etcdctl --user against a server without auth proceeds without a token", async () => {
  const r = await ctl("--user=root:pw", "get", "foo");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("foo\nbar\n");
});
