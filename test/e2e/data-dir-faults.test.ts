// The data dir on a small tmpfs (needs root to mount one; CI runs as root):
//  - filled by puts: writes are refused with etcd's "etcdserver: mvcc: database space exceeded",
//    the member stays up and serves reads; once space is freed it takes writes again by itself;
//    every acknowledged write is there, then and after a SIGKILL and restart, and the raft log
//    has no torn record;
//  - turned read-only under it (an ext4 file system that hits an error with errors=remount-ro,
//    triggered through /sys/fs/ext4/<dev>/trigger_fs_error): the member says so and stops
//    (exit status 1);
//  - removed while the member runs: the member says so and stops (exit status 1).
// Conclave only: etcd 3.4 panics on a failed WAL write ("failed to save state and entries").
import { afterAll, afterEach, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { KV, RangeRequestSchema } from "../../src/gen/rpc_pb.ts";
import { Client, ClientError } from "../../src/client/index.ts";
import { makeTempDir, Member, pollUntil, removeDir } from "../helpers/index.ts";

const mounts: string[] = [];
const members: Member[] = [];
const NO_SPACE = "etcdserver: mvcc: database space exceeded";
const enc = (s: string) => new TextEncoder().encode(s);

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}${r.error ? String(r.error) : ""} (mounting a tmpfs needs root)`);
}

/** A fresh tmpfs of `mb` MiB. */
function tmpfs(mb: number): string {
  const dir = makeTempDir("e2e-tmpfs");
  sh("mount", ["-t", "tmpfs", "-o", `size=${mb}m`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

afterEach(async () => {
  for (const m of members.splice(0)) await m.cleanup();
});

afterAll(() => {
  for (const d of mounts) {
    spawnSync("umount", ["-l", d]);
    removeDir(d);
  }
});

async function start(dataDir: string): Promise<{ m: Member; c: Client }> {
  const m = await Member.start({ name: "full", dataDir });
  members.push(m);
  return { m, c: new Client({ endpoints: [m.endpoint] }) };
}

test("a data dir that fills up refuses writes with an etcd error, recovers when space returns, and keeps every acknowledged write", async () => {
  // 36 MiB for the member, and 20 MiB that come back when the filler goes: after the writes that
  // waited for space take theirs, more than 1.25 × the 8 MiB reserve must be free for writes to
  // resume (the guard's hysteresis). With 12 MiB coming back, 10.1 MiB were free once at that
  // point (< 10.5 MiB) and writes rightly stayed refused.
  const mnt = tmpfs(56);
  const filler = join(mnt, "filler");
  writeFileSync(filler, Buffer.alloc(20 * 1024 * 1024, 1));
  const dataDir = join(mnt, "data");
  let { m, c } = await start(dataDir);
  const value = "v".repeat(64 * 1024);
  const acked: string[] = [];
  const refusals: string[] = [];
  const others: string[] = [];
  // Puts until the member has refused twenty in a row for lack of space.
  for (let i = 0; refusals.length < 20 && i < 2000; i++) {
    try {
      await c.call(KV.method.put, { key: enc(`full/${String(i).padStart(5, "0")}`), value: enc(value) }, { deadline: Date.now() + 15_000 });
      acked.push(`full/${String(i).padStart(5, "0")}`);
      refusals.length = 0;
    } catch (e) {
      if (e instanceof ClientError && e.message === NO_SPACE) refusals.push(e.message);
      else others.push(String(e)); // a write caught by the disk filling up: outcome unknown
    }
  }
  console.log(`${acked.length} puts acknowledged, then refused for space; ${others.length} with an unknown outcome: ${others.slice(0, 3).join("; ")}`);
  console.log(m.logTail(200).split("\n").filter((l) => /space|reloading/.test(l)).slice(0, 6).join("\n"));
  expect(refusals.length).toBe(20);
  expect(acked.length).toBeGreaterThan(50);
  expect(m.running).toBe(true);
  // Reads are served while writes are refused.
  const mid = await c.call(KV.method.range, create(RangeRequestSchema, { key: enc(acked[0]!), serializable: true }), { deadline: Date.now() + 5000 });
  expect(mid.kvs.length).toBe(1);

  // Space comes back: the member takes writes again by itself.
  unlinkSync(filler);
  await pollUntil(
    async () => {
      try {
        await c.call(KV.method.put, { key: enc("full/after"), value: enc("x") }, { deadline: Date.now() + 5000 });
        return true;
      } catch {
        return undefined;
      }
    },
    30_000,
    "a put accepted after space was freed",
  );
  const check = async () => {
    const r = await c.call(KV.method.range, { key: enc("full/"), rangeEnd: enc("full0"), keysOnly: false }, { deadline: Date.now() + 10_000 });
    const got = new Map(r.kvs.map((kv) => [new TextDecoder().decode(kv.key), kv.value.length]));
    for (const k of acked) expect(got.get(k)).toBe(value.length);
    expect(got.get("full/after")).toBe(1);
  };
  await check();

  // After a SIGKILL and a restart: the same, and a raft log without a torn record.
  c.close();
  await m.kill();
  await m.launch();
  c = new Client({ endpoints: [m.endpoint] });
  await check();
  expect(m.logTail(400)).not.toContain("torn tail");
  c.close();
}, 180_000);

test("a data dir that turns read-only stops the member with a clear message (exit status 1)", async () => {
  const root = makeTempDir("e2e-ext4");
  mounts.push(root);
  const image = join(root, "fs.img");
  const mnt = join(root, "mnt");
  mkdirSync(mnt);
  writeFileSync(image, "");
  sh("truncate", ["-s", "64M", image]);
  sh("mkfs.ext4", ["-q", "-F", image]);
  sh("mount", ["-o", "loop,errors=remount-ro", image, mnt]);
  try {
    const { m, c } = await start(join(mnt, "data"));
    await c.call(KV.method.put, { key: enc("ro/1"), value: enc("x") }, { deadline: Date.now() + 5000 });
    // What ext4 does on a metadata error with errors=remount-ro: every later write fails EROFS.
    const dev = spawnSync("findmnt", ["-n", "-o", "SOURCE", mnt], { encoding: "utf8" }).stdout.trim();
    writeFileSync(`/sys/fs/ext4/${dev.replace("/dev/", "")}/trigger_fs_error`, "test");
    await c.call(KV.method.put, { key: enc("ro/2"), value: enc("x") }, { deadline: Date.now() + 5000 }).catch(() => {});
    const exit = await Promise.race([m.process.exited, new Promise<undefined>((r) => setTimeout(r, 15_000))]);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(m.logTail(40)).toMatch(/data dir .+ is read-only \(.*\); stopping/);
    console.log(m.logTail(40).split("\n").filter((l) => /stopping/.test(l)).join("\n"));
    c.close();
  } finally {
    for (const mm of members.splice(0)) await mm.cleanup().catch(() => {});
    spawnSync("umount", [mnt]);
  }
}, 60_000);

test("a data dir removed under the running member stops it with a clear message (exit status 1)", async () => {
  const root = makeTempDir("e2e-vanish");
  mounts.push(root);
  const dataDir = join(root, "data");
  mkdirSync(dataDir);
  const { m, c } = await start(dataDir);
  await c.call(KV.method.put, { key: enc("gone/1"), value: enc("x") }, { deadline: Date.now() + 5000 });
  rmSync(dataDir, { recursive: true, force: true });
  expect(existsSync(dataDir)).toBe(false);
  const exit = await Promise.race([m.process.exited, new Promise<undefined>((r) => setTimeout(r, 15_000))]);
  expect(exit).toEqual({ code: 1, signal: null });
  expect(m.logTail(40)).toMatch(/data dir .+ was removed while the member was running .*; stopping/);
  c.close();
}, 60_000);
