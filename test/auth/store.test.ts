// The auth store as the applier drives it: etcd's rules for users, roles, permissions, root,
// the auth revision, and the permission checks with their merged intervals.
import { expect, test } from "bun:test";
import { AuthStore, authTableRowsOf, IntervalSet, pointInterval, PermType, type AuthPerm } from "../../src/auth/index.ts";
import { Errors } from "../../src/rpctypes/index.ts";
import type { InStatement } from "../../src/storage/sql-db.ts";

const b = (s: string) => new TextEncoder().encode(s);
const NONE = new Uint8Array(0);
const OPEN = new Uint8Array([0]);
const perm = (type: PermType, key: string, rangeEnd = ""): AuthPerm => ({ type, key, rangeEnd });

function fresh(): { s: AuthStore; out: InStatement[] } {
  return { s: AuthStore.load({ meta: undefined, users: [], roles: [] }), out: [] };
}

/** root (with role root) and alice, auth on. */
function enabled(): { s: AuthStore; out: InStatement[] } {
  const f = fresh();
  f.s.userAdd("root", "h", false, f.out);
  f.s.userGrantRole("root", "root", f.out);
  f.s.userAdd("alice", "h", false, f.out);
  f.s.roleAdd("r", f.out);
  f.s.userGrantRole("alice", "r", f.out);
  f.s.enable(f.out);
  return f;
}

const err = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return "ok";
};

test("intervals merge, and a range is allowed only when covered contiguously", () => {
  const set = new IntervalSet([pointInterval("a"), { start: "b", end: "d" }, { start: "d", end: "f" }, { start: "x", end: undefined }]);
  expect(set.size).toBe(3);
  expect(set.has("a")).toBe(true);
  expect(set.has("a\0")).toBe(false);
  expect(set.covers("b", "f")).toBe(true); // [b,d) and [d,f) together
  expect(set.covers("b", "g")).toBe(false);
  expect(set.covers("x", undefined)).toBe(true);
  expect(set.covers("w", undefined)).toBe(false);
  expect(set.has("zzzz")).toBe(true);
});

test("a fresh store is off at auth revision 1; enable needs root with role root", () => {
  const { s, out } = fresh();
  expect(s.enabled).toBe(false);
  expect(s.revision).toBe(1);
  expect(err(() => s.enable(out))).toBe(Errors.rootUserNotExist);
  s.userAdd("root", "h", false, out);
  expect(err(() => s.enable(out))).toBe(Errors.rootRoleNotExist);
  // Role root can be granted before it exists.
  s.userGrantRole("root", "root", out);
  const rev = s.revision;
  s.enable(out);
  expect(s.enabled).toBe(true);
  expect(s.revision).toBe(rev); // enabling does not bump the revision
  s.enable(out); // a second enable is a no-op success
  s.disable(out);
  expect(s.revision).toBe(rev + 1);
});

test("etcd's refusals: empty and duplicate names, unknown users and roles, root while on", () => {
  const { s, out } = enabled();
  expect(err(() => s.userAdd("", "h", false, out))).toBe(Errors.userEmpty);
  expect(err(() => s.userAdd("alice", "h", false, out))).toBe(Errors.userAlreadyExist);
  expect(err(() => s.roleAdd("", out))).toBe(Errors.roleEmpty);
  expect(err(() => s.roleAdd("r", out))).toBe(Errors.roleAlreadyExist);
  expect(err(() => s.userGrantRole("bob", "r", out))).toBe(Errors.userNotFound);
  expect(err(() => s.userGrantRole("alice", "nope", out))).toBe(Errors.roleNotFound);
  expect(err(() => s.userRevokeRole("alice", "nope", out))).toBe(Errors.roleNotGranted);
  expect(err(() => s.userDelete("root", out))).toBe(Errors.invalidAuthMgmt);
  expect(err(() => s.roleDelete("root", out))).toBe(Errors.invalidAuthMgmt); // checked before existence, as etcd
  expect(err(() => s.userRevokeRole("root", "root", out))).toBe(Errors.invalidAuthMgmt);
  expect(err(() => s.roleGrantPermission("r", undefined, out))).toBe(Errors.permissionNotGiven);
  expect(err(() => s.roleGrantPermission("r", perm(PermType.READ, "b", "a"), out))).toBe(Errors.invalidAuthMgmt);
  expect(err(() => s.roleGrantPermission("r", perm(PermType.READ, "a", "a"), out))).toBe(Errors.invalidAuthMgmt);
  expect(err(() => s.roleGrantPermission("r", perm(PermType.READ, ""), out))).toBe(Errors.invalidAuthMgmt);
  expect(err(() => s.roleRevokePermission("r", "a", "", out))).toBe(Errors.permissionNotGranted);
});

test("auth revision: +1 per change, not for a role already held; each failure changes nothing", () => {
  const { s, out } = enabled();
  const rev = s.revision;
  s.userGrantRole("alice", "r", out); // already held: silent success
  expect(s.revision).toBe(rev);
  expect(err(() => s.userAdd("alice", "h", false, out))).toBe(Errors.userAlreadyExist);
  expect(s.revision).toBe(rev);
  s.roleGrantPermission("r", perm(PermType.READ, "k"), out);
  expect(s.revision).toBe(rev + 1);
  expect(s.authenticate("alice")).toBe(rev + 1); // authenticate does not bump it
});

