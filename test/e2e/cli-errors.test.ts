// Bad command lines and unusable data dirs: one line on stderr, a non-zero exit, nothing served.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePorts, isEtcd, makeTempDir, memberBinary } from "../helpers/index.ts";

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(memberBinary(), args, { encoding: "utf8", timeout: 30_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

test("an unknown flag is refused with Go's flag text", () => {
  const r = run(["--no-such-flag"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr.split("\n")[0]).toBe("flag provided but not defined: -no-such-flag");
});

// etcd prints its usage after these lines; ours stop at the one line.
test.skipIf(isEtcd())("bad values and unusable data dirs are one-line errors with exit 1", () => {
  const bad = run(["--heartbeat-interval", "abc"]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toBe('invalid value "abc" for flag -heartbeat-interval: parse error');

  const tooShort = run(["--heartbeat-interval", "100", "--election-timeout", "200"]);
  expect(tooShort.code).toBe(1);
  expect(tooShort.stderr).toBe("--election-timeout[200ms] should be at least as 5 times as --heartbeat-interval[100ms]");

  const dir = makeTempDir("cli-errors");
  const file = join(dir, "a-file");
  writeFileSync(file, "x");
  const notDir = run(["--data-dir", file]);
  expect(notDir.code).toBe(1);
  expect(notDir.stderr.split("\n")).toHaveLength(1);
  expect(notDir.stderr).toStartWith("conclave: cannot access data directory: ");

  const env = run(["--name", "x"], { ETCD_MAX_TXN_OPS: "many" });
  expect(env.code).toBe(1);
  expect(env.stderr).toBe('invalid value "many" for ETCD_MAX_TXN_OPS: parse error');

  const ro = join(dir, "ro");
  mkdirSync(ro);
  chmodSync(ro, 0o500);
  if (process.getuid?.() !== 0) {
    const r = run(["--data-dir", join(ro, "d")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("conclave: cannot access data directory: ");
  }
});

test.skipIf(isEtcd())("--version and --help exit 0", () => {
  const v = run(["--version"]);
  expect(v.code).toBe(0);
  expect(v.stdout).toContain("API Version: 3.4");
  // The short way (--version alone, answered before the flag parser loads) and the parser's
  // way (--version among other flags, or as Go's flag package also reads it) say the same.
  for (const args of [["-version"], ["serve", "--version"], ["--version", "--name", "x"], ["--version=true"]]) {
    const o = run(args);
    expect(`${args.join(" ")}: ${o.code} ${o.stdout}`).toBe(`${args.join(" ")}: 0 ${v.stdout}`);
  }
  const h = run(["--help"]);
  expect(h.code).toBe(0);
  expect(h.stdout).toContain("--initial-cluster-state");
});

test("an initial cluster that cannot bootstrap this member: etcd's texts, exit 1", async () => {
  const dir = makeTempDir("cli-errors-cluster");
  const [client, peer] = await freePorts(2);
  const p = `http://127.0.0.1:${peer}`;
  const c = `http://127.0.0.1:${client}`;
  const base = ["--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p, "--initial-advertise-peer-urls", p];
  // etcd logs it as a critical line ("... C | etcdmain: <text>"), ours as "conclave: <text>".
  const line = (stderr: string) => stderr.split("\n").at(-1)!.replace(/^.* C \| etcdmain: /, "").replace(/^conclave: /, "");
  const dup = run([...base, "--name", "a", "--data-dir", join(dir, "a"), "--initial-cluster", `a=${p},b=${p}`]);
  expect(dup.code).toBe(1);
  expect(line(dup.stderr)).toBe(`initial cluster a=${p},b=${p} has duplicate url`);
  const missing = run([...base, "--name", "c", "--data-dir", join(dir, "c"), "--initial-cluster", `a=${p}`]);
  expect(missing.code).toBe(1);
  expect(line(missing.stderr)).toBe(`couldn't find local name "c" in the initial cluster configuration`);
});
