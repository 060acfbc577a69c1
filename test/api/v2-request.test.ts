// The v2 API's input edge on its own: form parsing as Go's net/http does it, etcd's keys
// parameter checks (order, codes, causes), Basic credentials, path cleaning, and the v2 security
// model's merges and key patterns.
import { describe, expect, test } from "bun:test";
import { basicAuth } from "../../src/api/v2/access.ts";
import { mergeRole, mergeUser, roleHasKeyAccess, roleHasRecursiveAccess, type Role, sameRole, sameUser } from "../../src/api/v2/auth-model.ts";
import { FormError, parseForm, queryUnescape } from "../../src/api/v2/form.ts";
import { pathUnescape, uncleanPath } from "../../src/api/v2/http.ts";
import { parseKeyRequest } from "../../src/api/v2/keys.ts";
import { V2Error } from "../../src/rpctypes/v2.ts";

const NOW = Date.UTC(2026, 0, 1);

function err(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof V2Error) return `${e.errorCode} ${e.cause} [${e.index}]`;
    throw e;
  }
  return "no error";
}

const parse = (method: string, query: string, body: string | null = null, ct: string | null = "application/x-www-form-urlencoded") =>
  parseKeyRequest(method, "/k", ct, body, query, NOW);

describe("Go form parsing", () => {
  test("body values come before query values; a name's first value wins", () => {
    const f = parseForm("PUT", "application/x-www-form-urlencoded", "value=body&a=1", "value=query&a=2&b");
    expect(f.get("value")).toEqual(["body", "query"]);
    expect(f.get("a")).toEqual(["1", "2"]);
    expect(f.get("b")).toEqual([""]);
  });

  test("DELETE and GET bodies, and bodies of other content types, are not read", () => {
    expect(parseForm("DELETE", "application/x-www-form-urlencoded", "value=x", "").has("value")).toBe(false);
    expect(parseForm("PUT", "text/plain", "value=x", "").has("value")).toBe(false);
    expect(parseForm("PUT", null, "value=x", "").has("value")).toBe(false);
    expect(parseForm("POST", "application/x-www-form-urlencoded; charset=utf-8", "value=x", "").get("value")).toEqual(["x"]);
  });

  test("escapes: + is a space, %XX a byte (UTF-8), a bad escape or a semicolon is Go's error", () => {
    expect(queryUnescape("a+b%20c%E2%82%AC")).toBe("a b c€");
    expect(() => queryUnescape("%zz")).toThrow('invalid URL escape "%zz"');
    expect(() => queryUnescape("a%2")).toThrow('invalid URL escape "%2"');
    expect(() => parseForm("GET", null, null, "a=1;b=2")).toThrow(new FormError("invalid semicolon separator in query"));
    expect(() => parseForm("PUT", "application/x-www-form-urlencoded", "x".repeat(10 * 1024 * 1024 + 1), "")).toThrow("http: POST too large");
  });
});

describe("keys parameters (etcd's parseKeyRequest)", () => {
  test("a plain set: store path under /1, value, no TTL", () => {
    const { req, noValueOnSuccess } = parseKeyRequest("PUT", "/a/../b//c/", "application/x-www-form-urlencoded", "value=v", "", NOW);
    expect(req).toMatchObject({ method: "PUT", path: "/1/b/c", val: "v", expiration: 0n, prevIndex: 0n });
    expect(req.prevExist).toBeUndefined();
    // ".." never leaves the keys namespace.
    expect(parseKeyRequest("GET", "/../0/members", null, null, "", NOW).req.path).toBe("/1/0/members");
    expect(parseKeyRequest("GET", "/", null, null, "", NOW).req.path).toBe("/1");
    expect(noValueOnSuccess).toBe(false);
  });

  test("errors in etcd's order, with its codes and causes, index 0", () => {
    expect(err(() => parse("PUT", "prevIndex=x&waitIndex=y"))).toBe('203 invalid value for "prevIndex" [0]');
    expect(err(() => parse("GET", "waitIndex=-1"))).toBe('203 invalid value for "waitIndex" [0]');
    expect(err(() => parse("GET", "recursive=yes&sorted=no"))).toBe('209 invalid value for "recursive" [0]');
    expect(err(() => parse("GET", "stream=2"))).toBe('209 invalid value for "stream" [0]');
    expect(err(() => parse("PUT", "wait=true"))).toBe('209 "wait" can only be used with GET requests [0]');
    expect(err(() => parse("PUT", "prevValue="))).toBe('201 "prevValue" cannot be empty [0]');
    expect(err(() => parse("PUT", "noValueOnSuccess=x"))).toBe('209 invalid value for "noValueOnSuccess" [0]');
    expect(err(() => parse("PUT", "ttl=1.5"))).toBe('202 invalid value for "ttl" [0]');
    expect(err(() => parse("PUT", "ttl=18446744073709551616"))).toBe('202 invalid value for "ttl" [0]');
    expect(err(() => parse("PUT", "prevExist=maybe"))).toBe("209 invalid value for prevExist [0]");
    expect(err(() => parse("PUT", "refresh=x&ttl=1"))).toBe("209 invalid value for refresh [0]");
    expect(err(() => parse("PUT", "refresh=true&ttl=1", "value=v"))).toBe("211 A value was provided on a refresh [0]");
    expect(err(() => parse("PUT", "refresh=true"))).toBe("212 No TTL value set [0]");
    expect(err(() => parse("PUT", "a=%zz"))).toBe('210 invalid URL escape "%zz" [0]');
  });

  test("Go's booleans and uint64; an empty ttl is no TTL; the TTL becomes an absolute expiry in ns", () => {
    const { req } = parse("GET", "recursive=T&sorted=1&wait=TRUE&quorum=f&prevIndex=007&waitIndex=18446744073709551615");
    expect(req).toMatchObject({ recursive: true, sorted: true, wait: true, quorum: false, prevIndex: 7n, since: 18446744073709551615n });
    expect(parse("PUT", "ttl=").req.expiration).toBe(0n);
    expect(parse("PUT", "ttl=5").req.expiration).toBe(BigInt(NOW + 5000) * 1_000_000n);
    expect(parse("PUT", "prevExist=false&refresh=false").req).toMatchObject({ prevExist: false, refresh: false });
  });

  test("a TTL too large for Go's int64 nanoseconds wraps (the store then treats it as none)", () => {
    const e = parse("PUT", "ttl=18446744073709551615").req.expiration;
    expect(e).toBe(BigInt.asIntN(64, BigInt(NOW) * 1_000_000n + BigInt.asIntN(64, -1n * 1_000_000_000n)));
    expect(parse("PUT", "ttl=10000000000").req.expiration < 0n).toBe(true);
  });
});

