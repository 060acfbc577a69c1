// Token providers: etcd's simple token format and TTL, JWTs on jose (RS, PS, ES, HS families;
// verify-only; expiry; tampering; another key), and bcrypt that interoperates with Go's.
import { expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { JwtTokens, portableHasher, PasswordChecker, SimpleTokens } from "../../src/auth/index.ts";
import { RawErrors } from "../../src/rpctypes/index.ts";
import { runtimeHasher } from "../../src/runtime/bcrypt.ts";

const pem = (alg: string) => {
  const o =
    alg.startsWith("ES")
      ? generateKeyPairSync("ec", { namedCurve: { ES256: "P-256", ES384: "P-384", ES512: "P-521" }[alg]! })
      : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    priv: new Uint8Array(Buffer.from(o.privateKey.export({ type: alg.startsWith("ES") ? "sec1" : "pkcs1", format: "pem" }) as string)),
    pub: new Uint8Array(Buffer.from(o.publicKey.export({ type: "spki", format: "pem" }) as string)),
  };
};

test("simple tokens: 16 letters, '.', the log index; TTL since last use; per-user invalidation", () => {
  let now = 1000;
  const timers = { setInterval: () => 0, clearInterval: () => {} };
  const t = new SimpleTokens(300_000, () => now, timers);
  const p = SimpleTokens.prefix();
  expect(p).toMatch(/^[a-zA-Z]{16}$/);
  expect(SimpleTokens.index(SimpleTokens.token(p, 9075))).toBe(9075);
  expect(SimpleTokens.index("a.b.c")).toBeUndefined();
  expect(SimpleTokens.index("abc.")).toBeUndefined();
  t.register(`${p}.7`, "alice");
  t.register("other.8", "bob");
  now += 299_000;
  expect(t.lookup(`${p}.7`)).toBe("alice"); // a use restarts the TTL
  now += 299_000;
  expect(t.lookup(`${p}.7`)).toBe("alice");
  expect(t.lookup("other.8")).toBeUndefined(); // bob's expired
  t.invalidateUser("alice");
  expect(t.lookup(`${p}.7`)).toBeUndefined();
  t.register("x.9", "carol");
  t.clear();
  expect(t.lookup("x.9")).toBeUndefined();
});

for (const alg of ["RS256", "PS384", "ES256", "ES512"]) {
  test(`JWT ${alg}: etcd's claims; another member with the public key only verifies it`, async () => {
    const k = pem(alg);
    let now = Date.UTC(2026, 0, 1);
    const a = JwtTokens.create({ signMethod: alg, privateKey: k.priv, publicKey: k.pub, ttlMs: 60_000 }, () => now);
    const b = JwtTokens.create({ signMethod: alg, publicKey: k.pub, ttlMs: 60_000 }, () => now);
    expect(b.verifyOnly).toBe(true);
    const tok = await a.assign("alice", 7);
    const [h, c] = tok.split(".").slice(0, 2).map((x) => JSON.parse(Buffer.from(x, "base64url").toString()));
    expect(h).toEqual({ alg, typ: "JWT" });
    expect(Object.keys(c)).toEqual(["username", "revision", "exp"]);
    expect(await b.info(tok)).toEqual({ username: "alice", revision: 7 });
    expect(b.info(tok)).toEqual({ username: "alice", revision: 7 }); // remembered: no promise
    // Tampered payload: same signature, other claims.
    const parts = tok.split(".");
    const forged = Buffer.from(JSON.stringify({ ...c, username: "root" })).toString("base64url");
    expect(await b.info(`${parts[0]}.${forged}.${parts[2]}`)).toBeUndefined();
    // Signed by another key of the same kind.
    const other = JwtTokens.create({ signMethod: alg, privateKey: pem(alg).priv, ttlMs: 60_000 }, () => now);
    expect(await b.info(await other.assign("alice", 7))).toBeUndefined();
    // Expired, even when remembered.
    now += 61_000;
    expect(await b.info(tok)).toBeUndefined();
    expect(await b.info("not-a-jwt")).toBeUndefined();
  });
}

test("JWT HS256: the private key file's bytes are the secret; a token for another algorithm is refused", async () => {
  const secret = new TextEncoder().encode("a shared secret\n");
  const t = JwtTokens.create({ signMethod: "HS256", privateKey: secret, ttlMs: 60_000 }, () => Date.now());
  const tok = await t.assign("bob", 3);
  expect(await t.info(tok)).toEqual({ username: "bob", revision: 3 });
  const hs384 = JwtTokens.create({ signMethod: "HS384", privateKey: secret, ttlMs: 60_000 }, () => Date.now());
  expect(await hs384.info(tok)).toBeUndefined();
});

