// The authorization matrix: every gRPC method of the RPC table and every gateway route, called
// on the compiled binary as (a) no token, (b) a user without the permission, (c) a user with
// it, (d) root, (e) an expired and a tampered JWT, against the allowed/denied answer etcd
// 3.4.45's rules give. A method added to the RPC table or a route added to the gateway without
// a row here fails the first test. (Conclave only: Debian's etcd 3.4.23 has the holes 3.4.45
// closed; test/e2e/ctl-auth.test.ts compares the etcdctl-visible behaviour with it.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create, toBinary, type Message } from "@bufbuild/protobuf";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";
import { rpcTable } from "../../src/api/rpc/index.ts";
import { gatewayRoutes } from "../../src/api/gateway/routes.ts";
import { toJsonValue } from "../../src/api/gateway/json-codec.ts";
import { AlarmRequest_AlarmAction, AlarmType, KV, Lease } from "../../src/gen/rpc_pb.ts";
import { Permission_Type } from "../../src/gen/auth_pb.ts";
import { b64, Gateway, makeTempDir, Member, prefixEnd, removeDir } from "../helpers/index.ts";
import { FrameQueue, frame, RawGrpc, splitFrames } from "../api/helpers.ts";

type Ident = "none" | "bob" | "alice" | "root" | "expired" | "tampered";
const IDENTS: Ident[] = ["none", "bob", "alice", "root", "expired", "tampered"];
type Outcome = "ok" | string;

const EMPTY = "etcdserver: user name is empty";
const DENIED = "etcdserver: permission denied";
const INVALID = "etcdserver: invalid auth token";
const AUTH_TEXTS = new Set([EMPTY, DENIED, INVALID, "etcdserver: revision of auth store is old", "auth: permission denied", "auth: user name is empty", "auth: invalid auth token", "etcdserver: user name not found"]);

const cols = (none: Outcome, bob: Outcome, alice: Outcome, bad = INVALID): Record<Ident, Outcome> => ({ none, bob, alice, root: "ok", expired: bad, tampered: bad });
const ADMIN = cols(EMPTY, DENIED, DENIED);
const ADMIN_RAW = cols("auth: user name is empty", "auth: permission denied", "auth: permission denied", "auth: invalid auth token");
const USER = cols(EMPTY, "ok", "ok");
const KEYS = cols(EMPTY, DENIED, "ok");
const OPEN: Record<Ident, Outcome> = { none: "ok", bob: "ok", alice: "ok", root: "ok", expired: "ok", tampered: "ok" };

interface Row {
  /** gRPC path. */
  path: string;
  /** Request fields (message init), per identity and protocol (names must not collide). */
  req: (id: Ident, proto: string) => Promise<Record<string, unknown>> | Record<string, unknown>;
  expect: Record<Ident, Outcome>;
  stream?: "server" | "bidi";
}

let member: Member;
let gw: Gateway;
let dir: string;
let privPem: string;
const tokens = {} as Record<Ident, string | undefined>;
let seq = 0;
const enc = (s: string) => new TextEncoder().encode(s);

async function rootCall(path: string, body: unknown): Promise<Record<string, unknown>> {
  return gw.post(path, body, 10_000, tokens.root ? { authorization: tokens.root } : {}).then((r) => {
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
    return r.json;
  });
}

/** A lease of root's with one key under m/ (alice may write it, bob may not). */
async function leaseWithKey(): Promise<bigint> {
  const g = await rootCall("/v3/lease/grant", { TTL: "600" });
  await rootCall("/v3/kv/put", { key: b64(`m/lease-${++seq}`), value: b64("v"), lease: g.ID });
  return BigInt(g.ID as string);
}

let ttlLease = 0n;

