// etcdctl 3.4 against one member: put/get/del/txn/compaction, output formats and errors.
// Expected texts were taken from Debian's etcd 3.4.23 with the same etcdctl.
import { expect, test } from "bun:test";
import { errorLine, useMember } from "../helpers/index.ts";

const env = useMember();

/** header.revision from `-w json` output (revision fits a JS number; IDs may not). */
function headerRevision(json: string): number {
  const m = /"revision":(\d+)/.exec(json);
  if (!m) throw new Error(`no revision in ${json}`);
  return Number(m[1]);
}

async function currentRevision(): Promise<number> {
  return headerRevision(await env().ctl.ok("get", "any-key", "-w", "json"));
}

test("put prints OK and get prints key and value lines", async () => {
  const { ctl } = env();
  expect(await ctl.ok("put", "kv/foo", "bar")).toBe("OK\n");
  expect(await ctl.ok("get", "kv/foo")).toBe("kv/foo\nbar\n");
  expect(await ctl.ok("get", "kv/missing")).toBe("");
});

test("put --prev-kv prints the previous pair; value may come from stdin", async () => {
  const { ctl } = env();
  await ctl.ok("put", "kv/pv", "one");
  expect(await ctl.ok("put", "kv/pv", "two", "--prev-kv")).toBe("OK\nkv/pv\none\n");
  const r = await ctl.runWith({ stdin: "from-stdin" }, "put", "kv/stdin");
  expect(r.code).toBe(0);
  expect(await ctl.ok("get", "kv/stdin", "--print-value-only")).toBe("from-stdin\n");
});

