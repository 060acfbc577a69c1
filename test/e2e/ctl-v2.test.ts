// `conclave ctl` in v2 mode (ETCDCTL_API=2, or `conclave ctl v2 …`) beside Debian's
// `ETCDCTL_API=2 etcdctl`: the same commands, in the same order, against three servers with
// --enable-v2: etcdctl against one etcd 3.4 (the reference), `conclave ctl` against another
// etcd 3.4 and against a Conclave member. Every transcript (stdout, stderr, exit code) must be
// the reference's once IDs, ports and times are replaced: so `conclave ctl` prints what etcdctl
// prints, and drives both servers the same way.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { CONCLAVE_CTL_BIN, runProgram, spawnProgram } from "../helpers/conclave-ctl.ts";
import { ETCDCTL_BIN, Member, normalizer, pollUntil, REPO_ROOT, V2_FLAGS, v2CtlEnv, v2Http, v2Ids, waitV2Ready } from "../helpers/index.ts";

const ETCD = process.env.ETCD_BIN ?? "/usr/bin/etcd";
const CONCLAVE = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");

interface Side {
  readonly name: string;
  readonly m: Member;
  readonly tool: string[];
  norm: (s: string) => string;
}

let reference: Side;
let oursOnEtcd: Side;
let oursOnConclave: Side;
let sides: Side[];

