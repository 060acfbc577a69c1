// `conclave ctl` against Debian's etcdctl: the same arguments against the same member, stdout,
// stderr and exit code compared after normalizing what must differ (revisions, IDs, durations).
// The member is the E2E_TARGET (Conclave by default, etcd with E2E_TARGET=etcd).
import { expect, test } from "bun:test";
import { useMember } from "../helpers/index.ts";
import { CONCLAVE_CTL_BIN, lastError, normalize, runConclaveCtl, runEtcdctlRaw, type RunOpts, spawnProgram } from "../helpers/conclave-ctl.ts";
import { ETCDCTL_BIN, pollUntil } from "../helpers/index.ts";

const env = useMember();
const ep = () => `--endpoints=${env().member.endpoint}`;
const etcdctl = (args: string[], o?: RunOpts) => runEtcdctlRaw([ep(), ...args], o);
const ours = (args: string[], o?: RunOpts) => runConclaveCtl([ep(), ...args], o);

async function setup(cmds: string[][]): Promise<void> {
  for (const c of cmds) {
    const r = await etcdctl(c);
    if (r.code !== 0) throw new Error(`setup ${c.join(" ")} failed: ${r.stderr}`);
  }
}

/** Runs setup + etcdctl, then setup + conclave ctl, and compares everything. */
async function same(args: string[], opts: { setup?: string[][]; stdin?: string; errorOnly?: boolean; loose?: boolean } = {}): Promise<void> {
  await setup(opts.setup ?? []);
  const a = await etcdctl(args, { stdin: opts.stdin });
  await setup(opts.setup ?? []);
  const b = await ours(args, { stdin: opts.stdin });
  const label = `ctl ${args.join(" ")}`;
  if (opts.errorOnly) {
    expect({ label, error: lastError(b), code: b.code }).toEqual({ label, error: lastError(a), code: a.code });
    return;
  }
  // loose: a table whose column widths follow a duration's length.
  const n = (x: string) => (opts.loose ? normalize(x).replace(/-+/g, "-").replace(/ +/g, " ") : normalize(x));
  expect({ label, stdout: n(b.stdout), stderr: normalize(b.stderr), code: b.code }).toEqual({
    label,
    stdout: n(a.stdout),
    stderr: normalize(a.stderr),
    code: a.code,
  });
}

test("put, get and del in every output format", async () => {
  await same(["put", "cmp/a", "1"]);
  await same(["put", "cmp/a", "2", "--prev-kv"], { setup: [["put", "cmp/a", "1"]] });
  for (const w of ["simple", "json", "fields", "protobuf"]) {
    // protobuf output is binary: revisions cannot be normalized, so it is compared on reads.
    if (w !== "protobuf") await same(["put", "cmp/w", "v", "-w", w], { setup: [["put", "cmp/w", "old"]] });
    await same(["get", "cmp/a", "-w", w]);
    await same(["get", "cmp/", "--prefix", "-w", w]);
    if (w !== "protobuf") await same(["del", "cmp/d", "--prev-kv", "-w", w], { setup: [["put", "cmp/d", "x"]] });
  }
  await same(["get", "cmp/a", "-w", "table"]);
  await same(["get", "cmp/", "--prefix", "--keys-only"]);
  await same(["get", "cmp/", "--prefix", "--print-value-only"]);
  await same(["get", "cmp/", "--prefix", "--limit", "1", "--order", "DESCEND", "--sort-by", "VALUE"]);
  await same(["get", "cmp/", "--from-key", "--sort-by", "CREATE"]);
  await same(["get", "cmp/a", "--hex"]);
  await same(["get", "cmp/a", "cmp/z", "--consistency", "s"]);
  await same(["get", "", "--prefix", "--keys-only"]);
  await same(["del", "cmp/r1", "cmp/r3"], { setup: [["put", "cmp/r1", "a"], ["put", "cmp/r2", "b"]] });
  await same(["del", "cmp/none"]);
  await same(["put", "cmp/stdin"], { stdin: "from stdin" });
  await same(["get", "cmp/stdin"]);
  await same(["put", "cmp/x", "--ignore-value"], { setup: [["put", "cmp/x", "keep"]] });
}, 120_000);

