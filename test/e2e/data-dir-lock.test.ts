// One process per data dir. A second member started on a data dir in use must not serve beside
// the first (two writers corrupt the state: the first's apply loop died with "database is
// locked" before this guard). Conclave's second process exits with one clear line; etcd's
// waits for the file lock ("another etcd process is using ... and holds the file lock"). Either
// way the second never serves while the first lives, the first is unharmed, and once the first
// is SIGKILLed a member starts on the directory with every acknowledged write.
import { afterAll, expect, test } from "bun:test";
import { Ctl, isEtcd, Member } from "../helpers/index.ts";

const members: Member[] = [];
const keys = async (m: Member) => (await new Ctl(m.endpoint).ok("get", "lock/", "--prefix", "--keys-only")).split("\n").filter((l) => l !== "").length;
afterAll(async () => {
  for (const m of members.reverse()) await m.cleanup();
});

test("a second member on a data dir in use refuses; after SIGKILL of the first one starts with every write", async () => {
  const first = await Member.start({ name: "locked" });
  members.push(first);
  for (let i = 0; i < 10; i++) await new Ctl(first.endpoint).ok("put", `lock/${i}`, `v${i}`);

  let refusal = "";
  try {
    members.push(await Member.start({ name: "locked", dataDir: first.dataDir, healthTimeoutMs: isEtcd() ? 11_500 : 4000 }));
  } catch (err) {
    refusal = String(err);
  }
  console.log(`second member: ${refusal.split("\n").filter((l) => /lock/.test(l)).join(" | ").slice(0, 300)}`);
  if (isEtcd()) {
    expect(refusal).toContain("not healthy");
    expect(refusal).toMatch(/holds the file lock/);
  } else {
    expect(refusal).toContain("exited before becoming healthy");
    expect(refusal).toMatch(/conclave: another process is using data dir "[^"]+" and holds its lock/);
  }

  // The first member is unharmed and keeps writing.
  for (let i = 10; i < 20; i++) await new Ctl(first.endpoint).ok("put", `lock/${i}`, `v${i}`);
  expect(await keys(first)).toBe(20);

  await first.kill();
  const again = await Member.start({ name: "locked", dataDir: first.dataDir });
  members.push(again);
  expect(await keys(again)).toBe(20);
  await new Ctl(again.endpoint).ok("put", "lock/after", "x");
}, 60_000);
