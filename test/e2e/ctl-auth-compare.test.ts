// `conclave ctl user|role|auth` and the data, lease, watch, lock, maintenance and member
// commands under auth, beside Debian's etcdctl: two members of the target (Conclave, or etcd
// with E2E_TARGET=etcd) go through the same steps, one driven by etcdctl, the other by
// `conclave ctl`; stdout, stderr and exit code of every step must match once revisions, IDs and
// times are normalized. Covers --user name:password, --user with --password, a password typed
// on standard input, wrong and missing credentials, every output format of the auth commands.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { CONCLAVE_CTL_BIN, normalize, runProgram } from "../helpers/conclave-ctl.ts";
import { ETCDCTL_BIN, Member } from "../helpers/index.ts";

let a: Member;
let b: Member;

beforeAll(async () => {
  [a, b] = await Promise.all([Member.start(), Member.start()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.cleanup(), b?.cleanup()]);
});

type Step = string[] | { args: string[]; stdin?: string };

async function run(tool: string[], m: Member, step: Step): Promise<string> {
  const s = Array.isArray(step) ? { args: step } : step;
  const r = await runProgram(tool[0]!, [...tool.slice(1), `--endpoints=${m.endpoint}`, ...s.args], { stdin: s.stdin, timeoutMs: 20_000 });
  // Both print the prompts; etcdctl's stty complains when standard input is no terminal (in
  // words and quotes that follow the locale).
  // clientv3 logs failed retries as JSON lines first; conclave ctl does not (docs/design-notes.md).
  const stderr = r.stderr.replace(/^stty: .*\n/gm, "").replace(/^\{"level":.*\n/gm, "");
  const text = `$ ctl ${s.args.join(" ")}\n[exit ${r.code}]\n${r.stdout}${stderr === "" ? "" : `stderr: ${stderr}`}`;
  return normalize(text.replaceAll(String(m.clientPort), "<port>").replaceAll(String(m.peerPort), "<peer>"))
    .replace(/\b[0-9a-f]{14,16}\b|<id16>/g, "<id>")
    // endpoint status: raft term, index and applied index follow each member's own log.
    .replace(/(, (?:true|false), (?:true|false), )\d+, \d+, \d+, /g, "$1N, N, N, ")
    .replace(/"(member_id|cluster_id|ID|leader|memberID)":\d+/g, '"$1":N')
    .replace(/(ClusterID|MemberID|ID|Leader)" : \d+/g, '$1" : N');
}

async function compare(steps: Step[]): Promise<void> {
  const ta: string[] = [];
  const tb: string[] = [];
  for (const s of steps) {
    const [x, y] = await Promise.all([run([ETCDCTL_BIN], a, s), run([CONCLAVE_CTL_BIN, "ctl"], b, s)]);
    ta.push(x);
    tb.push(y);
  }
  if (process.env.CTL_TRANSCRIPT === "1") console.log(ta.join("\n"));
  // The first step that differs, on its own: a short report that says which one and how.
  const first = ta.findIndex((x, i) => x !== tb[i]);
  if (first >= 0) expect(`step ${first + 1}:\n${tb[first]}`).toBe(`step ${first + 1}:\n${ta[first]}`);
  expect(tb).toEqual(ta);
}

const ROOT = ["--user", "root:rootpw"];
const ALICE = ["--user", "alice:alicepw"];
const BOB = ["--user", "bob", "--password", "bobpw"];

test("users and roles: add, get, list, grant, revoke, passwd, delete in every format; auth enable", async () => {
  await compare([
    ["user", "add", "root:rootpw"],
    ["user", "add", "alice", "--new-user-password", "alicepw"],
    ["user", "add", "bob:bobpw", "-w", "json"],
    ["user", "add", "carol", "--no-password"],
    { args: ["user", "add", "dave", "--interactive=false"], stdin: "davepw\n" },
    { args: ["user", "add", "erin"], stdin: "erinpw\nerinpw\n" },
    { args: ["user", "add", "frank"], stdin: "one\ntwo\n" },
    ["user", "add", ":nameless"],
    ["user", "add", "root:again"],
    ["user", "list"],
    ["user", "list", "-w", "json"],
    ["role", "add", "app"],
    ["role", "add", "app"],
    ["role", "add", "ops", "-w", "fields"],
    ["role", "grant-permission", "app", "readwrite", "/a/", "--prefix"],
    ["role", "grant-permission", "app", "read", "/k"],
    ["role", "grant-permission", "app", "write", "/r1", "/r5"],
    ["role", "grant-permission", "app", "readwrite", "/z", "--from-key"],
    ["role", "grant-permission", "app", "sideways", "/k"],
    ["role", "grant-permission", "nope", "read", "/k"],
    ["role", "grant-permission", "ops", "read", "/o", "--prefix", "--from-key"],
    ["role", "get", "app"],
    ["role", "get", "app", "-w", "json"],
    ["role", "get", "app", "-w", "fields"],
    ["role", "get", "nope"],
    ["role", "list"],
    ["role", "list", "-w", "json"],
    ["user", "grant-role", "alice", "app"],
    ["user", "grant-role", "alice", "app"],
    ["user", "grant-role", "bob", "ops"],
    ["user", "grant-role", "alice", "nope"],
    ["user", "get", "alice"],
    ["user", "get", "alice", "--detail"],
    ["user", "get", "alice", "-w", "json"],
    ["user", "get", "dave"],
    ["user", "revoke-role", "bob", "ops"],
    ["user", "revoke-role", "bob", "ops"],
    ["role", "revoke-permission", "app", "/k"],
    ["role", "revoke-permission", "app", "/r1", "/r5"],
    ["role", "revoke-permission", "app", "/k"],
    ["role", "revoke-permission", "ops", "/o", "--prefix"],
    { args: ["user", "passwd", "dave", "--interactive=false"], stdin: "davepw2\n" },
    { args: ["user", "passwd", "erin"], stdin: "new\nnew\n" },
    ["user", "delete", "frank"],
    ["user", "delete", "frank"],
    ["role", "delete", "ops"],
    ["role", "delete", "ops"],
    ["auth", "disable"],
    ["auth", "enable"],
    ["auth", "enable"],
  ]);
}, 240_000);

test("data commands with --user: permitted, denied, no user, wrong password, a password from standard input", async () => {
  await compare([
    ["put", "/a/x", "1"],
    ["get", "/a/x"],
    [...ALICE, "put", "/a/x", "1"],
    [...ALICE, "get", "/a/x"],
    [...ALICE, "get", "/a/", "--prefix", "-w", "json"],
    [...ALICE, "put", "/b", "1"],
    [...ALICE, "get", "/", "--prefix"],
    [...ALICE, "del", "/a/x", "--prev-kv"],
    [...ALICE, "put", "/zoo", "z"],
    [...ALICE, "get", "/z", "--from-key", "--keys-only"],
    { args: [...ALICE, "txn"], stdin: 'value("/a/t") = "x"\n\nput /a/t 1\n\nput /a/t 2\n\n' },
    { args: [...ALICE, "txn"], stdin: 'value("/a/t") = "x"\n\nput /a/t 1\n\nput /b 2\n\n' },
    [...BOB, "get", "/a/x"],
    ["--user", "alice:wrong", "get", "/a/x"],
    ["--user", "ghost:wrong", "get", "/a/x"],
    ["--user", "carol:x", "get", "/a/x"],
    ["--user", "alice", "--password", "alicepw", "get", "/a/t", "--print-value-only"],
    { args: ["--user", "alice", "get", "/a/t", "--print-value-only"], stdin: "alicepw\n" },
    [...ROOT, "get", "/", "--prefix", "--keys-only"],
    [...ROOT, "compaction", "2"],
    [...ALICE, "compaction", "2"],
  ]);
}, 240_000);

test("leases, lock, elect, maintenance and member commands as root, as a user and without one", async () => {
  await compare([
    [...ALICE, "lease", "grant", "60"],
    [...ROOT, "lease", "list"],
    [...ALICE, "lease", "revoke", "1234"],
    ["lease", "grant", "60"],
    [...ROOT, "endpoint", "status"],
    [...ROOT, "endpoint", "health"],
    ["endpoint", "health"],
    [...ALICE, "endpoint", "health"],
    [...ROOT, "endpoint", "hashkv"],
    [...ALICE, "endpoint", "hashkv"],
    [...ROOT, "alarm", "list"],
    [...ALICE, "alarm", "disarm"],
    [...ROOT, "defrag"],
    [...ALICE, "defrag"],
    [...ROOT, "member", "list"],
    [...ALICE, "member", "add", "x", "--peer-urls=http://127.0.0.1:1"],
    [...ALICE, "move-leader", "1"],
    ["move-leader", "1"],
    [...ALICE, "snapshot", "save", "/dev/null"],
    [...ALICE, "lock", "/a/lk", "--", "echo", "locked"],
    [...ALICE, "lock", "/nolock", "--", "echo", "locked"],
    [...ALICE, "user", "list"],
    [...ALICE, "user", "get", "alice"],
    [...ALICE, "role", "get", "app"],
    [...ALICE, "role", "get", "root"],
    [...ALICE, "auth", "disable"],
    [...ROOT, "auth", "disable"],
    ["user", "list"],
  ]);
}, 240_000);