test("argument and option errors keep etcdctl's messages and exit codes", async () => {
  await same(["put"]);
  await same(["get"]);
  await same(["del"]);
  await same(["put", "k", "v", "--lease", "zz"]);
  await same(["get", "k", "--consistency", "x"]);
  await same(["get", "k", "--order", "SIDEWAYS"]);
  await same(["get", "k", "--sort-by", "SIZE"]);
  await same(["get", "k", "--prefix", "--from-key"]);
  await same(["get", "k", "-w", "json", "--print-value-only"]);
  await same(["-w", "xml", "get", "k"]);
  await same(["get", "k", "-w", "table"]);
  await same(["compaction"]);
  await same(["compaction", "abc"]);
  await same(["lease", "grant"]);
  await same(["lease", "grant", "abc"]);
  await same(["lease", "revoke", "xyz"]);
  await same(["member", "remove"]);
  await same(["member", "remove", "zz"]);
  await same(["member", "add", "m9"]);
  await same(["member", "add", "m9", "http://127.0.0.1:1"]);
  await same(["watch"]);
  await same(["watch", "k", "--"]);
  await same(["lock"]);
  await same(["elect", "e"]);
  await same(["elect", "-l", "e", "p"]);
  await same(["txn", "extra"]);
  await same(["move-leader"]);
  await same(["snapshot", "save"]);
  await same(["alarm", "list", "x"]);
  await same(["user", "add"]);
  await same(["role", "grant-permission", "r"]);
  // Flag errors: etcdctl also prints the usage on stdout and the error twice; conclave ctl prints
  // the one error line. The line and the exit code are the same.
  await same(["get", "k", "--rev=abc"], { errorOnly: true });
  await same(["get", "k", "--bogus"], { errorOnly: true });
  await same(["--dial-timeout=abc", "get", "k"], { errorOnly: true });
  await same(["bogus"], { errorOnly: true });
}, 120_000);

test("bad TLS files: etcdctl's error line and exit code", async () => {
  await same(["--cacert=/nonexistent/ca.pem", "get", "k"]);
  const { writeFileSync, mkdtempSync } = await import("node:fs");
  const dir = mkdtempSync("/tmp/ctl-bad-");
  writeFileSync(`${dir}/bad.pem`, "not a certificate\n");
  await same([`--cert=${dir}/bad.pem`, `--key=${dir}/bad.pem`, "get", "k"]);
  await same(["--cert=", "get", "k"]);
}, 60_000);

test("an unreachable endpoint: etcdctl's error line and exit code, after the command timeout", async () => {
  const args = ["--endpoints=127.0.0.1:1", "--command-timeout=800ms", "--dial-timeout=300ms", "put", "k", "v"];
  const a = await runEtcdctlRaw(args);
  const b = await runConclaveCtl(args);
  expect({ err: lastError(b), code: b.code }).toEqual({ err: lastError(a), code: a.code });
  // One line for scripts (no hint: stderr is not a terminal).
  expect(b.stderr).toBe("Error: context deadline exceeded\n");
}, 30_000);

test("snapshot status and restore of a truncated file: one clear line and etcdctl's exit code, nothing written", async () => {
  const { writeFileSync, mkdtempSync, existsSync } = await import("node:fs");
  const dir = mkdtempSync("/tmp/ctl-snap-");
  writeFileSync(`${dir}/trunc.db`, Buffer.alloc(1000, 7));
  const a = await runEtcdctlRaw(["snapshot", "status", `${dir}/trunc.db`]);
  const b = await runConclaveCtl(["snapshot", "status", `${dir}/trunc.db`]);
  expect(b.code).toBe(a.code);
  expect(b.stderr).toMatch(/^Error: [^\n]+\n$/);
  const r = await runConclaveCtl(["snapshot", "restore", `${dir}/trunc.db`, "--data-dir", `${dir}/out`]);
  const e = await runEtcdctlRaw(["snapshot", "restore", `${dir}/trunc.db`, "--data-dir", `${dir}/out-etcd`]);
  expect(r.code).toBe(e.code);
  expect(r.stderr).toBe("Error: snapshot missing hash but --skip-hash-check=false\n");
  expect(existsSync(`${dir}/out`)).toBe(false);
}, 30_000);

test("snapshot save writes the member's snapshot with its checksum, as etcdctl does", async () => {
  const { mkdtempSync, statSync } = await import("node:fs");
  const dir = mkdtempSync("/tmp/ctl-save-");
  const a = await etcdctl(["snapshot", "save", `${dir}/a.db`]);
  const b = await ours(["snapshot", "save", `${dir}/b.db`]);
  expect(a.code).toBe(0);
  expect(b.code).toBe(0);
  expect(b.stdout).toBe(`Snapshot saved at ${dir}/b.db\n`);
  expect(statSync(`${dir}/b.db`).size % 512).toBe(32);
}, 30_000);

