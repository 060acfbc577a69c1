// Gateway lease, maintenance and cluster endpoints, /health, /version, /debug/vars and /config/local/log.
import { expect, test } from "bun:test";
import { b64, type Json, pollUntil, useMember } from "../helpers/index.ts";

const env = useMember({ name: "gwm" });

const DEC = /^\d+$/;

test("lease grant, timetolive with keys, leases, revoke; errors for unknown ids", async () => {
  const { gw } = env();
  const g = await gw.ok("/v3/lease/grant", { TTL: 30 });
  expect(g.ID).toMatch(DEC);
  expect(g.TTL).toBe("30");
  expect(g.header.revision).toMatch(DEC);
  await gw.put("gl/k", "v", { lease: g.ID });
  const ttl = await gw.ok("/v3/lease/timetolive", { ID: g.ID, keys: true });
  expect(ttl.ID).toBe(g.ID);
  expect(["29", "30"]).toContain(ttl.TTL);
  expect(ttl.grantedTTL).toBe("30");
  expect(ttl.keys).toEqual([b64("gl/k")]);
  const kv = (await gw.range("gl/k")).kvs[0];
  expect(kv.lease).toBe(g.ID);
  const leases = await gw.ok("/v3/lease/leases", {});
  expect(leases.leases).toContainEqual({ ID: g.ID });
  const rv = await gw.ok("/v3/lease/revoke", { ID: g.ID });
  expect(rv.header.revision).toMatch(DEC);
  expect((await gw.range("gl/k")).kvs).toBeUndefined();
  const gone = await gw.ok("/v3/lease/timetolive", { ID: g.ID });
  expect(gone.TTL).toBe("-1");
  expect(gone.grantedTTL).toBeUndefined();
  const again = await gw.post("/v3/lease/revoke", { ID: g.ID });
  expect(again.status).toBe(404);
  expect(again.json).toEqual({
    error: "etcdserver: requested lease not found",
    message: "etcdserver: requested lease not found",
    code: 5,
  });
  const badPut = await gw.post("/v3/kv/put", { key: b64("gl/x"), value: b64("v"), lease: "99999" });
  expect(badPut.status).toBe(404);
  expect(badPut.json.code).toBe(5);
  expect(badPut.json.message).toBe("etcdserver: requested lease not found");
  expect((await gw.range("gl/x")).kvs).toBeUndefined();
});

test("lease grant with an explicit ID; granting it twice fails with lease already exists", async () => {
  const { gw } = env();
  const g = await gw.ok("/v3/lease/grant", { TTL: "10", ID: "123456789" });
  expect(g.ID).toBe("123456789");
  const dup = await gw.post("/v3/lease/grant", { TTL: 10, ID: 123456789 });
  expect(dup.status).toBe(412);
  expect(dup.json).toEqual({ error: "etcdserver: lease already exists", message: "etcdserver: lease already exists", code: 9 });
  // Short TTLs are raised to the minimum (2 s at default timing).
  const short = await gw.ok("/v3/lease/grant", { TTL: 1 });
  expect(short.TTL).toBe("2");
});

