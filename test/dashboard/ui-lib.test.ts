// The dashboard's browser-side helpers, one layer at a time (no browser, no member): bytes and
// IDs, value formats and their validation, the history diff, the export file format, what a
// user's grants allow, the error advice table and the start command of an added member.
import { describe, expect, test } from "bun:test";
import { envLines, startArgs, startCommand } from "../../src/client/member-start.ts";
import { Errors, RawErrors } from "../../src/rpctypes/index.ts";
import { adviceFor, advisedMessages } from "../../ui/lib/advice.ts";
import { decId, fromB64, fromHex, hexId, hexLeaseId, humanBytes, prefixEnd, toB64, utf8 } from "../../ui/lib/bytes.ts";
import { diffLines } from "../../ui/lib/diff.ts";
import { detectFormat, encode, render } from "../../ui/lib/format.ts";
import { parseMetrics } from "../../ui/lib/metrics.ts";
import { describeGrant, may, type Session } from "../../ui/lib/session.ts";
import { parseExport } from "../../ui/lib/transfer.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

describe("bytes and IDs", () => {
  test("prefix ends follow etcd: last byte below 0xff incremented, all 0xff → \\0", () => {
    expect(prefixEnd(utf8("/app/"))).toEqual(utf8("/app0"));
    expect(prefixEnd(bytes(0x61, 0xff))).toEqual(bytes(0x62));
    expect(prefixEnd(bytes(0xff, 0xff))).toEqual(bytes(0));
  });
  test("base64 and hex round trips; bad hex is refused", () => {
    const b = bytes(0, 1, 0xfe, 0xff);
    expect(fromB64(toB64(b))).toEqual(b);
    expect(fromHex("00 01 fe ff")).toEqual(b);
    expect(() => fromHex("0g")).toThrow("hex value must be an even number of hex digits");
    expect(() => fromHex("abc")).toThrow("hex value must be an even number of hex digits");
  });
  test("uint64 IDs: decimal from the gateway ↔ hex for people, including 2^64-1", () => {
    expect(hexId("18446744073709551615")).toBe("ffffffffffffffff");
    expect(decId("ffffffffffffffff")).toBe("18446744073709551615");
    expect(hexId(decId("8e9e05c52164694d"))).toBe("8e9e05c52164694d");
    expect(() => decId("xyz")).toThrow('"xyz" is not a hexadecimal ID');
    expect(() => decId("1ffffffffffffffff")).toThrow("is not a hexadecimal ID");
  });
  test("lease IDs read as etcdctl prints them (%016x), leading zeros kept; member IDs do not pad", () => {
    expect(hexLeaseId(decId("0c12a2512a2e9c07"))).toBe("0c12a2512a2e9c07");
    expect(hexLeaseId("1")).toBe("0000000000000001");
    expect(hexLeaseId("18446744073709551615")).toBe("ffffffffffffffff");
    expect(hexId(decId("0c12a2512a2e9c07"))).toBe("c12a2512a2e9c07");
  });
  test("sizes in SI units like etcdctl", () => {
    expect(humanBytes(25_000)).toBe("25 kB");
    expect(humanBytes(2_100_000)).toBe("2.1 MB");
  });
});

describe("value formats", () => {
  test("binary is hex, JSON objects are JSON, the rest text", () => {
    expect(detectFormat(bytes(0xff, 0xfe))).toBe("hex");
    expect(detectFormat(utf8('{"a":1}'))).toBe("json");
    expect(detectFormat(utf8("{not json}"))).toBe("text");
    expect(detectFormat(utf8("plain"))).toBe("text");
  });
  test("rendered pretty; validated before a save; the text is stored as typed", async () => {
    expect(await render(utf8('{"a":[1,2]}'), "json")).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(await render(utf8('{"a":1}'), "yaml")).toBe("a: 1\n");
    expect(await render(bytes(0xde, 0xad), "hex")).toBe("de ad");
    await expect(render(bytes(0xff), "text")).rejects.toThrow("not UTF-8");
    expect(await encode('{"a": 1}', "json")).toEqual(utf8('{"a": 1}'));
    await expect(encode('{"a": ', "json")).rejects.toThrow("invalid JSON");
    await expect(encode("a: [1,\n", "yaml")).rejects.toThrow("invalid YAML");
    expect(await encode("de ad", "hex")).toEqual(bytes(0xde, 0xad));
  });
});

test("history diff marks kept, removed and added lines", () => {
  expect(diffLines("a\nb\nc", "a\nB\nc\nd")).toEqual([
    { op: " ", text: "a" },
    { op: "-", text: "b" },
    { op: "+", text: "B" },
    { op: " ", text: "c" },
    { op: "+", text: "d" },
  ]);
});

test("export files are validated with the reason and the place", () => {
  const ok = parseExport(JSON.stringify({ format: "conclave-keys/1", prefix: "/a/", revision: 3, kvs: [{ key: { text: "/a/1" }, value: { base64: "/w==" } }] }));
  expect(ok.kvs.length).toBe(1);
  expect(() => parseExport("{")).toThrow("not a JSON file");
  expect(() => parseExport(JSON.stringify({ format: "other" }))).toThrow("not a conclave-keys/1 file: format");
  expect(() => parseExport(JSON.stringify({ format: "conclave-keys/1", prefix: "", revision: 1, kvs: [{ key: { base64: "!!" }, value: { text: "" } }] }))).toThrow(
    "not a conclave-keys/1 file: kvs.0.key",
  );
});