test("txn from stdin: success, failure, json, interactive prompts, malformed input", async () => {
  await setup([["put", "tx/k", "v"]]);
  const txn = 'value("tx/k") = "v"\nmod("tx/k") > "0"\n\nput tx/out yes\nget tx/k\n\ndel tx/none\n\n';
  await same(["txn"], { stdin: txn });
  await same(["txn", "-w", "json"], { stdin: txn });
  await same(["txn", "-w", "fields"], { stdin: txn });
  await same(["txn", "-i"], { stdin: 'ver("tx/k") = "99"\n\nput tx/out no\n\nget tx/k --prefix\n\n' });
  await same(["txn"], { stdin: "bad\n" });
  await same(["txn"], { stdin: 'value("tx/k" = "v"\n\n' });
  await same(["txn"], { stdin: 'val("tx/k") = "v"\n\nput tx/only-one-arg\n\n\n' });
  await same(["txn"], { stdin: 'val("tx/k") = "v"\n\n' });
  // Nothing of a malformed transaction was written.
  const r = await ours(["get", "tx/only-one-arg"]);
  expect(r.stdout).toBe("");
}, 120_000);

test("compaction prints the revision; an old revision gives etcd's error", async () => {
  const rev = async () => Number(/"revision":(\d+)/.exec((await etcdctl(["get", "x", "-w", "json"])).stdout)![1]);
  await setup([["put", "cmp/c", "1"]]);
  const a = await etcdctl(["compaction", String(await rev())]);
  await setup([["put", "cmp/c", "2"]]);
  const now = await rev();
  const b = await ours(["compaction", "--physical", String(now)]);
  expect({ out: normalize(b.stdout).replace(/\d+/, "N"), code: b.code }).toEqual({ out: normalize(a.stdout).replace(/\d+/, "N"), code: a.code });
  await same(["compaction", "1"]);
}, 120_000);

test("lease grant, timetolive, list, keep-alive --once, revoke in every format", async () => {
  for (const w of ["simple", "json", "fields"]) await same(["lease", "grant", "100", "-w", w]);
  await same(["lease", "grant", "100", "-w", "table"]);
  const grant = async () => /lease ([0-9a-f]+) granted/.exec((await etcdctl(["lease", "grant", "100"])).stdout)![1]!;
  const id = await grant();
  await setup([["put", "ls/k", "v", "--lease", id]]);
  for (const w of ["simple", "json", "fields"]) {
    const a = await etcdctl(["lease", "timetolive", id, "--keys", "-w", w]);
    const b = await ours(["lease", "timetolive", id, "--keys", "-w", w]);
    expect(normalize(b.stdout).replace(/\d+s\)/g, "Ns)").replace(/"ttl":\d+/, '"ttl":N').replace(/"TTL" : \d+/, '"TTL" : N')).toBe(
      normalize(a.stdout).replace(/\d+s\)/g, "Ns)").replace(/"ttl":\d+/, '"ttl":N').replace(/"TTL" : \d+/, '"TTL" : N'),
    );
    await same(["lease", "keep-alive", "--once", id, "-w", w]);
  }
  // -w protobuf: clientv3's lease responses embed the header, whose Marshal is what etcdctl
  // finds: only the header is written (decoded and compared; revisions normalized).
  const { fromBinary } = await import("@bufbuild/protobuf");
  const { ResponseHeaderSchema } = await import("../../src/gen/rpc_pb.ts");
  const header = (r: { stdout: string; code: number }) => {
    const h = fromBinary(ResponseHeaderSchema, new Uint8Array(Buffer.from(r.stdout, "latin1")));
    return { code: r.code, cluster: h.clusterId, member: h.memberId, hasRevision: h.revision > 0n, term: h.raftTerm };
  };
  for (const args of [["lease", "grant", "100"], ["lease", "timetolive", id, "--keys"], ["lease", "list"], ["lease", "keep-alive", "--once", id]]) {
    const x = await etcdctl([...args, "-w", "protobuf"]);
    const y = await ours([...args, "-w", "protobuf"]);
    expect({ args, h: header(y) }).toEqual({ args, h: header(x) });
  }
  await same(["lease", "timetolive", "1234"]);
  await same(["lease", "keep-alive", "--once", "1234"]);
  const listA = await etcdctl(["lease", "list"]);
  const listB = await ours(["lease", "list"]);
  expect(listB.stdout).toBe(listA.stdout);
  await same(["lease", "revoke", id], { setup: [] }).catch(() => {});
  const id2 = await grant();
  const rA = await etcdctl(["lease", "revoke", id2]);
  const id3 = await grant();
  const rB = await ours(["lease", "revoke", id3]);
  expect(normalize(rB.stdout)).toBe(normalize(rA.stdout));
  await same(["lease", "revoke", "1234"]);
  {
    const idA = await grant();
    const idB = await grant();
    const x = await etcdctl(["lease", "revoke", idA, "-w", "protobuf"]);
    const y = await ours(["lease", "revoke", idB, "-w", "protobuf"]);
    expect({ code: y.code, err: lastError(y) }).toEqual({ code: x.code, err: lastError(x) });
  }
  // keep-alive until the lease is revoked: prints the renewals, then the expiry line, exit 0.
  const id4 = /lease ([0-9a-f]+) granted/.exec((await etcdctl(["lease", "grant", "3"])).stdout)![1]!;
  const ka = runConclaveCtl([ep(), "lease", "keep-alive", id4]);
  await new Promise((r) => setTimeout(r, 700));
  await setup([["lease", "revoke", id4]]);
  const kr = await ka;
  expect(kr.code).toBe(0);
  expect(kr.stdout).toContain(`lease ${id4} keepalived with TTL(3)`);
  expect(kr.stdout.trimEnd().split("\n").at(-1)).toBe(`lease ${id4} expired or revoked.`);
}, 120_000);