test("maintenance status: ids and sizes as strings; the single member is leader", async () => {
  const { gw } = env();
  const s = await gw.ok("/v3/maintenance/status", {});
  for (const f of ["dbSize", "leader", "raftIndex", "raftTerm", "raftAppliedIndex"]) expect(s[f]).toMatch(DEC);
  expect(s.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(s.leader).toBe(s.header.member_id);
  expect(Number(s.raftAppliedIndex)).toBeLessThanOrEqual(Number(s.raftIndex));
  expect(s.errors).toBeUndefined();
  expect(s.isLearner).toBeUndefined();
});

test("alarm GET and defragment answer {} (no header in etcd 3.4)", async () => {
  const { gw } = env();
  expect(await gw.ok("/v3/maintenance/alarm", {})).toEqual({});
  expect(await gw.ok("/v3/maintenance/alarm", { action: "GET" })).toEqual({});
  expect(await gw.ok("/v3/maintenance/defragment", {})).toEqual({});
});

test("cluster member list: one member with its URLs; header without revision", async () => {
  const { gw, member } = env();
  const l = await gw.ok("/v3/cluster/member/list", {});
  expect(l.header.revision).toBeUndefined();
  expect(l.header.cluster_id).toMatch(DEC);
  expect(l.members).toEqual([
    { ID: l.header.member_id, name: "gwm", peerURLs: [member.peerURL], clientURLs: [member.clientURL] },
  ]);
});

test("/health answers {\"health\":\"true\"} with CORS headers; /version names server and cluster", async () => {
  const { gw } = env();
  const h = await gw.get("/health");
  expect(h.status).toBe(200);
  expect(h.json).toEqual({ health: "true" });
  expect(h.headers.get("access-control-allow-origin")).toBe("*");
  const v = await gw.get("/version");
  expect(v.status).toBe(200);
  expect(Object.keys(v.json as Json).sort()).toEqual(["etcdcluster", "etcdserver"]);
  expect(v.json.etcdserver).toMatch(/^\d+\.\d+\.\d+$/);
  expect(v.json.etcdcluster).toMatch(/^\d+\.\d+\.0$/);
});

test("lease paths are also served under /v3/kv/lease/", async () => {
  const { gw } = env();
  const g = await gw.ok("/v3/lease/grant", { TTL: 30 });
  expect((await gw.ok("/v3/kv/lease/leases", {})).leases).toContainEqual({ ID: g.ID });
  expect((await gw.ok("/v3/kv/lease/timetolive", { ID: g.ID })).grantedTTL).toBe("30");
  await gw.ok("/v3/kv/lease/revoke", { ID: g.ID });
  expect((await gw.ok("/v3/kv/lease/timetolive", { ID: g.ID })).TTL).toBe("-1");
});

test("/v3beta is an alias of /v3 in 3.4; unknown gateway paths are 404", async () => {
  const { gw } = env();
  await gw.put("beta/k", "v");
  const r = await gw.ok("/v3beta/kv/range", { key: b64("beta/k") });
  expect(r.kvs[0].value).toBe(b64("v"));
  const missing = await gw.post("/v3/kv/nope", {});
  expect(missing.status).toBe(404);
});

test("/debug/vars: etcd's expvar page with the command line and the member's raft status", async () => {
  const { gw } = env();
  await gw.post("/v3/kv/put", { key: b64("dv"), value: b64("1") });
  const st = await gw.post("/v3/maintenance/status", {});
  const id = BigInt(st.json.header.member_id as string).toString(16);
  const r = await gw.get("/debug/vars");
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
  // expvar's layout: one variable per line, sorted by name.
  expect(r.text.startsWith('{\n"cmdline": [')).toBe(true);
  expect(Object.keys(r.json as Json)).toEqual(["cmdline", "file_descriptor_limit", "memstats", "raft.status"]);
  const cmdline = r.json.cmdline as string[];
  expect(cmdline).toContain("--data-dir");
  expect(r.json.file_descriptor_limit).toBeGreaterThan(0);
  expect(r.json.memstats.Alloc).toBeGreaterThan(0);
  const raft = r.json["raft.status"];
  expect(Object.keys(raft)).toEqual(["id", "term", "vote", "commit", "lead", "raftState", "applied", "progress", "leadtransferee"]);
  expect(raft).toMatchObject({ id, vote: id, lead: id, raftState: "StateLeader", leadtransferee: "0" });
  expect(raft.term).toBeGreaterThanOrEqual(1);
  expect(raft.applied).toBeLessThanOrEqual(raft.commit);
  expect(raft.commit).toBeGreaterThanOrEqual(2);
  // The leader's progress names every voter; its own match is its last index.
  expect(Object.keys(raft.progress)).toEqual([id]);
  expect(raft.progress[id].state).toBe("StateReplicate");
  expect(raft.progress[id].match).toBeGreaterThanOrEqual(raft.commit);
  expect(raft.progress[id].next).toBe(raft.progress[id].match + 1);

  const post = await gw.post("/debug/vars", {});
  expect(post.status).toBe(405);
  expect(post.headers.get("allow")).toBe("GET");
  expect(post.text).toBe("Method Not Allowed\n");
  expect((await gw.get("/debug/vars/x")).status).toBe(404);
});

test("PUT /config/local/log sets the log level at run time (capnslog names); bad bodies get etcd's 400s", async () => {
  const { gw, member } = env();
  const put = (body: string) => fetch(gw.baseURL + "/config/local/log", { method: "PUT", body }).then(async (r) => ({ status: r.status, text: await r.text(), type: r.headers.get("content-type") }));
  const logged = (level: string) => member.process.stderrLines.some((l) => new RegExp(`globalLogLevel set to \\\\?"${level}\\\\?"`).test(l));
  // The line is written at notice level before the change: once the level is ERROR, the
  // change back to INFO is not logged, the change to DEBUG (from INFO) is.
  expect(await put('{"Level":"ERROR"}')).toMatchObject({ status: 204, text: "" });
  expect(await put('{"level":"i"}')).toMatchObject({ status: 204 });
  expect(await put('{"Level":"debug"} trailing text is not read')).toMatchObject({ status: 204 });
  // stderr keeps the order of the lines: once DEBUG's is read, an INFO line would have been too.
  await pollUntil(() => (logged("DEBUG") ? true : undefined), 30_000, "the DEBUG change logged");
  expect(logged("ERROR")).toBe(true);
  expect(logged("INFO")).toBe(false);
  expect(logged("DEBUG")).toBe(true);
  expect(await put('{"Level":"BOGUS"}')).toEqual({ status: 400, text: '{"message":"Invalid log level BOGUS"}', type: "application/json" });
  expect(await put('{"Level":null}')).toEqual({ status: 400, text: '{"message":"Invalid log level "}', type: "application/json" });
  // Every key naming the field sets it, in the body's order, whatever its case: the last wins.
  expect(await put('{"Level":"BOGUS1","LEVEL":"BOGUS2"}')).toEqual({ status: 400, text: '{"message":"Invalid log level BOGUS2"}', type: "application/json" });
  expect(await put('{"Level":"BOGUS1","level":"BOGUS2","Level":"BOGUS3"}')).toMatchObject({ text: '{"message":"Invalid log level BOGUS3"}' });
  // A key naming the field with a value of another type fails the decode, wherever it is.
  for (const bad of ["", "xx", '{"Level":5}', "[1]", '{"Level":"DEBUG"', '{"LEVEL":5,"Level":"INFO"}']) {
    expect(await put(bad)).toEqual({ status: 400, text: '{"message":"Invalid json body"}', type: "application/json" });
  }
  const get = await gw.get("/config/local/log");
  expect(get.status).toBe(405);
  expect(get.headers.get("allow")).toBe("PUT");
  await put('{"Level":"INFO"}');
});
