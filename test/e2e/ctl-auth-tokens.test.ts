// Long-running `conclave ctl` commands whose token goes bad under them, against the target
// member (Conclave, or etcd with E2E_TARGET=etcd):
//  - simple tokens: the member restarts and forgets every token; `watch` and
//    `lease keep-alive` carry on (beside etcdctl's, which do too, printing the same);
//  - JWT with a 2 s TTL: `watch -i` creates a watch after its token expired and after an auth
//    change made its token's revision old, and `lease keep-alive` runs across an auth change:
//    the client library fetches a new token each time (clientv3 3.4 gave up on watch creates).
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONCLAVE_CTL_BIN, normalize, spawnProgram } from "../helpers/conclave-ctl.ts";
import { Ctl, ctlEnv, delay, ETCDCTL_BIN, makeTempDir, Member, pollUntil, removeDir } from "../helpers/index.ts";

const dir = makeTempDir("ctl-auth-tokens");
const members: Member[] = [];
afterAll(async () => {
  await Promise.all(members.map((m) => m.cleanup()));
  removeDir(dir);
});

const ALICE = ["--user", "alice:alicepw"];
const ROOT = ["--user", "root:rootpw"];

async function withAuth(extraArgs: string[] = []): Promise<{ m: Member; ctl: Ctl }> {
  const m = await Member.start({ extraArgs });
  members.push(m);
  const ctl = new Ctl(m.endpoint);
  for (const c of [
    ["user", "add", "root:rootpw"],
    ["user", "add", "alice:alicepw"],
    ["role", "add", "app"],
    ["role", "grant-permission", "app", "readwrite", "/a/", "--prefix"],
    ["user", "grant-role", "alice", "app"],
    ["auth", "enable"],
  ]) {
    await ctl.ok(...c);
  }
  return { m, ctl };
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

test("simple tokens: watch and lease keep-alive outlive a member restart that forgets every token, as etcdctl's do", async () => {
  const { m, ctl } = await withAuth();
  const lease = /lease ([0-9a-f]+) granted/.exec(await ctl.ok(...ALICE, "lease", "grant", "10"))![1]!;
  await ctl.ok(...ALICE, "put", "/a/leased", "x", "--lease", lease);
  const run = (bin: string[], args: string[]) => spawnProgram(bin[0]!, [...bin.slice(1), `--endpoints=${m.endpoint}`, ...ALICE, ...args], { timeoutMs: 60_000 });
  const tools = { etcdctl: [ETCDCTL_BIN], ours: [CONCLAVE_CTL_BIN, "ctl"] };
  // From the next revision: the first put reaches both watches however fast they start.
  const rev = Number(/"revision":(\d+)/.exec(await ctl.ok(...ALICE, "get", "/a/leased", "-w", "json"))![1]);
  const watches = Object.fromEntries(Object.entries(tools).map(([k, t]) => [k, run(t, ["watch", "/a/", "--prefix", "--rev", String(rev + 1)])]));
  const kas = Object.fromEntries(Object.entries(tools).map(([k, t]) => [k, run(t, ["lease", "keep-alive", lease])]));
  try {
    await ctl.ok(...ALICE, "put", "/a/1", "before");
    await pollUntil(() => (Object.values(watches).every((w) => w.stdout().includes("before")) ? true : undefined), 15_000, "both watches saw the first put");
    await pollUntil(() => (Object.values(kas).every((k) => k.stdout().includes("keepalived")) ? true : undefined), 15_000, "both keep-alives renewed");
    const renewed = Object.fromEntries(Object.entries(kas).map(([k, p]) => [k, lines(p.stdout()).length]));
    await m.restart();
    await ctl.ok(...ALICE, "put", "/a/2", "after");
    await pollUntil(() => (Object.values(watches).every((w) => w.stdout().includes("after")) ? true : undefined), 20_000, "both watches saw the put after the restart").catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(Object.fromEntries(Object.entries(watches).map(([k, w]) => [k, w.stdout()])))}`);
    });
    // Each keep-alive renews again on the restarted member (every TTL/3 = 3.3 s).
    await pollUntil(() => (Object.entries(kas).every(([k, p]) => lines(p.stdout()).length > renewed[k]! + 1) ? true : undefined), 20_000, "both keep-alives renewed after the restart");
    expect(normalize(watches.ours!.stdout())).toBe(normalize(watches.etcdctl!.stdout()));
    expect(new Set(lines(kas.ours!.stdout()))).toEqual(new Set(lines(kas.etcdctl!.stdout())));
  } finally {
    for (const p of [...Object.values(watches), ...Object.values(kas)]) p.child.kill("SIGINT");
  }
  for (const p of [...Object.values(watches), ...Object.values(kas)]) await p.done;
  expect(watches.ours!.stdout()).toBe("PUT\n/a/1\nbefore\nPUT\n/a/2\nafter\n");
}, 120_000);

function jwtFlags(): string[] {
  const k = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const priv = join(dir, "jwt-priv.pem");
  const pub = join(dir, "jwt-pub.pem");
  writeFileSync(priv, k.privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  writeFileSync(pub, k.publicKey.export({ type: "spki", format: "pem" }) as string);
  return ["--auth-token", `jwt,pub-key=${pub},priv-key=${priv},sign-method=RS256,ttl=2s`];
}

test("JWT with a 2 s TTL: watch -i creates watches after its token expired and after an auth change; keep-alive runs across an auth change", async () => {
  const { m, ctl } = await withAuth(jwtFlags());
  const child = spawn(CONCLAVE_CTL_BIN, ["ctl", `--endpoints=${m.endpoint}`, ...ALICE, "watch", "-i"], { env: ctlEnv(), stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const lease = /lease ([0-9a-f]+) granted/.exec(await ctl.ok(...ALICE, "lease", "grant", "6"))![1]!;
  await ctl.ok(...ALICE, "put", "/a/leased", "x", "--lease", lease);
  const ka = spawnProgram(CONCLAVE_CTL_BIN, ["ctl", `--endpoints=${m.endpoint}`, ...ALICE, "lease", "keep-alive", lease], { timeoutMs: 60_000 });
  try {
    const watchAndPut = async (key: string, value: string) => {
      child.stdin.write(`watch ${key}\n`);
      // The create is answered before the put lands only if it was sent first: retry the put
      // until the event shows (a watch from "now" misses a put that raced ahead of it).
      await pollUntil(
        async () => {
          if (out.includes(`${key}\n${value}\n`)) return true;
          await ctl.ok(...ALICE, "put", key, value);
          await delay(300);
          return undefined;
        },
        20_000,
        `the watch on ${key} delivered ${value} (stderr: ${err})`,
      );
    };
    await watchAndPut("/a/x", "1");
    await delay(2_500); // the token of the watch stream has expired
    await watchAndPut("/a/y", "2");
    await ctl.ok(...ROOT, "role", "add", "other"); // auth revision +1: every JWT issued before is old
    await watchAndPut("/a/z", "3");
    // The keep-alive renewed before and after the auth change (TTL 6 s: every 2 s), and runs on.
    const before = lines(ka.stdout()).length;
    await ctl.ok(...ROOT, "user", "add", "someone:pw");
    await pollUntil(() => (lines(ka.stdout()).length >= before + 2 ? true : undefined), 20_000, `keep-alive renewed twice after the auth change (${ka.stdout()})`);
    expect(ka.child.exitCode).toBeNull();
    expect(lines(ka.stdout()).every((l) => l === `lease ${lease} keepalived with TTL(6)`)).toBe(true);
    expect(child.exitCode).toBeNull();
    expect(err).toBe("");
  } finally {
    child.kill("SIGINT");
    ka.child.kill("SIGINT");
  }
  await ka.done;
  // The first watch still delivers (it was created again on the new stream, from where it was).
  expect(out).toContain("PUT\n/a/x\n1\n");
}, 120_000);
