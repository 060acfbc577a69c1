import { expect, test } from "bun:test";
import { msg } from "./helpers.ts";
import { formatInitialCluster, urlString } from "../../src/config/index.ts";
import {
  checkBindUrls,
  checkHostUrls,
  parseEtcdUrl,
  parseInitialCluster,
  parseUniqueUrlList,
  parseUrlList,
  splitHostPort,
} from "../../src/config/urls.ts";

test("URLs keep etcd's rules and Go's texts", () => {
  expect(parseEtcdUrl(" http://10.0.0.1:2379 ").text).toBe("http://10.0.0.1:2379");
  expect(parseEtcdUrl("unix://localhost:1").scheme).toBe("unix");
  expect(parseEtcdUrl("HTTPS://[::1]:2379").text).toBe("https://[::1]:2379");
  expect(msg(() => parseEtcdUrl("127.0.0.1:2379"))).toBe(
    'parse "127.0.0.1:2379": first path segment in URL cannot contain colon',
  );
  expect(msg(() => parseEtcdUrl("localhost:2379"))).toBe(
    "URL scheme must be http, https, unix, or unixs: localhost:2379",
  );
  expect(msg(() => parseEtcdUrl("ftp://a:1"))).toBe("URL scheme must be http, https, unix, or unixs: ftp://a:1");
  expect(msg(() => parseEtcdUrl("http://a"))).toBe('URL address does not have the form "host:port": http://a');
  expect(msg(() => parseEtcdUrl("http://a:1/x"))).toBe("URL must not contain a path: http://a:1/x");
  expect(msg(() => parseEtcdUrl("http://a:b"))).toBe('parse "http://a:b": invalid port ":b" after host');
  expect(msg(() => parseEtcdUrl(":1"))).toBe('parse ":1": missing protocol scheme');
});

test("URL lists are sorted; unique lists drop duplicates and accept empty", () => {
  expect(parseUrlList("http://b:1,http://a:1").map((u) => u.text)).toEqual(["http://a:1", "http://b:1"]);
  expect(parseUniqueUrlList("http://a:1,http://a:1").map((u) => u.text)).toEqual(["http://a:1"]);
  expect(parseUniqueUrlList("")).toEqual([]);
});

test("SplitHostPort errors", () => {
  expect(splitHostPort("[::1]:80")).toEqual({ host: "::1", port: "80" });
  expect(msg(() => splitHostPort("a"))).toBe("address a: missing port in address");
  expect(msg(() => splitHostPort("a:b:c"))).toBe("address a:b:c: too many colons in address");
});

test("bind URLs need an IP or localhost; advertised URLs a host", () => {
  expect(() => checkBindUrls(parseUrlList("http://localhost:1,http://0.0.0.0:2,http://[::]:3"))).not.toThrow();
  expect(msg(() => checkBindUrls(parseUrlList("http://example.com:1")))).toBe(
    "expected IP in URL for binding (http://example.com:1)",
  );
  expect(() => checkBindUrls(parseUrlList("unix://sock:0"))).not.toThrow();
  expect(msg(() => checkHostUrls(parseUrlList("http://:1")))).toBe("unexpected empty host (http://:1)");
});

test("initial cluster: a name may list several URLs", () => {
  const c = parseInitialCluster("a=http://10.0.0.2:2380,b=http://10.0.0.3:2380,a=http://10.0.0.1:2380,");
  expect(c.map((e) => [e.name, e.urls.map((u) => u.text)])).toEqual([
    ["a", ["http://10.0.0.1:2380", "http://10.0.0.2:2380"]],
    ["b", ["http://10.0.0.3:2380"]],
  ]);
  expect(msg(() => parseInitialCluster("a"))).toBe("URL scheme must be http, https, unix, or unixs: ");
});

test("URLs print in Go's form, without a trailing slash", () => {
  const u = new URL("http://10.0.0.1:2380");
  expect(urlString(u)).toBe("http://10.0.0.1:2380");
  expect(formatInitialCluster([{ name: "a", url: u }])).toBe("a=http://10.0.0.1:2380");
});
