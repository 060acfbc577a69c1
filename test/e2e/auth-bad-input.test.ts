// Bad input to auth: empty and oversized names and passwords, unknown roles, permissions whose
// key is not below range_end, wrong passwords, malformed tokens: etcd's errors, and nothing
// written. Runs against etcd too (E2E_TARGET=etcd); where 3.4.23 lacks a check 3.4.45 has,
// each side's answer is asserted.
import { expect, test } from "bun:test";
import { b64, isEtcd, useMember, type Gateway } from "../helpers/index.ts";

const get = useMember({ extraArgs: ["--bcrypt-cost", "8"] });
let root = "";
const as = (gw: Gateway, path: string, body: unknown) => gw.post(path, body, 10_000, root ? { authorization: root } : {});
const err = (r: { status: number; json: { error?: string } }) => [r.status, r.json?.error];

test("names: empty ones and unknown roles are refused", async () => {
  const { gw } = get();
  expect(err(await as(gw, "/v3/auth/user/add", { name: "", password: "x" }))).toEqual([400, "etcdserver: user name is empty"]);
  expect(err(await as(gw, "/v3/auth/role/add", { name: "" }))).toEqual([400, "etcdserver: role name is empty"]);
  for (const [p, body] of [
    ["/v3/auth/user/add", { name: "root", password: "rootpw" }],
    ["/v3/auth/role/add", { name: "root" }],
    ["/v3/auth/user/grant", { user: "root", role: "root" }],
    ["/v3/auth/user/add", { name: "alice", password: "alicepw" }],
    ["/v3/auth/role/add", { name: "app" }],
  ] as const) {
    expect((await as(gw, p, body)).status).toBe(200);
  }
  expect(err(await as(gw, "/v3/auth/user/grant", { user: "alice", role: "nope" }))).toEqual([412, "etcdserver: role name not found"]);
  expect(err(await as(gw, "/v3/auth/user/grant", { user: "nobody", role: "app" }))).toEqual([412, "etcdserver: user name not found"]);
  expect(err(await as(gw, "/v3/auth/user/add", { name: "alice", password: "x" }))).toEqual([412, "etcdserver: user name already exists"]);
  // An oversized name: bigger than --max-request-bytes once in the log.
  const huge = "n".repeat(1_600_000);
  expect(err(await as(gw, "/v3/auth/role/add", { name: huge }))).toEqual([400, "etcdserver: request is too large"]);
  expect((await as(gw, "/v3/auth/enable", {})).status).toBe(200);
  root = (await gw.ok("/v3/auth/authenticate", { name: "root", password: "rootpw" })).token;
});

test("permissions with key >= range_end or no key: invalid auth management (3.4.25+)", async () => {
  const { gw } = get();
  const bad = [
    { permType: "READ", key: b64("b"), range_end: b64("a") },
    { permType: "READ", key: b64("a"), range_end: b64("a") },
    { permType: "READ", key: "", range_end: "" },
  ];
  for (const perm of bad) {
    const r = await as(gw, "/v3/auth/role/grant", { name: "app", perm });
    if (isEtcd()) expect(r.status).toBe(200); // Debian's 3.4.23 stores them
    else expect(err(r)).toEqual([400, "etcdserver: invalid auth management"]);
  }
  const roleGet = await as(gw, "/v3/auth/role/get", { role: "app" });
  expect(roleGet.json.perm?.length ?? 0).toBe(isEtcd() ? 3 : 0);
});

test("passwords: over 72 bytes refused as Go's bcrypt refuses them (etcd 3.4.45); the empty one is a password", async () => {
  const { gw } = get();
  const r = await as(gw, "/v3/auth/user/add", { name: "long", password: "p".repeat(73) });
  if (isEtcd()) expect(r.status).toBe(200); // 3.4.23's x/crypto cuts it to 72 bytes
  else expect(err(r)).toEqual([500, "bcrypt: password length exceeds 72 bytes"]);
  expect((await as(gw, "/v3/auth/user/add", { name: "empty", password: "" })).status).toBe(200);
  expect((await gw.post("/v3/auth/authenticate", { name: "empty", password: "" })).status).toBe(200);
  expect(err(await gw.post("/v3/auth/authenticate", { name: "empty", password: "x" }))).toEqual([400, "etcdserver: authentication failed, invalid user ID or password"]);
});

test("wrong passwords: the same answer whether or not the user exists (and, here, the same time)", async () => {
  const { gw } = get();
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 5; i++) {
    for (const [name, out] of [["alice", known], ["ghost", unknown]] as const) {
      const t0 = performance.now();
      const r = await gw.post("/v3/auth/authenticate", { name, password: "wrong" });
      out.push(performance.now() - t0);
      expect(err(r)).toEqual([400, "etcdserver: authentication failed, invalid user ID or password"]);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[2]!;
  console.log(`wrong password: existing user ${median(known).toFixed(1)} ms, unknown user ${median(unknown).toFixed(1)} ms`);
  // etcd answers an unknown user without running bcrypt; Conclave runs one either way.
  if (!isEtcd()) expect(median(unknown) / median(known)).toBeGreaterThan(0.5);
});

test("malformed tokens: invalid auth token, nothing written", async () => {
  const { gw } = get();
  for (const token of ["garbage", "a.b", "abcdefghijklmnop.1", "x.99999999999999999999", "eyJhbGciOiJub25lIn0.e30.", ""]) {
    const r = await gw.post("/v3/kv/put", { key: b64("k"), value: b64("v") }, 10_000, { authorization: token });
    // An empty Authorization header is a token too (an invalid one), as in etcd.
    expect([token, ...err(r)]).toEqual([token, 401, "etcdserver: invalid auth token"]);
  }
  const range = await as(gw, "/v3/kv/range", { key: b64("k") });
  expect(range.json.kvs).toBeUndefined();
  const users = await as(gw, "/v3/auth/user/list", {});
  expect(users.json.users).toEqual(isEtcd() ? ["alice", "empty", "long", "root"] : ["alice", "empty", "root"]);
  const roles = await as(gw, "/v3/auth/role/list", {});
  expect(roles.json.roles).toEqual(["app", "root"]);
});