test("permissions: single key, prefix, open end, union of roles; root skips; no partial ranges", () => {
  const { s, out } = enabled();
  s.roleGrantPermission("r", perm(PermType.READ, "/a/b/", "/a/b0"), out);
  s.roleGrantPermission("r", perm(PermType.READWRITE, "k"), out);
  s.roleAdd("w", out);
  s.roleGrantPermission("w", perm(PermType.WRITE, "/z", "\0"), out);
  s.userGrantRole("alice", "w", out);
  const alice = { username: "alice", revision: s.revision };
  const ok = (k: string, e: Uint8Array | string, write: boolean) => s.keysDenied(alice, b(k), typeof e === "string" ? b(e) : e, write);
  expect(ok("k", NONE, false)).toBeUndefined();
  expect(ok("k", NONE, true)).toBeUndefined();
  expect(ok("/a/b/c", NONE, false)).toBeUndefined();
  expect(ok("/a/b/c", NONE, true)).toBe(Errors.permissionDenied);
  expect(ok("/a/b/", "/a/b0", false)).toBeUndefined();
  // `get /a/ --prefix` with only /a/b/ granted: denied, never a partial answer.
  expect(ok("/a/", "/a0", false)).toBe(Errors.permissionDenied);
  expect(ok("/zz", OPEN, true)).toBeUndefined();
  expect(ok("/zz", OPEN, false)).toBe(Errors.permissionDenied);
  const root = { username: "root", revision: s.revision };
  expect(s.keysDenied(root, b("\0"), OPEN, true)).toBeUndefined();
  // The identity's revision: 0 means none; older than the store's is stale (JWT).
  expect(s.keysDenied({ username: "alice", revision: 0 }, b("k"), NONE, false)).toBe(Errors.userEmpty);
  expect(s.keysDenied({ username: "alice", revision: s.revision - 1 }, b("k"), NONE, false)).toBe(Errors.authOldRevision);
  expect(s.keysDenied({ username: "ghost", revision: s.revision }, b("k"), NONE, false)).toBe(Errors.permissionDenied);
  expect(err(() => s.checkAdmin({ username: "ghost", revision: 1 }))).toBe(Errors.userNotFound);
  expect(err(() => s.checkAdmin({ username: "alice", revision: 1 }))).toBe(Errors.permissionDenied);
  expect(err(() => s.checkAdmin(undefined))).toBe(Errors.userEmpty);
});

test("a permission change takes effect at once (the cache is stamped with the revision)", () => {
  const { s, out } = enabled();
  s.roleGrantPermission("r", perm(PermType.READ, "p/", "p0"), out);
  expect(s.keysDenied({ username: "alice", revision: s.revision }, b("p/1"), NONE, false)).toBeUndefined();
  s.roleRevokePermission("r", "p/", "p0", out);
  expect(s.keysDenied({ username: "alice", revision: s.revision }, b("p/1"), NONE, false)).toBe(Errors.permissionDenied);
  s.roleGrantPermission("r", perm(PermType.READ, "p/", "p0"), out);
  s.roleDelete("r", out); // strips the role from alice too
  expect(s.user("alice")!.roles).toEqual([]);
  expect(s.keysDenied({ username: "alice", revision: s.revision }, b("p/1"), NONE, false)).toBe(Errors.permissionDenied);
});

test("granting the same {key, range_end} again overwrites its type; perms stay sorted by key", () => {
  const { s, out } = enabled();
  s.roleGrantPermission("r", perm(PermType.READ, "b"), out);
  s.roleGrantPermission("r", perm(PermType.READ, "a", "\0"), out);
  s.roleGrantPermission("r", perm(PermType.WRITE, "b"), out);
  expect(s.role("r")!.perms).toEqual([perm(PermType.READ, "a", "\0"), perm(PermType.WRITE, "b")]);
});

test("the store reloads from the records it wrote (authpb bytes, as etcd's buckets)", () => {
  const { s } = enabled();
  const out: InStatement[] = [];
  s.roleGrantPermission("r", perm(PermType.READWRITE, "x", "y"), out);
  const t = AuthStore.load(authTableRowsOf(s.state()));
  expect(t.enabled).toBe(true);
  expect(t.revision).toBe(s.revision);
  expect(t.userNames()).toEqual(["alice", "root"]);
  expect(t.role("r")).toEqual(s.role("r"));
  expect(t.user("alice")).toEqual(s.user("alice"));
  // Every mutation left SQL for the batch (users, roles, the meta row).
  expect(out.map((x) => (typeof x === "string" ? x : x.sql)).join("\n")).toContain("auth_roles");
});

test("the auth_meta row keeps etcd's authEnabled key: absent until the first enable, 0 after a disable", () => {
  const flagOf = (out: InStatement[]) => {
    const last = [...out].reverse().find((x) => typeof x !== "string" && x.sql.includes("auth_meta"));
    return (last as { args: readonly unknown[] }).args[0];
  };
  const { s, out } = fresh();
  s.userAdd("root", "h", false, out);
  expect(flagOf(out)).toBe(0); // no key
  s.userGrantRole("root", "root", out);
  s.enable(out);
  expect(flagOf(out)).toBe(1);
  s.disable(out);
  expect(flagOf(out)).toBe(2); // key present, value 0
  expect(s.state()).toMatchObject({ enabled: false, enabledKey: true, revision: 4 });
  const t = AuthStore.load(authTableRowsOf(s.state()));
  expect(t.state()).toEqual(s.state());
});

test("permission checks cost microseconds", () => {
  const { s, out } = enabled();
  for (let i = 0; i < 200; i++) s.roleGrantPermission("r", perm(PermType.READWRITE, `app${i}/`, `app${i}0`), out);
  const alice = { username: "alice", revision: s.revision };
  const key = b("app150/config");
  s.keysDenied(alice, key, NONE, true);
  const n = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (s.keysDenied(alice, key, NONE, true) !== undefined) throw new Error("denied");
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`permission check, 200 prefixes: ${us.toFixed(2)} µs`);
  expect(us).toBeLessThan(20);
});
