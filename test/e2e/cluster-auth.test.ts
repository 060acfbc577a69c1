// Tokens across a 3-member cluster: a JWT (RS256, ES256) or a simple token issued by one member
// works on the others; expired, tampered, foreign-key and stale-revision JWTs are refused with
// etcd's errors. Runs against etcd too (E2E_TARGET=etcd).
import { afterAll, expect, test } from "bun:test";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";
import { b64, Cluster, makeTempDir, pollUntil, prefixEnd, removeDir, type Gateway } from "../helpers/index.ts";

const dir = makeTempDir("cluster-auth");
afterAll(() => removeDir(dir));

function keys(alg: "RS256" | "ES256"): { priv: string; pub: string; pem: string } {
  const k = alg === "RS256" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = k.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const priv = join(dir, `${alg}-priv.pem`);
  const pub = join(dir, `${alg}-pub.pem`);
  writeFileSync(priv, pem);
  writeFileSync(pub, k.publicKey.export({ type: "spki", format: "pem" }) as string);
  return { priv, pub, pem };
}

async function setupAuth(gw: Gateway): Promise<void> {
  for (const [p, body] of [
    ["/v3/auth/user/add", { name: "root", password: "rootpw" }],
    ["/v3/auth/role/add", { name: "root" }],
    ["/v3/auth/user/grant", { user: "root", role: "root" }],
    ["/v3/auth/user/add", { name: "alice", password: "alicepw" }],
    ["/v3/auth/role/add", { name: "app" }],
    ["/v3/auth/role/grant", { name: "app", perm: { permType: "READWRITE", key: b64("a/"), range_end: prefixEnd("a/") } }],
    ["/v3/auth/user/grant", { user: "alice", role: "app" }],
    ["/v3/auth/enable", {}],
  ] as const) {
    await gw.ok(p, body);
  }
}

const login = async (gw: Gateway, name: string, password: string) => (await gw.ok("/v3/auth/authenticate", { name, password })).token as string;
const put = (gw: Gateway, token: string, key: string) => gw.post("/v3/kv/put", { key: b64(key), value: b64("v") }, 10_000, { authorization: token });

for (const alg of ["RS256", "ES256"] as const) {
  test(`JWT ${alg}: issued by one member, honoured by the others; bad ones refused`, async () => {
    const k = keys(alg);
    const cl = await Cluster.start({ size: 3, extraArgs: ["--auth-token", `jwt,pub-key=${k.pub},priv-key=${k.priv},sign-method=${alg},ttl=10m`] });
    try {
      const [m1, m2, m3] = cl.members as [typeof cl.members[0], typeof cl.members[0], typeof cl.members[0]];
      await setupAuth(m1.gw);
      const alice = await login(m1.gw, "alice", "alicepw");
      expect((await put(m2.gw, alice, "a/x")).status).toBe(200);
      const r = await m3.gw.post("/v3/kv/range", { key: b64("a/x") }, 10_000, { authorization: alice });
      expect([r.status, r.json.kvs?.length]).toEqual([200, 1]);
      expect((await put(m3.gw, alice, "b/x")).json.error).toBe("etcdserver: permission denied");

      const [h, c, s] = alice.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(c, "base64url").toString());
      const invalid = async (token: string) => {
        const res = await put(m2.gw, token, "a/y");
        return [res.status, res.json.error];
      };
      const INVALID = [401, "etcdserver: invalid auth token"];
      // Tampered payload.
      expect(await invalid(`${h}.${Buffer.from(JSON.stringify({ ...claims, username: "root" })).toString("base64url")}.${s}`)).toEqual(INVALID);
      // Signed by a key the cluster does not know.
      const foreign = alg === "RS256" ? generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey : generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      const sign = (key: Parameters<SignJWT["sign"]>[0], exp: number, rev = claims.revision) =>
        new SignJWT({ username: "alice", revision: rev }).setProtectedHeader({ alg, typ: "JWT" }).setExpirationTime(exp).sign(key);
      const now = Math.floor(Date.now() / 1000);
      expect(await invalid(await sign(foreign, now + 600))).toEqual(INVALID);
      // Expired, with the cluster's own key.
      expect(await invalid(await sign(createPrivateKey(k.pem), now - 5))).toEqual(INVALID);
      // A token minted by hand with the cluster's key and the current revision works (etcd's
      // "directly setting JWT tokens").
      expect((await put(m1.gw, await sign(createPrivateKey(k.pem), now + 600), "a/z")).status).toBe(200);
      // Any auth change makes every outstanding JWT stale for key requests.
      const root = await login(m1.gw, "root", "rootpw");
      await m1.gw.post("/v3/auth/role/add", { name: "other" }, 10_000, { authorization: root });
      const stale = await put(m3.gw, alice, "a/x");
      expect([stale.status, stale.json.error]).toEqual([400, "etcdserver: revision of auth store is old"]);
      const fresh = await login(m2.gw, "alice", "alicepw");
      expect((await put(m3.gw, fresh, "a/x")).status).toBe(200);
    } finally {
      await cl.cleanup();
    }
  }, 90_000);
}

test("simple token: issued by one member, honoured by the others; invalidated everywhere on password change", async () => {
  const cl = await Cluster.start({ size: 3 });
  try {
    const [m1, m2, m3] = cl.members as [typeof cl.members[0], typeof cl.members[0], typeof cl.members[0]];
    await setupAuth(m1.gw);
    const alice = await login(m1.gw, "alice", "alicepw");
    expect(alice).toMatch(/^[a-zA-Z]{16}\.[0-9]+$/);
    // Right away on another member: it waits for the Authenticate entry if it must.
    expect((await put(m2.gw, alice, "a/1")).status).toBe(200);
    expect((await put(m3.gw, alice, "a/2")).status).toBe(200);
    const root = await login(m3.gw, "root", "rootpw");
    expect((await m2.gw.post("/v3/auth/user/changepw", { name: "alice", password: "new" }, 10_000, { authorization: root })).status).toBe(200);
    // The member that answered the change has applied it: the token is gone there.
    expect((await put(m2.gw, alice, "a/3")).json.error).toBe("etcdserver: invalid auth token");
    // The others may not have yet. A put checked against the old token is then refused when it
    // is applied after the change, as etcd refuses it ("revision of auth store is old"); once
    // they have applied it the token is unknown. No put with it is ever accepted.
    for (const m of [m1, m3]) {
      await pollUntil(async () => {
        const r = await put(m.gw, alice, "a/3");
        expect(["etcdserver: revision of auth store is old", "etcdserver: invalid auth token"]).toContain(r.json.error);
        return r.json.error === "etcdserver: invalid auth token" ? true : undefined;
      }, 5000, "the password change applied on every member");
    }
    const after = await m1.gw.post("/v3/kv/range", { key: b64("a/3") }, 10_000, { authorization: root });
    expect(after.status).toBe(200);
    expect(after.json.count).toBeUndefined(); // etcd's gateway leaves out a count of 0
  } finally {
    await cl.cleanup();
  }
}, 90_000);
