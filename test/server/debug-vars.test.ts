// /debug/vars rendering: etcd raft's Status JSON (hex IDs, empty progress off the leader) and
// expvar's page layout.
import { expect, test } from "bun:test";
import { raftStatusJson, renderDebugVars } from "../../src/server/debug-vars.ts";
import { ProgressState, type Status } from "../../src/raft/index.ts";
import { processCmdline } from "../../src/runtime/cmdline.ts";

const follower: Status = {
  id: 0xabcn, term: 7, vote: 0x1n, commit: 42, lead: 0x1n, role: "StateFollower", applied: 40,
  leadTransferee: 0n, config: { voters: [0x1n, 0xabcn], learners: [] }, progress: new Map(),
};

test("a follower's raft status: hex IDs, no progress, as etcd raft's MarshalJSON", () => {
  expect(raftStatusJson(follower)).toBe('{"id":"abc","term":7,"vote":"1","commit":42,"lead":"1","raftState":"StateFollower","applied":40,"progress":{},"leadtransferee":"0"}');
});

test("a leader's progress: one entry per peer with match, next and state", () => {
  const leader: Status = {
    ...follower, role: "StateLeader", lead: 0xabcn,
    progress: new Map([[0xabcn, { match: 42, next: 43, state: ProgressState.Replicate, isLearner: false, recentActive: true }], [0xffn, { match: 3, next: 4, state: ProgressState.Probe, isLearner: false, recentActive: false }]]),
  };
  const j = JSON.parse(raftStatusJson(leader));
  expect(j.progress).toEqual({ abc: { match: 42, next: 43, state: "StateReplicate" }, ff: { match: 3, next: 4, state: "StateProbe" } });
});

test("the page: sorted variables, one per line; an unknown descriptor limit is left out", () => {
  const page = renderDebugVars({ cmdline: ["conclave", "--name", "a b"], fdLimit: undefined, memory: { rss: 10, heapTotal: 8, heapUsed: 5 }, raft: follower });
  const lines = page.split("\n");
  expect(lines[0]).toBe("{");
  expect(lines[1]).toBe('"cmdline": ["conclave","--name","a b"],');
  expect(lines[2]).toStartWith('"memstats": {');
  expect(lines[3]).toStartWith('"raft.status": {');
  expect(lines.slice(4)).toEqual(["}", ""]);
  expect(JSON.parse(page).memstats).toEqual({ Alloc: 5, Sys: 10, HeapAlloc: 5, HeapSys: 8, HeapIdle: 3, HeapInuse: 5 });
});

test("the command line comes from /proc/self/cmdline, NUL-separated, as started", () => {
  expect(processCmdline(() => "./conclave\0--data-dir\0x\0")).toEqual(["./conclave", "--data-dir", "x"]);
  expect(processCmdline(() => { throw new Error("no /proc"); })[0]).toBe(process.argv0);
});

test("secrets in the command line are masked: discovery password, user:password, URL credentials", () => {
  const read = (args: string[]) => () => `${args.join("\0")}\0`;
  expect(processCmdline(read(["conclave", "--discovery-password", "s3cret", "--name", "a"]))).toEqual(["conclave", "--discovery-password", "xxxxx", "--name", "a"]);
  expect(processCmdline(read(["conclave", "-discovery-password=s3cret"]))).toEqual(["conclave", "-discovery-password=xxxxx"]);
  expect(processCmdline(read(["conclave", "--discovery-user", "root:s3cret"]))).toEqual(["conclave", "--discovery-user", "root:xxxxx"]);
  expect(processCmdline(read(["conclave", "--discovery-user=root:pa:ss"]))).toEqual(["conclave", "--discovery-user=root:xxxxx"]);
  // A user without a password (prompted for) is no secret.
  expect(processCmdline(read(["conclave", "--discovery-user", "root"]))).toEqual(["conclave", "--discovery-user", "root"]);
  expect(processCmdline(read(["conclave", "--discovery", "https://u:s3cret@disc.example/abc", "--discovery-endpoints=http://a:b@h1:2379,http://h2:2379"]))).toEqual([
    "conclave", "--discovery", "https://u:xxxxx@disc.example/abc", "--discovery-endpoints=http://a:xxxxx@h1:2379,http://h2:2379",
  ]);
  // Nothing else is touched, the flag's last argument included.
  expect(processCmdline(read(["conclave", "--name", "discovery-password", "--discovery-password"]))).toEqual(["conclave", "--name", "discovery-password", "--discovery-password"]);
  expect(processCmdline(read(["conclave", "--listen-client-urls", "http://127.0.0.1:2379"]))).toEqual(["conclave", "--listen-client-urls", "http://127.0.0.1:2379"]);
});

test("memstats keep Go's HeapSys = HeapIdle + HeapInuse when the runtime's heap use passes its heap total", () => {
  const m = JSON.parse(renderDebugVars({ cmdline: ["c"], fdLimit: 1, memory: { rss: 100, heapTotal: 8, heapUsed: 11 }, raft: follower })).memstats;
  expect(m.HeapSys).toBe(m.HeapIdle + m.HeapInuse);
  expect(m.HeapInuse).toBe(11);
});
