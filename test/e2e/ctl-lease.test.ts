// etcdctl lease: grant/keep-alive/timetolive/revoke/list and keys expiring with their lease.
import { afterEach, expect, test } from "bun:test";
import { errorLine, type LineProcess, useMember } from "../helpers/index.ts";

const env = useMember();
const procs: LineProcess[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill();
});

function spawn(...args: string[]): LineProcess {
  const p = env().ctl.spawn(...args);
  procs.push(p);
  return p;
}

/** Grants a lease and returns its %016x id as etcdctl printed it. */
async function grant(ttl: number): Promise<string> {
  const out = await env().ctl.ok("lease", "grant", String(ttl));
  const m = /^lease ([0-9a-f]{16}) granted with TTL\((\d+)s\)\n$/.exec(out);
  if (!m) throw new Error(`unexpected grant output: ${out}`);
  return m[1]!;
}

async function nextRevision(): Promise<string> {
  const out = await env().ctl.ok("get", "x", "-w", "json");
  return String(Number(/"revision":(\d+)/.exec(out)![1]) + 1);
}

test("grant prints a 16-digit hex id and the TTL; TTL below the minimum is raised to 2s", async () => {
  const { ctl } = env();
  expect(await ctl.ok("lease", "grant", "60")).toMatch(/^lease [0-9a-f]{16} granted with TTL\(60s\)\n$/);
  expect(await ctl.ok("lease", "grant", "1")).toMatch(/^lease [0-9a-f]{16} granted with TTL\(2s\)\n$/);
});

test("grant -w json has header fields inline, ID, TTL and an empty Error", async () => {
  const out = await env().ctl.ok("lease", "grant", "100", "-w", "json");
  expect(out).toMatch(
    /^\{"cluster_id":\d+,"member_id":\d+,"revision":\d+,"raft_term":\d+,"ID":\d+,"TTL":100,"Error":""\}\n$/,
  );
  const id = BigInt(/"ID":(\d+)/.exec(out)![1]!);
  expect(id > 0n).toBe(true);
});

test("timetolive shows granted and remaining TTL and attached keys; list includes the lease", async () => {
  const { ctl } = env();
  const id = await grant(60);
  await ctl.ok("put", "l/a", "1", `--lease=${id}`);
  await ctl.ok("put", "l/b", "2", `--lease=${id}`);
  const ttl = await ctl.ok("lease", "timetolive", id, "--keys");
  // Attached keys are listed in no particular order (etcd keeps them in a map).
  expect(ttl).toMatch(new RegExp(`^lease ${id} granted with TTL\\(60s\\), remaining\\((59|60)s\\), attached keys\\(\\[(l/a l/b|l/b l/a)\\]\\)\\n$`));
  const plain = await ctl.ok("lease", "timetolive", id);
  expect(plain).toMatch(new RegExp(`^lease ${id} granted with TTL\\(60s\\), remaining\\((59|60)s\\)\\n$`));
  const json = await ctl.ok("lease", "timetolive", id, "--keys", "-w", "json");
  expect(json).toMatch(/"ttl":(59|60),"granted-ttl":60,"keys":\[("bC9h","bC9i"|"bC9i","bC9h")\]\}/);
  expect(BigInt(/"id":(\d+)/.exec(json)![1]!).toString(16).padStart(16, "0")).toBe(id);
  const list = await ctl.ok("lease", "list");
  const lines = list.trimEnd().split("\n");
  expect(lines[0]).toBe(`found ${lines.length - 1} leases`);
  expect(lines.slice(1)).toContain(id);
  // Keys carry the lease id.
  const get = await ctl.ok("get", "l/a", "-w", "json");
  expect(BigInt(/"lease":(\d+)/.exec(get)![1]!).toString(16).padStart(16, "0")).toBe(id);
});

test("revoke deletes attached keys; revoked lease reads as expired; second revoke fails", async () => {
  const { ctl } = env();
  const id = await grant(60);
  await ctl.ok("put", "lr/k", "v", `--lease=${id}`);
  expect(await ctl.ok("lease", "revoke", id)).toBe(`lease ${id} revoked\n`);
  expect(await ctl.ok("get", "lr/k")).toBe("");
  expect(await ctl.ok("lease", "timetolive", id)).toBe(`lease ${id} already expired\n`);
  const again = await ctl.run("lease", "revoke", id);
  expect(again.code).toBe(1);
  expect(errorLine(again)).toBe("Error: failed to revoke lease (etcdserver: requested lease not found)");
  expect(await ctl.ok("lease", "list")).not.toContain(id);
});

test("put with an unknown lease fails and writes nothing", async () => {
  const { ctl } = env();
  const r = await ctl.run("put", "lu/k", "v", "--lease=1234abcd");
  expect(r.code).toBe(1);
  expect(errorLine(r)).toBe("Error: etcdserver: requested lease not found");
  expect(await ctl.ok("get", "lu/k")).toBe("");
});

test("keep-alive --once renews; for an unknown lease it reports lease not found", async () => {
  const { ctl } = env();
  const id = await grant(30);
  expect(await ctl.ok("lease", "keep-alive", "--once", id)).toBe(`lease ${id} keepalived with TTL(30)\n`);
  const r = await ctl.run("lease", "keep-alive", "--once", "1234abcd");
  expect(errorLine(r)).toBe("Error: etcdserver: requested lease not found");
  expect(r.code).toBe(2);
});

test("keys expire with their lease: a watcher sees the DELETE after the TTL", async () => {
  const { ctl } = env();
  const rev = await nextRevision();
  const w = spawn("watch", "le/", "--prefix", "--rev", rev);
  const id = await grant(2);
  const granted = Date.now();
  await ctl.ok("put", "le/k", "v", `--lease=${id}`);
  await w.waitUntil(() => w.stdoutLines.length >= 6, 10_000, "PUT and the lease expiry DELETE event");
  // Not before the TTL has run out (allow for clock granularity).
  expect(Date.now() - granted).toBeGreaterThanOrEqual(1500);
  expect(w.stdoutLines).toEqual(["PUT", "le/k", "v", "DELETE", "le/k", ""]);
  expect(await ctl.ok("get", "le/k")).toBe("");
  expect(await ctl.ok("lease", "timetolive", id)).toBe(`lease ${id} already expired\n`);
}, 15_000);

test("a running keep-alive keeps the key past its TTL; stopping it lets the key expire", async () => {
  const { ctl } = env();
  const id = await grant(2);
  await ctl.ok("put", "lk/k", "v", `--lease=${id}`);
  const ka = spawn("lease", "keep-alive", id);
  // etcdctl renews every TTL/3: six responses span well over the 2 s TTL.
  const t0 = Date.now();
  await ka.waitUntil(() => ka.stdoutLines.length >= 6, 10_000, "six keep-alive responses");
  expect(Date.now() - t0).toBeGreaterThan(2500);
  expect(ka.stdoutLines[0]).toBe(`lease ${id} keepalived with TTL(2)`);
  expect(await ctl.ok("get", "lk/k", "--print-value-only")).toBe("v\n");
  const rev = await nextRevision();
  await ka.kill();
  const w = spawn("watch", "lk/k", "--rev", rev);
  await w.waitUntil(() => w.stdoutLines.includes("DELETE"), 10_000, "expiry after keep-alive stopped");
  expect(await ctl.ok("get", "lk/k")).toBe("");
}, 20_000);