describe("grants", () => {
  const s = (grants: Session["grants"]): Session => ({ info: { name: "m", memberId: "1", clusterId: "2", authEnabled: true, version: "3.4.23" }, user: "u", admin: false, grants });
  const prefix = (p: string, read = true, write = true) => ({ key: utf8(p), end: prefixEnd(utf8(p)), read, write, role: "r" });
  test("a prefix grant allows the prefix, its keys and sub-prefixes, nothing outside", () => {
    const u = s([prefix("/app/")]);
    expect(may(u, "write", utf8("/app/"), prefixEnd(utf8("/app/")))).toBe(true);
    expect(may(u, "write", utf8("/app/x/"), prefixEnd(utf8("/app/x/")))).toBe(true);
    expect(may(u, "read", utf8("/app/k"), new Uint8Array(0))).toBe(true);
    expect(may(u, "read", utf8("/ap"), prefixEnd(utf8("/ap")))).toBe(false);
    expect(may(u, "read", bytes(0), bytes(0))).toBe(false);
    expect(may(u, "read", utf8("/other"), new Uint8Array(0))).toBe(false);
  });
  test("read-only, single-key and open-ended grants", () => {
    const u = s([prefix("/ro/", true, false), { key: utf8("one"), end: new Uint8Array(0), read: true, write: true, role: "r" }, { key: utf8("z"), end: bytes(0), read: true, write: false, role: "r" }]);
    expect(may(u, "write", utf8("/ro/k"), new Uint8Array(0))).toBe(false);
    expect(may(u, "read", utf8("/ro/k"), new Uint8Array(0))).toBe(true);
    expect(may(u, "write", utf8("one"), new Uint8Array(0))).toBe(true);
    expect(may(u, "write", utf8("one"), prefixEnd(utf8("one")))).toBe(false);
    expect(may(u, "read", utf8("zz"), bytes(0))).toBe(true);
    expect(may(u, "read", utf8("y"), bytes(0))).toBe(false);
    expect(may({ ...u, admin: true }, "write", bytes(0), bytes(0))).toBe(true);
  });
  test("grants read like etcdctl's role get", () => {
    expect(describeGrant(prefix("/app/"))).toBe("/app/ (prefix)");
    expect(describeGrant({ key: utf8("a"), end: utf8("c") })).toBe("[a, c)");
    expect(describeGrant({ key: utf8("k"), end: new Uint8Array(0) })).toBe("k");
    expect(describeGrant({ key: bytes(0), end: bytes(0) })).toBe("all keys");
    expect(describeGrant({ key: utf8("m"), end: bytes(0) })).toBe("m… (to the end)");
  });
});

test("every message with advice is one of etcd's catalogue texts", () => {
  const known = new Set([...Object.values(Errors), ...Object.values(RawErrors)].map((e) => e.message));
  for (const m of advisedMessages) expect(known.has(m)).toBe(true);
  expect(adviceFor("etcdserver: permission denied")).toContain("Ask an administrator");
  expect(adviceFor("rpc error: code = PermissionDenied desc = etcdserver: permission denied")).toContain("Ask an administrator");
  expect(adviceFor("etcdserver: mvcc: required revision has been compacted (compacted at 42)")).toContain("compacted away");
  expect(adviceFor("something else")).toBeUndefined();
});

test("metrics text: samples summed per name over label sets", () => {
  const m = parseMetrics('# HELP x y\nx{a="1"} 2\nx{a="2"} 3\ny 1.5e3\n');
  expect(m.get("x")).toBe(5);
  expect(m.get("y")).toBe(1500);
});

test("an added member's start: etcdctl's ETCD_* lines and the full command", () => {
  const added = {
    name: "m4",
    peerURLs: ["http://10.0.0.4:2380"],
    id: "99",
    members: [
      { id: "1", name: "m1", peerURLs: ["http://10.0.0.1:2380"] },
      { id: "99", name: "", peerURLs: ["http://10.0.0.4:2380"] },
    ],
  };
  expect(envLines(added)).toEqual([
    'ETCD_NAME="m4"',
    'ETCD_INITIAL_CLUSTER="m1=http://10.0.0.1:2380,m4=http://10.0.0.4:2380"',
    'ETCD_INITIAL_ADVERTISE_PEER_URLS="http://10.0.0.4:2380"',
    'ETCD_INITIAL_CLUSTER_STATE="existing"',
  ]);
  expect(startCommand(added)).toBe(
    "conclave --name m4 --initial-advertise-peer-urls http://10.0.0.4:2380 --listen-peer-urls http://10.0.0.4:2380 --listen-client-urls http://10.0.0.4:2379 --advertise-client-urls http://10.0.0.4:2379 --initial-cluster m1=http://10.0.0.1:2380,m4=http://10.0.0.4:2380 --initial-cluster-state existing",
  );
  expect(startArgs({ ...added, name: "it's" }, { dataDir: "/var/lib/x y" }).slice(-2)).toEqual(["--data-dir", "/var/lib/x y"]);
  expect(startCommand({ ...added, name: "it's" })).toContain("--name 'it'\\''s'");
});