test("JWT options: missing keys, mismatched keys, a key of the wrong kind fail at start", () => {
  const rs = pem("RS256");
  expect(() => JwtTokens.create({ signMethod: "RS256", ttlMs: 1 }, Date.now)).toThrow("auth: missing key data");
  expect(() => JwtTokens.create({ signMethod: "HS256", ttlMs: 1 }, Date.now)).toThrow("auth: missing key data");
  expect(() => JwtTokens.create({ signMethod: "RS256", privateKey: rs.priv, publicKey: pem("RS256").pub, ttlMs: 1 }, Date.now)).toThrow(
    "auth: public and private keys don't match",
  );
  expect(() => JwtTokens.create({ signMethod: "ES256", privateKey: rs.priv, ttlMs: 1 }, Date.now)).toThrow("cannot sign ES256");
  expect(() => JwtTokens.create({ signMethod: "RS256", privateKey: new TextEncoder().encode("junk"), ttlMs: 1 }, Date.now)).toThrow("cannot parse");
});

// Hashes made by Go's golang.org/x/crypto/bcrypt (Debian's), cost 4: user records move between
// etcd and Conclave, so each side must verify the other's.
const GO = {
  "": "$2a$04$TqIyd1AboSl3477/Yep6kOHZvUMLC6CG4cZ/8yzHCdMu.vfVEfGta",
  secret: "$2a$04$j5ZCglEh9hOBzp1rkHNd1.zZpJHtw/GrtbHr2J6wWwVHL/U4NWAFK",
  ["a".repeat(72)]: "$2a$04$H1P29BG9bI/RkL/XdUtPMOZDd/RMhum0Bu2nwpRn7yJc/UW5/rSoK",
  ["a".repeat(72) + "b"]: "$2a$04$gTNAyqGCa12sPa8IgMwEz.Vs0fBo64etiT5xy5fQ7qfTVLqiRezv6",
  "pässwörd": "$2a$04$aW1j7rcd3xdCOOiZuVStheJgNSHub8r1oEiEnz8EcZQDWmu0F8Pom",
};

for (const [name, h] of [
  ["runtime (Bun)", runtimeHasher()],
  ["portable (bcryptjs)", portableHasher],
] as const) {
  test(`bcrypt ${name}: verifies Go's hashes with Go's rules, refuses what Go refuses`, async () => {
    for (const [pw, hash] of Object.entries(GO)) {
      expect(await h.verify(pw, hash)).toBe(true);
      expect(await h.verify(pw.length > 0 ? pw.slice(1) : "x", hash)).toBe(false);
    }
    // Only the first 72 bytes count, as in Go.
    expect(await h.verify("a".repeat(72) + "zzz", GO["a".repeat(72)])).toBe(true);
    expect(await h.verify("x", "not a hash")).toBe(false);
    for (const pw of ["", "secret", "a".repeat(72), "pässwörd"]) {
      const mine = await h.hash(pw, 4);
      expect(mine).toMatch(/^\$2[ab]\$04\$/);
      expect(await portableHasher.verify(pw, mine)).toBe(true);
      expect(await runtimeHasher().verify(pw, mine)).toBe(true);
    }
    await expect(h.hash("a".repeat(73), 4)).rejects.toBe(RawErrors.passwordTooLong);
  });
}

test("a wrong password costs about the same whether or not the user exists", async () => {
  const hasher = runtimeHasher();
  const c = new PasswordChecker(hasher, 8);
  const hash = await hasher.hash("right", 8);
  await c.check("warm", undefined);
  // Interleaved, so a busy machine slows both alike; the median of each.
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 7; i++) {
    for (const [out, h] of [[known, hash], [unknown, undefined]] as const) {
      const t0 = performance.now();
      expect(await c.check("wrong", h)).toBe(false);
      out.push(performance.now() - t0);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
  const k = median(known);
  const u = median(unknown);
  console.log(`wrong password: known user ${k.toFixed(1)} ms, unknown user ${u.toFixed(1)} ms (medians)`);
  expect(u / k).toBeGreaterThan(0.5);
  expect(u / k).toBeLessThan(2);
  expect(await c.check("right", hash)).toBe(true);
});
