// etcdctl maintenance and cluster commands: snapshot save, endpoint status/health, member list,
// alarm list, defrag. Formats as printed by etcdctl 3.4.23 against etcd 3.4.23.
import { afterAll, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, removeDir, useMember } from "../helpers/index.ts";

const env = useMember({ name: "maint" });
const dir = makeTempDir("e2e-snap");
afterAll(() => removeDir(dir));

const HEX_ID = "[0-9a-f]{1,16}";

test("snapshot save writes a file whose size is 32 mod 512 and prints the path", async () => {
  const { ctl } = env();
  for (let i = 0; i < 20; i++) await ctl.ok("put", `snap/${i}`, "x".repeat(100));
  const file = join(dir, "s.db");
  const r = await ctl.run("snapshot", "save", file);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`Snapshot saved at ${file}\n`);
  expect(existsSync(file)).toBe(true);
  const size = statSync(file).size;
  expect(size).toBeGreaterThan(32);
  expect(size % 512).toBe(32);
  // No leftover partial file.
  expect(existsSync(`${file}.part`)).toBe(false);
});

test("endpoint status: simple, json and table", async () => {
  const { ctl, member } = env();
  const simple = await ctl.ok("endpoint", "status");
  // endpoint, ID, version, db size, is leader, is learner, raft term, raft index, applied index, errors
  const re = new RegExp(
    `^${member.endpoint.replace(/\./g, "\\.")}, (${HEX_ID}), (\\d+\\.\\d+\\.\\d+), \\d+(\\.\\d+)? [kMG]?B, true, false, (\\d+), (\\d+), (\\d+), \\n$`,
  );
  const m = re.exec(simple);
  expect(m).not.toBeNull();
  expect(Number(m![4])).toBeGreaterThanOrEqual(1);
  const json = await ctl.ok("endpoint", "status", "-w", "json");
  expect(json).toMatch(
    new RegExp(`^\\[\\{"Endpoint":"${member.endpoint}","Status":\\{"header":\\{"cluster_id":\\d+,"member_id":\\d+,"revision":\\d+,"raft_term":\\d+\\},"version":"[0-9.]+","dbSize":\\d+,"leader":\\d+,"raftIndex":\\d+,"raftTerm":\\d+,"raftAppliedIndex":\\d+(,"dbSizeInUse":\\d+)?\\}\\}\\]\\n$`),
  );
  // A single member leads itself.
  expect(/"member_id":(\d+)/.exec(json)![1]).toBe(/"leader":(\d+)/.exec(json)![1]);
  // Its ID is the one printed in hex by the simple format.
  expect(BigInt(/"member_id":(\d+)/.exec(json)![1]!).toString(16)).toBe(m![1]);
  const table = (await ctl.ok("endpoint", "status", "-w", "table")).split("\n");
  expect(table[1]).toMatch(
    /^\|\s+ENDPOINT\s+\|\s+ID\s+\|\s+VERSION\s+\|\s+DB SIZE\s+\|\s+IS LEADER\s+\|\s+IS LEARNER\s+\|\s+RAFT TERM\s+\|\s+RAFT INDEX\s+\|\s+RAFT APPLIED INDEX\s+\|\s+ERRORS\s+\|$/,
  );
  expect(table[3]).toContain(`| ${member.endpoint} |`);
  expect(table[3]).toContain(`| ${m![1]} |`);
});

test("endpoint health: text on stderr, json and table", async () => {
  const { ctl, member } = env();
  const r = await ctl.run("endpoint", "health");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(
    new RegExp(`^${member.endpoint} is healthy: successfully committed proposal: took = \\d+(\\.\\d+)?(ns|µs|ms|s)\\n$`),
  );
  const json = await ctl.ok("endpoint", "health", "-w", "json");
  expect(json).toMatch(new RegExp(`^\\[\\{"endpoint":"${member.endpoint}","health":true,"took":"[0-9.]+(ns|µs|ms|s)"\\}\\]\\n$`));
  const table = (await ctl.ok("endpoint", "health", "-w", "table")).split("\n");
  expect(table[1]).toMatch(/^\|\s+ENDPOINT\s+\|\s+HEALTH\s+\|\s+TOOK\s+\|\s+ERROR\s+\|$/);
  expect(table[3]).toMatch(new RegExp(`^\\| ${member.endpoint} \\|\\s+true \\|`));
});

test("member list: simple, json and table show the one started member", async () => {
  const { ctl, member } = env();
  const simple = await ctl.ok("member", "list");
  const m = new RegExp(`^(${HEX_ID}), started, maint, ${member.peerURL}, ${member.clientURL}, false\\n$`).exec(simple);
  expect(m).not.toBeNull();
  const json = await ctl.ok("member", "list", "-w", "json");
  // Membership responses carry no revision in their header (etcd 3.4).
  expect(json).toMatch(/^\{"header":\{"cluster_id":\d+,"member_id":\d+,"raft_term":\d+\},"members":\[/);
  expect(json).toContain(`"name":"maint","peerURLs":["${member.peerURL}"],"clientURLs":["${member.clientURL}"]}]}`);
  expect(BigInt(/"ID":(\d+)/.exec(json)![1]!).toString(16)).toBe(m![1]);
  const table = (await ctl.ok("member", "list", "-w", "table")).split("\n");
  expect(table[1]).toMatch(/^\|\s+ID\s+\|\s+STATUS\s+\|\s+NAME\s+\|\s+PEER ADDRS\s+\|\s+CLIENT ADDRS\s+\|\s+IS LEARNER\s+\|$/);
  expect(table[3]).toMatch(
    new RegExp(`^\\|\\s+${m![1]} \\| started \\|\\s+maint \\| ${member.peerURL} \\| ${member.clientURL} \\|\\s+false \\|$`),
  );
});

test("alarm list prints nothing when no alarm is raised; json is an empty object", async () => {
  const { ctl } = env();
  const r = await ctl.run("alarm", "list");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("");
  // AlarmResponse carries no header in etcd 3.4.
  expect(await ctl.ok("alarm", "list", "-w", "json")).toBe("{}\n");
});

test("defrag reports success and the member keeps its data", async () => {
  const { ctl, member } = env();
  await ctl.ok("put", "defrag/k", "kept");
  const r = await ctl.run("defrag");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`Finished defragmenting etcd member[${member.endpoint}]\n`);
  expect(await ctl.ok("get", "defrag/k", "--print-value-only")).toBe("kept\n");
});