const K = (s: string) => enc(s);
const rows: Row[] = [
  { path: "/etcdserverpb.KV/Range", req: () => ({ key: K("m/k") }), expect: KEYS },
  { path: "/etcdserverpb.KV/Put", req: () => ({ key: K("m/k"), value: K("v") }), expect: KEYS },
  { path: "/etcdserverpb.KV/DeleteRange", req: () => ({ key: K("m/none") }), expect: KEYS },
  { path: "/etcdserverpb.KV/Txn", req: () => ({ compare: [], success: [{ request: { case: "requestPut", value: { key: K("m/t"), value: K("v") } } }] }), expect: KEYS },
  { path: "/etcdserverpb.KV/Compact", req: () => ({ revision: 1n }), expect: ADMIN },
  { path: "/etcdserverpb.Watch/Watch", req: () => ({ requestUnion: { case: "createRequest", value: { key: K("m/"), rangeEnd: K("m0") } } }), expect: KEYS, stream: "bidi" },
  { path: "/etcdserverpb.Lease/LeaseGrant", req: () => ({ TTL: 60n }), expect: USER },
  { path: "/etcdserverpb.Lease/LeaseRevoke", req: async () => ({ ID: await leaseWithKey() }), expect: KEYS },
  { path: "/etcdserverpb.Lease/LeaseKeepAlive", req: () => ({ ID: ttlLease }), expect: KEYS, stream: "bidi" },
  { path: "/etcdserverpb.Lease/LeaseTimeToLive", req: () => ({ ID: ttlLease, keys: true }), expect: KEYS },
  { path: "/etcdserverpb.Lease/LeaseLeases", req: () => ({}), expect: KEYS },
  { path: "/etcdserverpb.Cluster/MemberAdd", req: () => ({ peerURLs: [`http://127.0.0.1:${2 + (seq++ % 60000)}`], isLearner: true }), expect: ADMIN },
  { path: "/etcdserverpb.Cluster/MemberRemove", req: () => ({ ID: 12345n }), expect: ADMIN },
  { path: "/etcdserverpb.Cluster/MemberUpdate", req: () => ({ ID: 12345n, peerURLs: ["http://127.0.0.1:1"] }), expect: ADMIN },
  { path: "/etcdserverpb.Cluster/MemberList", req: () => ({}), expect: USER },
  { path: "/etcdserverpb.Cluster/MemberPromote", req: () => ({ ID: 12345n }), expect: ADMIN },
  { path: "/etcdserverpb.Maintenance/Alarm", req: () => ({ action: AlarmRequest_AlarmAction.GET }), expect: USER },
  { path: "/etcdserverpb.Maintenance/Alarm", req: () => ({ action: AlarmRequest_AlarmAction.DEACTIVATE, alarm: AlarmType.NOSPACE }), expect: ADMIN },
  { path: "/etcdserverpb.Maintenance/Status", req: () => ({}), expect: ADMIN },
  { path: "/etcdserverpb.Maintenance/Defragment", req: () => ({}), expect: ADMIN_RAW },
  { path: "/etcdserverpb.Maintenance/Hash", req: () => ({}), expect: ADMIN_RAW },
  { path: "/etcdserverpb.Maintenance/HashKV", req: () => ({}), expect: ADMIN_RAW },
  { path: "/etcdserverpb.Maintenance/Snapshot", req: () => ({}), expect: ADMIN_RAW, stream: "server" },
  { path: "/etcdserverpb.Maintenance/MoveLeader", req: () => ({ targetID: 12345n }), expect: ADMIN },
  { path: "/etcdserverpb.Auth/AuthEnable", req: () => ({}), expect: ADMIN },
  { path: "/etcdserverpb.Auth/AuthStatus", req: () => ({}), expect: ADMIN },
  { path: "/etcdserverpb.Auth/Authenticate", req: () => ({ name: "alice", password: "alicepw" }), expect: OPEN },
  { path: "/etcdserverpb.Auth/UserAdd", req: () => ({ name: `u${++seq}`, password: "p" }), expect: ADMIN },
  { path: "/etcdserverpb.Auth/UserGet", req: () => ({ name: "alice" }), expect: cols(EMPTY, DENIED, "ok") },
  { path: "/etcdserverpb.Auth/UserList", req: () => ({}), expect: ADMIN },
  {
    path: "/etcdserverpb.Auth/UserDelete",
    req: async (id) => {
      if (id !== "root") return { name: "nobody" };
      const name = `del${++seq}`;
      await rootCall("/v3/auth/user/add", { name, password: "x" });
      return { name };
    },
    expect: ADMIN,
  },
  { path: "/etcdserverpb.Auth/UserChangePassword", req: () => ({ name: "scratch", password: "s" }), expect: ADMIN },
  { path: "/etcdserverpb.Auth/UserGrantRole", req: () => ({ user: "scratch", role: "rw" }), expect: ADMIN },
  { path: "/etcdserverpb.Auth/UserRevokeRole", req: () => ({ name: "scratch", role: "nope" }), expect: ADMIN },
  { path: "/etcdserverpb.Auth/RoleAdd", req: () => ({ name: `r${++seq}` }), expect: ADMIN },
  { path: "/etcdserverpb.Auth/RoleGet", req: () => ({ role: "rw" }), expect: cols(EMPTY, DENIED, "ok") },
  { path: "/etcdserverpb.Auth/RoleList", req: () => ({}), expect: ADMIN },
  { path: "/etcdserverpb.Auth/RoleDelete", req: () => ({ role: "nope" }), expect: ADMIN },
  { path: "/etcdserverpb.Auth/RoleGrantPermission", req: () => ({ name: "scratchrole", perm: { permType: Permission_Type.READ, key: K("s") } }), expect: ADMIN },
  { path: "/etcdserverpb.Auth/RoleRevokePermission", req: () => ({ role: "scratchrole", key: K("nope") }), expect: ADMIN },
  { path: "/grpc.health.v1.Health/Check", req: () => ({}), expect: OPEN },
  { path: "/grpc.health.v1.Health/Watch", req: () => ({}), expect: OPEN, stream: "server" },
  { path: "/v3lockpb.Lock/Lock", req: (id, p) => ({ name: K(`m/lock-${id}-${p}`) }), expect: KEYS },
  { path: "/v3lockpb.Lock/Unlock", req: () => ({ key: K("m/unlock") }), expect: KEYS },
  { path: "/v3electionpb.Election/Campaign", req: (id, p) => ({ name: K(`m/el-${id}-${p}`), value: K("v") }), expect: KEYS },
  { path: "/v3electionpb.Election/Proclaim", req: () => ({ leader: { name: K("m/el"), key: K("m/el/1"), rev: 1n }, value: K("x") }), expect: KEYS },
  { path: "/v3electionpb.Election/Leader", req: () => ({ name: K("m/obs") }), expect: KEYS },
  { path: "/v3electionpb.Election/Observe", req: () => ({ name: K("m/obs") }), expect: KEYS, stream: "server" },
  { path: "/v3electionpb.Election/Resign", req: () => ({ leader: { name: K("m/el"), key: K("m/el/1"), rev: 1n } }), expect: KEYS },
  // Last: root's call turns auth off (it is turned on again after each pass).
  { path: "/etcdserverpb.Auth/AuthDisable", req: () => ({}), expect: ADMIN },
];