test("get -w json has header, base64 kvs, revisions and count", async () => {
  const { ctl } = env();
  await ctl.ok("put", "kv/json", "v1");
  await ctl.ok("put", "kv/json", "v2");
  const out = await ctl.ok("get", "kv/json", "-w", "json");
  expect(out).toMatch(/^\{"header":\{"cluster_id":\d+,"member_id":\d+,"revision":\d+,"raft_term":\d+\},"kvs":\[/);
  const rev = headerRevision(out);
  const parsed = JSON.parse(out);
  expect(parsed.count).toBe(1);
  expect(parsed.kvs).toEqual([
    { key: btoa("kv/json"), create_revision: rev - 1, mod_revision: rev, version: 2, value: btoa("v2") },
  ]);
});

test("get -w fields prints quoted field names", async () => {
  const { ctl } = env();
  await ctl.ok("put", "kv/fields", "fv");
  const out = await ctl.ok("get", "kv/fields", "-w", "fields");
  const lines = out.trimEnd().split("\n");
  expect(lines.map((l) => l.split(" : ")[0])).toEqual([
    '"ClusterID"',
    '"MemberID"',
    '"Revision"',
    '"RaftTerm"',
    '"Key"',
    '"CreateRevision"',
    '"ModRevision"',
    '"Version"',
    '"Value"',
    '"Lease"',
    '"More"',
    '"Count"',
  ]);
  expect(lines).toContain('"Key" : "kv/fields"');
  expect(lines).toContain('"Value" : "fv"');
  expect(lines).toContain('"Version" : 1');
  expect(lines).toContain('"Lease" : 0');
  expect(lines).toContain('"More" : false');
  expect(lines).toContain('"Count" : 1');
});

test("get -w table is refused by etcdctl for get", async () => {
  const r = await env().ctl.run("get", "kv/foo", "-w", "table");
  expect(r.stderr).toContain("Error: table not supported as output format");
  expect(r.code).not.toBe(0);
});

test("prefix, from-key, keys-only, limit, order and sort-by", async () => {
  const { ctl } = env();
  for (const [k, v] of [
    ["p/a", "3"],
    ["p/b", "1"],
    ["p/c", "2"],
    ["p/d", "0"],
  ]) {
    await ctl.ok("put", k!, v!);
  }
  await ctl.ok("put", "p/b", "4"); // p/b now has version 2 and the highest mod revision
  await ctl.ok("put", "q", "after");
  expect(await ctl.ok("get", "p/", "--prefix")).toBe("p/a\n3\np/b\n4\np/c\n2\np/d\n0\n");
  expect(await ctl.ok("get", "p/c", "--from-key", "--keys-only")).toBe("p/c\n\np/d\n\nq\n\n");
  expect(await ctl.ok("get", "p/", "--prefix", "--limit", "2", "--print-value-only")).toBe("3\n4\n");
  expect(await ctl.ok("get", "p/", "--prefix", "--order", "DESCEND", "--keys-only")).toBe("p/d\n\np/c\n\np/b\n\np/a\n\n");
  expect(await ctl.ok("get", "p/", "--prefix", "--sort-by", "VALUE", "--print-value-only")).toBe("0\n2\n3\n4\n");
  expect(
    await ctl.ok("get", "p/", "--prefix", "--sort-by", "MODIFY", "--order", "DESCEND", "--limit", "1", "--keys-only"),
  ).toBe("p/b\n\n");
  expect(await ctl.ok("get", "p/", "--prefix", "--sort-by", "CREATE", "--order", "DESCEND", "--print-value-only")).toBe(
    "0\n2\n4\n3\n",
  );
  expect(
    await ctl.ok("get", "p/", "--prefix", "--sort-by", "VERSION", "--order", "DESCEND", "--limit", "1", "--keys-only"),
  ).toBe("p/b\n\n");
  // A range [p/b, p/d) given as two arguments.
  expect(await ctl.ok("get", "p/b", "p/d", "--keys-only")).toBe("p/b\n\np/c\n\n");
  // limit reports the total in count and more=true.
  const j = JSON.parse(await ctl.ok("get", "p/", "--prefix", "--limit", "1", "-w", "json"));
  expect(j.count).toBe(4);
  expect(j.more).toBe(true);
  expect(j.kvs.length).toBe(1);
});

test("get --rev reads history; future revision is an error", async () => {
  const { ctl } = env();
  await ctl.ok("put", "kv/hist", "old");
  const rev = headerRevision(await ctl.ok("get", "kv/hist", "-w", "json"));
  await ctl.ok("put", "kv/hist", "new");
  expect(await ctl.ok("get", "kv/hist", "--rev", String(rev))).toBe("kv/hist\nold\n");
  expect(await ctl.ok("get", "kv/hist")).toBe("kv/hist\nnew\n");
  const r = await ctl.run("get", "kv/hist", "--rev", String(rev + 1000));
  expect(r.code).toBe(1);
  expect(errorLine(r)).toBe("Error: etcdserver: mvcc: required revision is a future revision");
  expect(r.stdout).toBe("");
});

test("del prints the count, --prev-kv the deleted pairs, --prefix deletes a range", async () => {
  const { ctl } = env();
  for (const k of ["d/a", "d/b", "d/c"]) await ctl.ok("put", k, `v-${k}`);
  expect(await ctl.ok("del", "d/a")).toBe("1\n");
  expect(await ctl.ok("del", "d/nothing")).toBe("0\n");
  expect(await ctl.ok("del", "d/", "--prefix", "--prev-kv")).toBe("2\nd/b\nv-d/b\nd/c\nv-d/c\n");
  expect(await ctl.ok("get", "d/", "--prefix")).toBe("");
});

test("deleting nothing does not bump the revision; each put bumps it by one", async () => {
  const { ctl } = env();
  const r0 = await currentRevision();
  await ctl.ok("del", "nothing/here");
  expect(await currentRevision()).toBe(r0);
  await ctl.ok("put", "bump", "1");
  expect(await currentRevision()).toBe(r0 + 1);
});

test("txn from stdin: success branch with put and get", async () => {
  const { ctl } = env();
  await ctl.ok("put", "t/cond", "yes");
  const script = 'value("t/cond") = "yes"\n\nput t/x 1\nget t/cond\n\nput t/y 2\n\n';
  const r = await ctl.runWith({ stdin: script }, "txn");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("SUCCESS\n\nOK\n\nt/cond\nyes\n");
  expect(await ctl.ok("get", "t/", "--prefix", "--keys-only")).toBe("t/cond\n\nt/x\n\n");
});

test("txn from stdin: failure branch, compares on mod/version/create", async () => {
  const { ctl } = env();
  await ctl.ok("put", "t2/a", "v");
  const script = 'mod("t2/a") > "0"\nversion("t2/a") = "1"\ncreate("t2/missing") > "0"\n\nput t2/ok 1\n\nput t2/fail 1\ndel t2/a\n\n';
  const r = await ctl.runWith({ stdin: script }, "txn");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("FAILURE\n\nOK\n\n1\n");
  expect(await ctl.ok("get", "t2/", "--prefix", "--keys-only")).toBe("t2/fail\n\n");
});

test("txn -i prompts on stdout and runs the same script", async () => {
  const { ctl } = env();
  await ctl.ok("put", "ti/k", "v");
  const script = 'value("ti/k") = "v"\n\nput ti/new n\n\n\n';
  const r = await ctl.runWith({ stdin: script }, "txn", "-i");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    "compares:\nsuccess requests (get, put, del):\nfailure requests (get, put, del):\nSUCCESS\n\nOK\n",
  );
  expect(await ctl.ok("get", "ti/new", "--print-value-only")).toBe("n\n");
});

test("txn -w json: one revision for all ops, inner headers carry only revision", async () => {
  const { ctl } = env();
  await ctl.ok("put", "tj/a", "1");
  const script = 'value("tj/a") = "1"\n\nput tj/b 2\ndel tj/a\n\n\n';
  const out = (await ctl.runWith({ stdin: script }, "txn", "-w", "json")).stdout;
  const rev = headerRevision(out);
  const j = JSON.parse(out);
  expect(j.succeeded).toBe(true);
  expect(j.responses).toEqual([
    { Response: { ResponsePut: { header: { revision: rev } } } },
    { Response: { ResponseDeleteRange: { header: { revision: rev }, deleted: 1 } } },
  ]);
});

test("compaction: prints the revision; get and compaction below it fail with the compacted error", async () => {
  const { ctl } = env();
  await ctl.ok("put", "c/k", "v1");
  const old = await currentRevision();
  await ctl.ok("put", "c/k", "v2");
  await ctl.ok("put", "c/k", "v3");
  const at = await currentRevision();
  expect(await ctl.ok("compaction", String(at - 1))).toBe(`compacted revision ${at - 1}\n`);
  const g = await ctl.run("get", "c/k", "--rev", String(old));
  expect(g.code).toBe(1);
  expect(errorLine(g)).toBe("Error: etcdserver: mvcc: required revision has been compacted");
  // Reading exactly at the compaction revision is allowed.
  expect(await ctl.ok("get", "c/k", "--rev", String(at - 1), "--print-value-only")).toBe("v2\n");
  const again = await ctl.run("compaction", String(at - 1));
  expect(again.code).toBe(1);
  expect(errorLine(again)).toBe("Error: etcdserver: mvcc: required revision has been compacted");
  const future = await ctl.run("compaction", String(at + 100));
  expect(errorLine(future)).toBe("Error: etcdserver: mvcc: required revision is a future revision");
  // The member keeps serving.
  expect(await ctl.ok("get", "c/k", "--print-value-only")).toBe("v3\n");
});

test("put --ignore-value keeps the value, --ignore-lease keeps the lease; both need an existing key", async () => {
  const { ctl } = env();
  await ctl.ok("put", "ig/k", "v1");
  const lease = /^lease ([0-9a-f]{16})/.exec(await ctl.ok("lease", "grant", "100"))![1]!;
  expect(await ctl.ok("put", "ig/k", "--ignore-value", `--lease=${lease}`)).toBe("OK\n");
  const a = JSON.parse(await ctl.ok("get", "ig/k", "-w", "json"));
  expect(atob(a.kvs[0].value)).toBe("v1");
  expect(a.kvs[0].version).toBe(2);
  const leaseOf = async () => BigInt(/"lease":(\d+)/.exec(await ctl.ok("get", "ig/k", "-w", "json"))![1]!).toString(16);
  expect(await leaseOf()).toBe(lease.replace(/^0+/, ""));
  expect(await ctl.ok("put", "ig/k", "v2", "--ignore-lease")).toBe("OK\n");
  expect(await ctl.ok("get", "ig/k", "--print-value-only")).toBe("v2\n");
  expect(await leaseOf()).toBe(lease.replace(/^0+/, ""));
  const r = await ctl.run("put", "ig/missing", "--ignore-value");
  expect(r.code).toBe(1);
  expect(errorLine(r)).toBe("Error: etcdserver: key not found");
});

test("serializable get and physical compaction", async () => {
  const { ctl } = env();
  await ctl.ok("put", "s/k", "v");
  expect(await ctl.ok("get", "s/k", "--consistency=s")).toBe("s/k\nv\n");
  const rev = await currentRevision();
  expect(await ctl.ok("compaction", "--physical", String(rev))).toBe(`compacted revision ${rev}\n`);
  expect(await ctl.ok("get", "s/k", "--print-value-only")).toBe("v\n");
});