describe("credentials and paths", () => {
  test("Basic credentials as Go's Request.BasicAuth reads them", () => {
    const enc = (s: string) => Buffer.from(s).toString("base64");
    expect(basicAuth(`Basic ${enc("u:p:w")}`)).toEqual({ user: "u", password: "p:w" });
    expect(basicAuth(`basic ${enc("u:")}`)).toEqual({ user: "u", password: "" });
    expect(basicAuth(`Basic ${enc("nocolon")}`)).toBeUndefined();
    expect(basicAuth("Basic !!!")).toBeUndefined();
    expect(basicAuth("Bearer x")).toBeUndefined();
    expect(basicAuth("")).toBeUndefined();
  });

  test("Go's ServeMux cleaning: unclean paths name their clean form, clean ones nothing", () => {
    expect(uncleanPath("/v2/keys/a")).toBeUndefined();
    expect(uncleanPath("/v2/keys/a/")).toBeUndefined();
    expect(uncleanPath("/v2/keys//a")).toBe("/v2/keys/a");
    expect(uncleanPath("/v2/keys/./a/../b/")).toBe("/v2/keys/b/");
    expect(uncleanPath("/v2/keys/../../x")).toBe("/x");
    expect(pathUnescape("/v2/keys/a%2Fb%20c")).toBe("/v2/keys/a/b c");
    expect(pathUnescape("/v2/keys/%zz")).toBeUndefined();
    expect(pathUnescape("/v2/keys/%ff")).toBe("/v2/keys/\ufffd");
  });
});

describe("v2 security model", () => {
  const role = (read: string[] | null, write: string[] | null): Role => ({ role: "r", permissions: { kv: { read, write } } });

  test("patterns: exact, or a prefix with a trailing *; recursive access needs a * pattern", () => {
    const r = role(["/a", "/pub/*"], ["/pub/w*"]);
    expect(roleHasKeyAccess(r, "/a", false)).toBe(true);
    expect(roleHasKeyAccess(r, "/a/b", false)).toBe(false);
    expect(roleHasKeyAccess(r, "/pub/x", false)).toBe(true);
    expect(roleHasKeyAccess(r, "/pub", false)).toBe(false);
    expect(roleHasKeyAccess(r, "/pub/wx", true)).toBe(true);
    expect(roleHasKeyAccess(r, "/pub/x", true)).toBe(false);
    expect(roleHasRecursiveAccess(r, "/a", false)).toBe(false);
    expect(roleHasRecursiveAccess(r, "/pub/dir", false)).toBe(true);
    expect(roleHasKeyAccess({ role: "root", permissions: { kv: { read: null, write: null } } }, "/any", true)).toBe(true);
  });

  test("grant/revoke merges: duplicates refused, unknown revokes ignored for roles, refused for users", async () => {
    expect(mergeRole(role(["/a"], null), { role: "r", permissions: { kv: { read: null, write: null } }, grant: { kv: { read: ["/c", "/b"], write: null } } }).permissions.kv)
      .toEqual({ read: ["/a", "/b", "/c"], write: [] });
    expect(() => mergeRole(role(["/a"], null), { role: "r", permissions: { kv: { read: null, write: null } }, grant: { kv: { read: ["/a"], write: null } } }))
      .toThrow("auth: Granting duplicate read permission /a");
    const old = role(["/a"], null);
    const same = mergeRole(old, { role: "r", permissions: { kv: { read: null, write: null } }, revoke: { kv: { read: ["/zzz"], write: null } } });
    // nil and [] differ, as reflect.DeepEqual sees them: this counts as a change in etcd.
    expect(sameRole(old, same)).toBe(false);
    const hash = async (pw: string) => `h(${pw})`;
    const u = await mergeUser({ user: "u", password: "h(old)", roles: ["a"] }, { user: "u", roles: null, grant: ["b"] }, hash);
    expect(u).toEqual({ user: "u", password: "h(old)", roles: ["a", "b"] });
    await expect(mergeUser({ user: "u", roles: ["a"] }, { user: "u", roles: null, revoke: ["b"] }, hash)).rejects.toThrow("auth: Revoking ungranted role b for user u");
    expect(sameUser({ user: "u", password: "x", roles: [] }, { user: "u", password: "x", roles: [] })).toBe(true);
    expect(sameUser({ user: "u", password: "x", roles: null }, { user: "u", password: "x", roles: [] })).toBe(false);
  });
});