beforeAll(async () => {
  const [a, b, c] = await Promise.all([
    Member.start({ bin: ETCD, extraArgs: V2_FLAGS }),
    Member.start({ bin: ETCD, extraArgs: V2_FLAGS }),
    Member.start({ bin: CONCLAVE, extraArgs: V2_FLAGS }),
  ]);
  reference = { name: "etcdctl → etcd", m: a, tool: [ETCDCTL_BIN], norm: (s) => s };
  oursOnEtcd = { name: "conclave ctl → etcd", m: b, tool: [CONCLAVE_CTL_BIN, "ctl"], norm: (s) => s };
  oursOnConclave = { name: "conclave ctl v2 → conclave", m: c, tool: [CONCLAVE_CTL_BIN, "ctl", "v2"], norm: (s) => s };
  sides = [reference, oursOnEtcd, oursOnConclave];
  for (const s of sides) {
    await waitV2Ready(s.m);
    const n = normalizer(s.m, await v2Ids(s.m));
    s.norm = (x) => n(x).replace(/conclave ctl v2|conclave ctl/g, "etcdctl");
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(sides.map((s) => s.m.cleanup()));
});

/** ETCDCTL_API=2, except for `conclave ctl v2`, which needs no variable. */
function envFor(side: Side): Record<string, string> {
  const env = v2CtlEnv();
  if (side.tool.at(-1) === "v2") delete env.ETCDCTL_API;
  return env;
}

type Step = string[] | { args: string[]; stdin?: string; env?: Record<string, string>; noEndpoint?: true };

async function run(side: Side, step: Step): Promise<string> {
  const s = Array.isArray(step) ? { args: step } : step;
  const args = s.noEndpoint ? s.args : [`--endpoints=${side.m.clientURL}`, ...s.args];
  const r = await runProgram(side.tool[0]!, [...side.tool.slice(1), ...args], { env: { ...envFor(side), ...(s.env ?? {}) }, stdin: s.stdin, timeoutMs: 20_000 });
  // etcdctl runs stty to hide a typed password even when standard input is no terminal, and
  // prints stty's complaint; conclave ctl turns echo off only on a terminal.
  const stderr = r.stderr.replace(/^stty: 'standard input': Inappropriate ioctl for device\n/gm, "");
  return side.norm(`$ etcdctl ${s.args.join(" ")}\n[exit ${r.code}]\n${r.stdout}${stderr === "" ? "" : `stderr: ${stderr}`}`);
}

/** Runs the steps on every side in turn; every transcript must be the reference's. */
async function compare(steps: Step[]): Promise<void> {
  const transcripts = new Map<Side, string[]>(sides.map((s) => [s, []]));
  // The three servers are independent: each step runs on all of them at once.
  for (const step of steps) {
    const out = await Promise.all(sides.map((s) => run(s, step)));
    sides.forEach((s, i) => transcripts.get(s)!.push(out[i]!));
  }
  if (process.env.V2_TRANSCRIPT === "1") console.log(transcripts.get(reference)!.join("\n"));
  const ref = transcripts.get(reference)!;
  for (const s of [oursOnEtcd, oursOnConclave]) {
    const t = transcripts.get(s)!.map((x, i) => sameTtlWithinASecond(x, ref[i]!));
    expect({ side: s.name, t }).toEqual({ side: s.name, t: ref });
  }
}

const REMAINING_TTL = /("ttl":|TTL: )(\d+)/g;

/**
 * A remaining TTL is whole seconds read at the moment each server answers; the three servers
 * answer the same step a few ms apart, so one may read 98 where another reads 99. Such a
 * number is taken as the reference's when the two differ by at most one second; anything else
 * (another count, a larger gap) is left for the comparison to report.
 */
function sameTtlWithinASecond(ours: string, ref: string): string {
  const want = [...ref.matchAll(REMAINING_TTL)].map((m) => Number(m[2]));
  let i = 0;
  return ours.replace(REMAINING_TTL, (whole, label: string, n: string) => {
    const w = want[i++];
    return w !== undefined && Math.abs(Number(n) - w) <= 1 ? `${label}${w}` : whole;
  });
}

test("set, get, update, mk, mkdir, setdir, updatedir, rm, rmdir, ls in simple, extended and json output", async () => {
  await compare([
    ["set", "/dir/k", "v1"],
    ["get", "/dir/k"],
    ["-o", "extended", "get", "/dir/k"],
    ["-o", "json", "get", "/dir/k"],
    ["set", "/dir/k", "v2", "--swap-with-value", "v1"],
    ["set", "/dir/k", "v3", "--swap-with-value", "nope"],
    ["set", "--swap-with-index", "5", "/dir/k", "v3"],
    ["-o", "extended", "set", "/dir/t", "ttl-value", "--ttl", "100"],
    ["update", "/dir/k", "v4"],
    ["update", "/missing", "v"],
    ["-o", "json", "update", "/dir/k", "v5"],
    ["mk", "/dir/k", "again"],
    ["mk", "/new", "v"],
    ["mk", "--in-order", "/queue", "first"],
    ["mk", "--in-order", "/queue", "second"],
    ["-o", "extended", "mk", "--in-order", "/queue", "third"],
    ["ls", "--sort", "/queue"],
    ["get", "/queue"],
    ["mkdir", "/d1"],
    ["mkdir", "/d1"],
    ["-o", "json", "mkdir", "/d1b"],
    ["setdir", "/d2"],
    ["setdir", "/d2"],
    ["updatedir", "/d2"],
    ["-o", "extended", "updatedir", "/d2", "--ttl", "50"],
    ["updatedir", "/nodir"],
    ["mkdir", "/d3/sub"],
    ["set", "/d3/sub/f", "x"],
    ["set", "/d3/_hidden", "h"],
    ["ls", "--sort"],
    ["ls", "--sort", "--recursive"],
    ["ls", "--sort", "--recursive", "-p", "/"],
    ["-o", "json", "ls", "--sort", "-r", "/d3"],
    ["ls", "/dir/k"],
    ["ls", "/nothere"],
    ["get", "/d3/_hidden"],
    ["get", "-q", "/dir/k"],
    ["rm", "/dir/k", "--with-value", "wrong"],
    ["rm", "/dir/k", "--with-index", "1"],
    ["rm", "/dir/k", "--with-value", "v5"],
    ["rm", "/new"],
    ["-o", "extended", "rm", "/queue", "--recursive"],
    ["rm", "/d1"],
    ["rm", "--dir", "/d1"],
    ["-o", "json", "rmdir", "/d1b"],
    ["rmdir", "/d3"],
    ["rmdir", "/d2"],
    ["rm", "-r", "/d3"],
    ["rm", "/nokey"],
    ["-o", "json", "rm", "/dir/t"],
    ["ls", "--sort", "--recursive", "-p"],
    // Values from standard input, values that look like flags, odd characters.
    { args: ["set", "/stdin"], stdin: "from stdin\n" },
    ["get", "/stdin"],
    ["set", "--", "/dash", "-v"],
    ["set", "/sp ace/é?#", "<a&b>"],
    ["-o", "json", "get", "/sp ace/é?#"],
    ["ls", "/sp ace"],
  ]);
}, 180_000);

test("argument and flag errors, help, version: etcdctl's streams, texts and exit codes", async () => {
  await compare([
    ["get"],
    ["set"],
    ["set", "/only-key"],
    ["mk"],
    ["mkdir"],
    ["rm"],
    ["rmdir"],
    ["update", "/k"],
    ["watch"],
    ["exec-watch", "/k"],
    ["--bogus", "get", "/a"],
    ["get", "--bogus", "/a"],
    ["get", "/a", "--bogus"],
    ["--timeout=abc", "get", "/a"],
    ["set", "/a", "v", "--ttl", "x"],
    ["rm", "--dir=maybe", "/a"],
    ["bogus"],
    ["member", "bogus"],
    ["-o", "xml", "get", "/stdin"],
    ["--version"],
    ["-v"],
    ["help"],
    ["help", "get"],
    ["help", "nope"],
    ["--help"],
    ["get", "--help"],
    ["member"],
    ["member", "--help"],
    ["member", "help", "add"],
    ["user", "-h"],
    ["role", "grant", "-h"],
    ["member", "list", "x"],
    ["member", "add", "x"],
    ["member", "remove"],
    ["member", "update", "a"],
    ["user", "add"],
    ["user", "list", "x"],
    ["role", "add"],
    ["role", "list", "x"],
    ["auth", "enable", "x"],
    ["user", "grant", "u"],
    ["role", "grant", "r", "--read"],
    ["role", "grant", "r", "--path", "x", "--read"],
    ["role", "grant", "r", "--path", "/x", "--read", "--write"],
    { args: ["--endpoints=127.0.0.1:1", "get", "/a"], noEndpoint: true },
    { args: ["--endpoints=http://127.0.0.1:1", "get", "/a"], noEndpoint: true },
    { args: ["--no-sync", "--endpoints=http://127.0.0.1:1", "get", "/a"], noEndpoint: true },
    { args: ["--no-sync", "--endpoints=http://127.0.0.1:1", "user", "list"], noEndpoint: true },
    { args: ["get", "/a"], noEndpoint: true, env: { ETCDCTL_ENDPOINTS: "http://127.0.0.1:1" } },
    ["--ca-file=/nonexistent/ca.pem", "get", "/a"],
    ["--cert-file=/nonexistent/c.pem", "get", "/a"],
  ]);
}, 180_000);

test("member list/add/update/remove and cluster-health", async () => {
  await compare([
    ["member", "list"],
    ["cluster-health"],
    ["member", "update", "1234", "http://127.0.0.1:3"],
    ["member", "update", "1234", "127.0.0.1:3"],
    ["member", "add", "m2", "nourl"],
    ["member", "add", "m2", "http://127.0.0.1:1/path"],
    ["member", "remove", "zz"],
    ["member", "remove", "default"],
  ]);
}, 120_000);

test("user, role and auth: the v2 security API and enforcement with --username", async () => {
  await compare([
    ["user", "list"],
    ["role", "list"],
    ["auth", "enable"],
    ["user", "add", "root:rootpw"],
    ["user", "add", "u1:pw1"],
    ["user", "add", "u1:pw1"],
    ["user", "add", "u2:pw2"],
    ["role", "add", "r1"],
    ["role", "add", "r1"],
    ["role", "add", "r2"],
    ["role", "grant", "r1", "--path", "/pub/*", "--readwrite"],
    ["role", "grant", "r1", "--path", "/ro", "--read"],
    ["role", "grant", "r1", "--path", "/ro", "--read"],
    ["role", "grant", "r2", "--path", "/two/*", "--write"],
    ["role", "get", "r1"],
    ["role", "get", "root"],
    ["role", "get", "nope"],
    ["role", "list"],
    ["user", "grant", "u1", "--roles", "r1"],
    ["user", "grant", "u1", "--roles", "r1"],
    ["user", "grant", "u2", "--roles", "r1", "--roles", "r2"],
    ["user", "get", "u1"],
    ["user", "get", "u2"],
    ["user", "get", "root"],
    ["user", "get", "nobody"],
    ["user", "list"],
    ["user", "revoke", "u2", "--roles", "r2"],
    ["user", "revoke", "u2", "--roles", "r2"],
    ["role", "revoke", "r1", "--path", "/ro", "--write"],
    ["role", "revoke", "r1", "--path", "/ro", "--read"],
    ["auth", "enable"],
    ["auth", "enable"],
    ["--username", "root:rootpw", "role", "revoke", "guest", "--path", "/*", "--readwrite"],
    ["set", "/pub/x", "anonymous"],
    ["-u", "u1:pw1", "set", "/pub/x", "by-u1"],
    ["-u", "u1:pw1", "get", "/pub/x"],
    ["-u", "u1:pw1", "set", "/private", "x"],
    ["-u", "u1:wrong", "get", "/pub/x"],
    { args: ["get", "/pub/x"], env: { ETCDCTL_USERNAME: "u1:pw1" } },
    { args: ["-u", "u1", "get", "/pub/x"], stdin: "pw1\n" },
    ["-u", "u1:pw1", "user", "list"],
    ["-u", "root:rootpw", "user", "list"],
    ["-u", "root:rootpw", "user", "remove", "u2"],
    ["-u", "root:rootpw", "role", "remove", "r2"],
    ["-u", "root:rootpw", "role", "remove", "nope"],
    ["-u", "root:rootpw", "auth", "disable"],
    ["auth", "disable"],
    ["user", "remove", "u1"],
  ]);
}, 180_000);

test("--debug prints the requests as curl commands; --no-sync skips the member list", async () => {
  await compare([
    ["--debug", "set", "/dbg", "v"],
    ["--debug", "--no-sync", "get", "/dbg"],
    ["--debug", "-o", "json", "rm", "/dbg"],
  ]);
}, 60_000);

test("watch, watch --forever --after-index -r, exec-watch (both argument orders): the same lines", async () => {
  const lines = async (side: Side): Promise<string[]> => {
    const u = side.m.clientURL;
    const base = Number((await v2Http(u, "GET", "/v2/keys/")).headers.get("x-etcd-index"));
    const ctl = (args: string[]) => spawnProgram(side.tool[0]!, [...side.tool.slice(1), `--endpoints=${u}`, ...args], { env: envFor(side), timeoutMs: 30_000 });
    const once = ctl(["watch", "/w/one"]);
    const forever = ctl(["-o", "json", "watch", "--forever", "-r", "--after-index", String(base), "/w"]);
    const exec1 = ctl(["exec-watch", "-r", "/w", "--", "sh", "-c", 'echo "A $ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_MODIFIED_INDEX"']);
    const exec2 = ctl(["exec-watch", "sh", "-c", 'echo "B $ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"', "/w/one"]);
    try {
      await pollUntil(
        async () => ((JSON.parse((await v2Http(u, "GET", "/v2/stats/store")).body) as { watchers: number }).watchers >= 4 ? true : undefined),
        15_000,
        `${side.name}: four watchers registered`,
      );
      for (const [k, v] of [["/w/one", "1"], ["/w/two", "2"], ["/w/one", "3"]] as const) await v2Http(u, "PUT", `/v2/keys${k}`, { form: `value=${v}` });
      await v2Http(u, "DELETE", "/v2/keys/w/two");
      const r1 = await once.done;
      const count = (p: ReturnType<typeof ctl>, n: number) => pollUntil(() => (p.stdout().split("\n").filter(Boolean).length >= n ? true : undefined), 15_000, `${side.name}: ${n} lines`);
      await count(forever, 7);
      await count(exec1, 4);
      await count(exec2, 2);
      const sorted = (p: ReturnType<typeof ctl>) => p.stdout().split("\n").filter(Boolean).sort();
      return [
        `once [exit ${r1.code}] ${r1.stdout}`,
        ...forever.stdout().split("\n").filter(Boolean).map((l) => `forever ${l}`),
        // exec'd commands run concurrently: their lines may interleave in any order.
        ...sorted(exec1).map((l) => `exec1 ${l}`),
        ...sorted(exec2).map((l) => `exec2 ${l}`),
      ].map(side.norm);
    } finally {
      for (const p of [once, forever, exec1, exec2]) p.child.kill("SIGINT");
    }
  };
  const ref = await lines(reference);
  expect(ref.filter((l) => l.startsWith("exec1 ")).length).toBe(4);
  expect(ref).toContain("once [exit 0] 1\n");
  for (const s of [oursOnEtcd, oursOnConclave]) expect({ side: s.name, l: await lines(s) }).toEqual({ side: s.name, l: ref });
}, 120_000);

test("TLS files for the v2 client: a CA bundle and a client certificate that are not PEM", async () => {
  const dir = mkdtempSync("/tmp/ctl-v2-tls-");
  writeFileSync(`${dir}/bad.pem`, "not a certificate\n");
  await compare([
    [`--cert-file=${dir}/bad.pem`, `--key-file=${dir}/bad.pem`, "get", "/a"],
    [`--cert-file=${dir}/bad.pem`, "get", "/a"],
  ]);
}, 60_000);

test("exec-watch KEY -- CMD without flags runs CMD on KEY's changes (etcdctl's argument reordering watches the command's last word instead)", async () => {
  const u = oursOnConclave.m.clientURL;
  const p = spawnProgram(CONCLAVE_CTL_BIN, ["ctl", "v2", `--endpoints=${u}`, "exec-watch", "/ew", "--", "sh", "-c", 'echo "$ETCD_WATCH_KEY=$ETCD_WATCH_VALUE"'], { timeoutMs: 30_000 });
  try {
    // Writes until one arrives after the watch started (there is no other sign that it has).
    let i = 0;
    await pollUntil(
      async () => {
        if (p.stdout().includes("/ew=v")) return true;
        await v2Http(u, "PUT", "/v2/keys/ew", { form: `value=v${i++}` });
        return undefined;
      },
      15_000,
      "the command ran for a change of /ew",
      200,
    );
  } finally {
    p.child.kill("SIGINT");
  }
  expect((await p.done).code).toBe(0);
}, 60_000);