async function authenticate(): Promise<void> {
  for (const [id, pw] of [["root", "rootpw"], ["alice", "alicepw"], ["bob", "bobpw"]] as const) {
    const r = await gw.post("/v3/auth/authenticate", { name: id, password: pw });
    if (r.status !== 200) throw new Error(`authenticate ${id}: ${r.text}`);
    tokens[id] = r.json.token;
  }
  const now = Math.floor(Date.now() / 1000);
  tokens.expired = await new SignJWT({ username: "root", revision: 1 }).setProtectedHeader({ alg: "RS256", typ: "JWT" }).setExpirationTime(now - 10).sign(await importKey());
  const [h, , s] = tokens.alice!.split(".");
  const claims = JSON.parse(Buffer.from(tokens.alice!.split(".")[1]!, "base64url").toString());
  tokens.tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, username: "root" })).toString("base64url")}.${s}`;
  tokens.none = undefined;
}

async function importKey() {
  const { createPrivateKey } = await import("node:crypto");
  return createPrivateKey(privPem);
}

beforeAll(async () => {
  dir = makeTempDir("auth-matrix");
  const k = generateKeyPairSync("rsa", { modulusLength: 2048 });
  privPem = k.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  writeFileSync(join(dir, "priv.pem"), privPem);
  writeFileSync(join(dir, "pub.pem"), k.publicKey.export({ type: "spki", format: "pem" }) as string);
  member = await Member.start({
    extraArgs: ["--auth-token", `jwt,pub-key=${join(dir, "pub.pem")},priv-key=${join(dir, "priv.pem")},sign-method=RS256,ttl=10m`, "--bcrypt-cost", "4"],
  });
  gw = new Gateway(member.clientURL);
  const setup: [string, unknown][] = [
    ["/v3/auth/user/add", { name: "root", password: "rootpw" }],
    ["/v3/auth/user/add", { name: "alice", password: "alicepw" }],
    ["/v3/auth/user/add", { name: "bob", password: "bobpw" }],
    ["/v3/auth/user/add", { name: "scratch", password: "s" }],
    ["/v3/auth/role/add", { name: "root" }],
    ["/v3/auth/role/add", { name: "rw" }],
    ["/v3/auth/role/add", { name: "scratchrole" }],
    ["/v3/auth/role/grant", { name: "rw", perm: { permType: "READWRITE", key: b64("m/"), range_end: prefixEnd("m/") } }],
    ["/v3/auth/user/grant", { user: "root", role: "root" }],
    ["/v3/auth/user/grant", { user: "alice", role: "rw" }],
    ["/v3/auth/enable", {}],
  ];
  for (const [p, body] of setup) await rootCall(p, body);
  await authenticate();
  ttlLease = await leaseWithKey();
  await rootCall("/v3/kv/put", { key: b64("m/obs/1"), value: b64("leader") });
}, 60_000);

afterAll(async () => {
  await member?.cleanup();
  if (dir) removeDir(dir);
});

test("every method of the RPC table and every gateway route has a row", () => {
  const covered = new Set(rows.map((r) => r.path));
  const missing = [...rpcTable.keys()].filter((p) => !covered.has(p));
  expect(missing).toEqual([]);
  const routesMissing = [...gatewayRoutes.values()].filter((p) => !covered.has(p));
  expect(routesMissing).toEqual([]);
});

/** What one call answered: "ok", or the error text. */
async function callGrpc(grpc: RawGrpc, row: Row, id: Ident): Promise<Outcome> {
  const m = rpcTable.get(row.path)!;
  const msg = create(m.input, (await row.req(id, "grpc")) as never) as Message;
  const meta: Record<string, string> = tokens[id] === undefined ? {} : { token: tokens[id]! };
  const body = frame(toBinary(m.input, msg));
  if (row.stream === undefined) {
    const r = await grpc.call(row.path, [body], meta);
    return r.status === 0 ? "ok" : r.message;
  }
  const st = grpc.open(row.path, meta);
  const q = new FrameQueue(m.output, st);
  const status = new Promise<string>((resolve) => {
    st.on("trailers", (t) => resolve(decodeURIComponent(String(t["grpc-message"] ?? ""))));
    st.on("response", (h) => {
      if (h["grpc-status"] !== undefined && h["grpc-status"] !== "0") resolve(decodeURIComponent(String(h["grpc-message"] ?? "")));
    });
    st.on("close", () => resolve("closed"));
  });
  st.write(body);
  if (row.stream === "server") st.end();
  const first = await Promise.race([q.next().then((x) => ({ x })), status.then((s) => ({ s })), delay(5000).then(() => ({ s: "timeout" }))]);
  st.close();
  if ("s" in first) return first.s;
  const resp = first.x as { canceled?: boolean; cancelReason?: string };
  if (resp.canceled === true) return resp.cancelReason!.replace(/^rpc error: code = \w+ desc = /, "");
  return "ok";
}

async function callGateway(route: string, row: Row, id: Ident): Promise<Outcome> {
  const m = rpcTable.get(row.path)!;
  const msg = create(m.input, (await row.req(id, "gw")) as never) as Message;
  const headers: Record<string, string> = tokens[id] === undefined ? {} : { authorization: tokens[id]! };
  const body = toJsonValue(m.input, msg);
  if (row.stream === undefined) {
    const r = await gw.post(route, body, 10_000, headers);
    return r.status === 200 ? "ok" : (r.json?.error as string);
  }
  const s = await gw.stream(route, body, headers);
  try {
    const first = await s.next(5000).catch(() => undefined);
    if (first === undefined) return s.status === 200 ? "timeout" : "no answer";
    if (first.error !== undefined) return typeof first.error === "string" ? first.error : first.error.message;
    if (first.result?.canceled === true) return String(first.result.cancel_reason).replace(/^rpc error: code = \w+ desc = /, "");
    return "ok";
  } finally {
    s.close();
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pass(call: (row: Row, id: Ident) => Promise<Outcome>, routeRows: Row[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const row of routeRows) {
    for (const id of IDENTS) {
      await authenticate(); // auth changes by earlier cells make JWTs stale: fresh ones each time
      const got = await call(row, id);
      const want = row.expect[id];
      const ok = want === "ok" ? !AUTH_TEXTS.has(got) && got !== "timeout" && got !== "closed" : got === want;
      if (!ok) wrong.push(`${row.path} as ${id}: want ${want}, got ${got}`);
      if (row.path.endsWith("/AuthDisable") && id === "root" && got === "ok") await gw.post("/v3/auth/enable", {});
    }
  }
  return wrong;
}

test("gRPC: every method × every identity", async () => {
  const grpc = new RawGrpc(member.clientPort);
  try {
    expect(await pass((row, id) => callGrpc(grpc, row, id), rows)).toEqual([]);
  } finally {
    grpc.close();
  }
}, 240_000);

test("gateway: every route × every identity (Authorization header)", async () => {
  const routed: Row[] = [];
  for (const [route, path] of gatewayRoutes) for (const r of rows) if (r.path === path) routed.push({ ...r, req: r.req, path: r.path, stream: r.stream, expect: r.expect, route } as Row & { route: string });
  // AuthDisable stays last.
  routed.sort((a, b) => Number(a.path.endsWith("/AuthDisable")) - Number(b.path.endsWith("/AuthDisable")));
  expect(await pass((row, id) => callGateway((row as Row & { route: string }).route, row, id), routed)).toEqual([]);
}, 240_000);

test("with auth on, a LeaseKeepAlive for a key the user may not write ends the stream; the health endpoints stay open", async () => {
  await authenticate();
  const grpc = new RawGrpc(member.clientPort);
  try {
    const m = rpcTable.get("/etcdserverpb.Lease/LeaseKeepAlive")!;
    const st = grpc.open(m.path, { token: tokens.bob! });
    const done = new Promise<string>((r) => {
      st.on("trailers", (t) => r(String(t["grpc-message"])));
      st.on("response", (h) => {
        if (h["grpc-status"] !== undefined) r(String(h["grpc-message"]));
      });
    });
    st.write(frame(toBinary(Lease.method.leaseKeepAlive.input, create(Lease.method.leaseKeepAlive.input, { ID: ttlLease }))));
    expect(decodeURIComponent(await done)).toBe(DENIED);
    expect(splitFrames(Buffer.alloc(0))).toEqual([]);
  } finally {
    grpc.close();
  }
  expect((await gw.get("/health")).json).toEqual({ health: "true" });
  expect((await gw.get("/metrics")).text).toContain("etcd_debugging_auth_revision");
  // etcd serves its expvar page without credentials too.
  expect((await gw.get("/debug/vars")).json["raft.status"].raftState).toBe("StateLeader");
  void KV;
}, 30_000);