test("member, endpoint, alarm, defrag, version in every format", async () => {
  for (const w of ["simple", "json", "fields", "table", "protobuf"]) {
    await same(["member", "list", "-w", w]);
    await same(["endpoint", "status", "-w", w]);
    await same(["endpoint", "hashkv", "-w", w]);
    await same(["endpoint", "health", "-w", w], { loose: w === "table" });
    // (etcdctl's fields printer dereferences the missing header of an empty alarm list and panics)
    if (w !== "fields") await same(["alarm", "list", "-w", w]);
  }
  await same(["endpoint", "status", "--cluster"]);
  await same(["endpoint", "health", "--cluster"]);
  await same(["alarm", "disarm"]);
  await same(["defrag"]);
  await same(["defrag", "--cluster"]);
  await same(["version"]);
  await same(["endpoint", "status", "--endpoints=127.0.0.1:1", "--command-timeout=500ms", "--dial-timeout=200ms"], { errorOnly: true });
}, 120_000);

test("watch prints events as etcdctl does, exec form gets the event in its environment", async () => {
  const { ctl } = env();
  const start = Number(/"revision":(\d+)/.exec(await ctl.ok("get", "x", "-w", "json"))![1]);
  await ctl.ok("put", "wt/a", "1");
  await ctl.ok("put", "wt/a", "2");
  await ctl.ok("del", "wt/a");
  for (const w of ["simple", "json", "fields"]) {
    const args = [ep(), "watch", "wt/", "--prefix", "--prev-kv", "--rev", String(start + 1), "-w", w];
    const a = spawnProgram(ETCDCTL_BIN, args);
    const b = spawnProgram(CONCLAVE_CTL_BIN, ["ctl", ...args]);
    // Both print the history; stop them once the delete is out.
    const deleted = (o: string) => /DELETE|"type":1/.test(o);
    await pollUntil(() => (deleted(a.stdout()) && deleted(b.stdout())) || undefined, 15_000, "both watches printed the history");
    a.child.kill("SIGINT");
    b.child.kill("SIGINT");
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(normalize(rb.stdout)).toBe(normalize(ra.stdout));
    expect(rb.stdout.length).toBeGreaterThan(0);
  }
  // Exec form: one run of the command per event with ETCD_WATCH_* set.
  const proc = spawnProgram(CONCLAVE_CTL_BIN, ["ctl", ep(), "watch", "wt/x", "--rev", String(start + 1), "--", "sh", "-c", 'echo "$ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"']);
  await ctl.ok("put", "wt/x", "exec-value");
  // The event itself is printed before the command runs: wait for the command's own line.
  await pollUntil(() => proc.stdout().includes('"PUT" "wt/x" "exec-value"') || undefined, 15_000, "the exec command ran");
  proc.child.kill("SIGINT");
  const r = await proc.done;
  expect(r.stdout).toContain('"PUT" "wt/x" "exec-value"');
}, 120_000);

test("a watch from a compacted revision: the cancel line, the error and exit code 5", async () => {
  const { ctl } = env();
  await ctl.ok("put", "wc/a", "1");
  const rev = Number(/"revision":(\d+)/.exec(await ctl.ok("put", "wc/a", "2", "-w", "json"))![1]);
  await ctl.ok("compaction", String(rev));
  await same(["watch", "wc/a", "--rev", "1"]);
}, 120_000);
