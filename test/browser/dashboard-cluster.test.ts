// The dashboard in Debian's chromium against a real 3-member cluster (auth off): every view's
// actions, each checked through Debian's etcdctl; security headers and the same-origin rule of
// the dashboard's own routes; a screenshot of each view under dist/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { screenshot, seeClass, seeContains, seeCount, seeDisabled, seeText, seeValue, TestBrowser } from "../helpers/browser.ts";
import { Cluster, delay, FAST_RAFT_FLAGS, freePorts, hexId, LineProcess, makeTempDir, memberBinary, pollUntil, removeDir, useCluster } from "../helpers/index.ts";

const cluster = useCluster({ size: 3, namePrefix: "ui" });
let browser: TestBrowser;
let page: Page;
let pageErrors: string[];
let base: string;

beforeAll(async () => {
  browser = await TestBrowser.open();
  const p = await browser.page();
  page = p.page;
  pageErrors = p.errors;
  base = cluster().members[0]!.clientURL;
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

const ctl = () => cluster().ctl();
async function get(key: string): Promise<string> {
  return ctl().ok("get", key, "--print-value-only");
}
async function endpointLeader(c: Cluster): Promise<string> {
  const st = JSON.parse(await c.ctl().ok("endpoint", "status", "-w", "json")) as { Status: { leader: number | string; header: { member_id: number | string } } }[];
  // JSON numbers lose precision above 2^53: compare the member whose status says it leads.
  const leaders = new Set(st.map((s) => String(s.Status.leader)));
  expect(leaders.size).toBe(1);
  const i = st.findIndex((s) => String(s.Status.header.member_id) === String(s.Status.leader));
  return c.running()[i]!.name;
}
async function goto(view: string): Promise<void> {
  await page.goto(`${base}/ui#/${view}`);
  await page.getByTestId(`view-${view}`).waitFor();
}

describe("dashboard on a 3-member cluster", () => {
  test("security headers, assets, and dashboard routes refuse other origins", async () => {
    const res = await fetch(`${base}/ui`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]) {
      expect(csp).toContain(d);
    }
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/<style|style=/);
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${base}${script}`, { headers: { "accept-encoding": "gzip" } });
    expect(js.status).toBe(200);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("content-encoding")).toBe("gzip");
    expect(js.headers.get("content-security-policy")).toBe(csp);
    const again = await fetch(`${base}${script}`, { headers: { "if-none-match": js.headers.get("etag")! } });
    expect(again.status).toBe(304);

    // A preflight from another origin gets no CORS grant for the dashboard's routes.
    const pre = await fetch(`${base}/ui/api/members/1/defragment`, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    // A cross-origin POST (a form or fetch from another site) is refused before it runs.
    const leaderBefore = await endpointLeader(cluster());
    const target = cluster().members.find((m) => m.name !== leaderBefore)!;
    const id = (await target.status()).id.toString(16);
    const leaderId = (await cluster().member(leaderBefore).status()).id.toString(16);
    const attempts: Record<string, string>[] = [{ origin: "http://evil.example" }, { "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site", origin: "http://127.0.0.1:1" }];
    for (const headers of attempts) {
      const r = await fetch(`${base}/ui/api/members/${leaderId}/transfer-leadership`, {
        method: "POST",
        headers: { "content-type": "text/plain", ...headers },
        body: JSON.stringify({ targetID: BigInt(`0x${id}`).toString() }),
      });
      expect(r.status).toBe(403);
      expect(((await r.json()) as { error: string }).error).toBe("cross-origin request refused");
    }
    await delay(300);
    expect(await endpointLeader(cluster())).toBe(leaderBefore);
    // Unknown member calls and malformed IDs are refused with etcd-style errors.
    expect((await fetch(`${base}/ui/api/members/${leaderId}/hash`, { method: "POST", body: "{}" })).status).toBe(404);
    const bad = await fetch(`${base}/ui/api/members/zz/status`, { method: "POST", body: "{}" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('bad member ID arg ("zz"), expecting ID in Hex');
    const unknown = await fetch(`${base}/ui/api/members/1234/status`, { method: "POST", body: "{}" });
    expect(((await unknown.json()) as { error: string }).error).toBe("etcdserver: member not found");
    const malformed = await fetch(`${base}/ui/api/members/${id}/status`, { method: "POST", body: "{not json" });
    expect(malformed.status).toBe(400);
  });

  test("cluster view: every member's status, live; a leader change shows as it happens", async () => {
    await goto("cluster");
    const table = page.getByTestId("cluster-table");
    for (const m of cluster().members) await seeText(table.getByTestId(`member-${m.name}`).getByTestId("raft-index"), /./);
    const leader = await endpointLeader(cluster());
    await seeText(table.getByTestId(`member-${leader}`).getByTestId("role"), "leader");
    await screenshot(page, "cluster");
    // Move the leader with etcdctl: the page shows the new leader and the change.
    const next = cluster().members.find((m) => m.name !== leader)!;
    const nextId = (await next.status()).id.toString(16);
    await cluster().ctl([cluster().member(leader)]).ok("move-leader", nextId);
    await seeText(table.getByTestId(`member-${next.name}`).getByTestId("role"), "leader", 10_000);
    await seeContains(page.getByTestId("leader-changes"), `${leader} → ${next.name}`);
    // The raft index moves as the cluster writes.
    const before = Number(await table.getByTestId(`member-${next.name}`).getByTestId("raft-index").textContent());
    await ctl().ok("put", "live-index", "1");
    await pollUntil(async () => (Number(await table.getByTestId(`member-${next.name}`).getByTestId("raft-index").textContent()) > before ? true : undefined), 10_000, "raft index refreshed");
  });

  test("keys: create, edit (read back by etcdctl), JSON validated, tree with and without a leading /", async () => {
    await ctl().ok("put", "/app/config", '{"replicas":3}');
    await ctl().ok("put", "plain", "no slash");
    await goto("keys");
    const tree = page.getByTestId("tree-root");
    await tree.getByTestId("tree-dir").filter({ hasText: "/" }).first().waitFor();
    await tree.getByTestId("tree-key").filter({ hasText: "plain" }).waitFor();
    // Create a key in the page.
    await page.getByTestId("new-key").click();
    await page.getByTestId("new-key-name").fill("/app/created");
    await page.getByTestId("value").fill("made in the browser");
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("saved"), "Saved at revision");
    expect(await get("/app/created")).toBe("made in the browser\n");
    // Open the tree down to /app/config and edit it as JSON.
    await tree.getByTestId("tree-dir").filter({ hasText: /^▸ \/$/ }).click();
    await page.getByTestId("tree-/").getByTestId("tree-dir").filter({ hasText: "app/" }).click();
    await page.getByTestId("tree-/app/").getByTestId("tree-key").filter({ hasText: "config" }).click();
    await seeClass(page.getByTestId("format-json"), /on/);
    await seeValue(page.getByTestId("value"), '{\n  "replicas": 3\n}');
    await page.getByTestId("value").fill('{"replicas": 5');
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("error"), "invalid JSON");
    expect(await get("/app/config")).toBe('{"replicas":3}\n');
    await page.getByTestId("value").fill('{"replicas": 5}');
    await page.getByTestId("save").click();
    await page.getByTestId("saved").waitFor();
    expect(await get("/app/config")).toBe('{"replicas": 5}\n');
    // YAML view of the same value, validated before save.
    await page.getByTestId("format-yaml").click();
    await seeValue(page.getByTestId("value"), "replicas: 5\n");
    await page.getByTestId("value").fill("replicas: [1,\n");
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("error"), "invalid YAML");
    expect(await get("/app/config")).toBe('{"replicas": 5}\n');
    await page.getByTestId("value").fill("replicas: 7\n");
    await page.getByTestId("save").click();
    await page.getByTestId("saved").waitFor();
    expect(await get("/app/config")).toBe("replicas: 7\n\n");
    // A value that is not UTF-8 is shown and edited as hex.
    const gw = cluster().members[0]!.gw;
    const b64 = (b: number[] | string) => Buffer.from(typeof b === "string" ? b : Uint8Array.from(b)).toString("base64");
    expect((await gw.post("/v3/kv/put", { key: b64("/app/bin"), value: b64([0xff, 0xfe, 0x00]) })).status).toBe(200);
    await page.getByTestId("search-prefix").fill("/app/bin");
    await page.getByTestId("search").click();
    await page.getByTestId("flat-list").getByTestId("key-item").filter({ hasText: "/app/bin" }).click();
    await seeClass(page.getByTestId("format-hex"), /on/);
    await seeValue(page.getByTestId("value"), "ff fe 00");
    await page.getByTestId("value").fill("ff fe 01 02");
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("saved"), "Saved at revision");
    const r = await gw.post("/v3/kv/range", { key: b64("/app/bin") });
    expect(r.json.kvs[0].value).toBe(b64([0xff, 0xfe, 0x01, 0x02]));
    await page.getByTestId("value").fill("ff f");
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("error"), "hex value must be an even number of hex digits");
    await screenshot(page, "keys");
  });

  test("keys: a concurrent edit is refused with a clear message, never overwritten", async () => {
    await ctl().ok("put", "/app/race", "original");
    await goto("keys");
    await page.getByTestId("search-prefix").fill("/app/race");
    await page.getByTestId("search").click();
    await page.getByTestId("flat-list").getByTestId("key-item").filter({ hasText: "/app/race" }).click();
    await seeValue(page.getByTestId("value"), "original");
    await ctl().ok("put", "/app/race", "changed by etcdctl");
    await page.getByTestId("value").fill("edited in the page");
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("error"), "was changed by someone else after you opened it");
    expect(await get("/app/race")).toBe("changed by etcdctl\n");
    await seeValue(page.getByTestId("value"), "edited in the page");
    // Deleting is guarded the same way; after a reload both work.
    await page.getByTestId("reload").click();
    await seeValue(page.getByTestId("value"), "changed by etcdctl");
    await ctl().ok("put", "/app/race", "again");
    await page.getByTestId("delete-key").click();
    await page.getByTestId("confirm-yes").click();
    await seeContains(page.getByTestId("error"), "was changed by someone else");
    expect(await get("/app/race")).toBe("again\n");
    await page.getByTestId("reload").click();
    await page.getByTestId("delete-key").click();
    await page.getByTestId("confirm").getByText("Delete the key /app/race?").waitFor();
    await page.getByTestId("confirm-yes").click();
    await pollUntil(async () => ((await get("/app/race")) === "" ? true : undefined), 5000, "key deleted");
  });

  test("keys: history by revision with a diff between two revisions", async () => {
    await ctl().ok("put", "/hist/k", "line1\nline2");
    await ctl().ok("put", "/hist/k", "line1\nline2 changed\nline3");
    await goto("keys");
    await page.getByTestId("search-prefix").fill("/hist/");
    await page.getByTestId("search").click();
    await page.getByTestId("key-item").filter({ hasText: "/hist/k" }).click();
    await page.getByTestId("history").click();
    const panel = page.getByTestId("history-panel");
    await seeCount(panel.locator("tbody tr"), 2);
    const diff = panel.getByTestId("diff");
    await seeContains(diff, "- line2");
    await seeContains(diff, "+ line2 changed");
    await seeContains(diff, "+ line3");
    await screenshot(page, "keys-history");
  });

  test("keys: flat paging and a prefix delete naming the count", async () => {
    // One txn of 120 puts through the gateway.
    const b64 = (t: string) => Buffer.from(t).toString("base64");
    const success = Array.from({ length: 120 }, (_, i) => ({ request_put: { key: b64(`/page/k${String(i).padStart(3, "0")}`), value: b64(`v${i}`) } }));
    expect((await cluster().members[1]!.gw.post("/v3/kv/txn", { success })).status).toBe(200);
    expect(JSON.parse(await ctl().ok("get", "/page/", "--prefix", "--keys-only", "-w", "json")).count).toBe(120);
    await goto("keys");
    await page.getByTestId("search-prefix").fill("/page/");
    await page.getByTestId("search").click();
    await seeText(page.getByTestId("page-info"), "keys 1–50 of 120 with prefix /page/");
    await page.getByTestId("next-page").click();
    await seeText(page.getByTestId("page-info"), "keys 51–100 of 120 with prefix /page/");
    await page.getByTestId("next-page").click();
    await seeText(page.getByTestId("page-info"), "keys 101–120 of 120 with prefix /page/");
    await seeDisabled(page.getByTestId("next-page"));
    await page.getByTestId("prev-page").click();
    await seeText(page.getByTestId("key-item").first(), "/page/k050");
    await page.getByTestId("delete-prefix").click();
    await seeContains(page.getByTestId("confirm"), "Delete 120 keys with prefix /page/?");
    await page.getByTestId("confirm-yes").click();
    await seeText(page.getByTestId("prefix-deleted"), "Deleted 120 keys.");
    expect(await ctl().ok("get", "/page/", "--prefix", "--keys-only")).toBe("");
  });

  test("keys: export a prefix to JSON, import it elsewhere after a dry run (one txn per batch)", async () => {
    await ctl().ok("put", "/exp/a", "1");
    await ctl().ok("put", "/exp/b", "2");
    await goto("keys");
    await page.getByTestId("search-prefix").fill("/exp/");
    await page.getByTestId("search").click();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export").click()]);
    const file = JSON.parse(readFileSync((await download.path())!, "utf8")) as { format: string; kvs: { key: { text: string }; value: { text: string } }[] };
    expect(file.format).toBe("conclave-keys/1");
    expect(file.kvs.map((e) => [e.key.text, e.value.text])).toEqual([["/exp/a", "1"], ["/exp/b", "2"]]);
    // Change one value in the cluster and one in the file, add a key to the file: the dry run
    // shows one update of b (file differs) , a (same as the file? no: changed in the cluster) and one create.
    await ctl().ok("put", "/exp/a", "changed");
    file.kvs.push({ key: { text: "/exp/c" }, value: { text: "3" } });
    const dir = makeTempDir("ui-import");
    const path = join(dir, "import.json");
    await Bun.write(path, JSON.stringify(file));
    await page.getByTestId("import-file").setInputFiles(path);
    const dry = page.getByTestId("dry-run");
    await seeContains(dry, "1 to create, 1 to update, 1 unchanged");
    expect(await get("/exp/c")).toBe("");
    await page.getByTestId("import-apply").click();
    await seeContains(page.getByTestId("io-progress"), "Imported 2 keys");
    expect(await get("/exp/a")).toBe("1\n");
    expect(await get("/exp/c")).toBe("3\n");
    // A malformed file is refused with the reason; nothing is written.
    const bad = join(dir, "malformed.json");
    await Bun.write(bad, JSON.stringify({ format: "conclave-keys/1", prefix: "", revision: 1, kvs: [{ key: { text: "/exp/d" } }] }));
    await page.getByTestId("import-file").setInputFiles(bad);
    await seeContains(page.getByTestId("error"), "not a conclave-keys/1 file: kvs.0.value");
    expect(await get("/exp/d")).toBe("");
    removeDir(dir);
  });

  test("watch: an etcdctl put shows with its old value; pause, resume, clear", async () => {
    await ctl().ok("put", "/w/k", "old");
    await goto("watch");
    await page.getByTestId("watch-key").fill("/w/");
    await page.getByTestId("watch-start").click();
    // The member has created the watch (its created reply arrived) before etcdctl writes.
    await seeContains(page.getByTestId("watch-created"), "Watching prefix /w/ from now");
    await ctl().ok("put", "/w/k", "new");
    const ev = page.getByTestId("watch-event").first();
    await seeText(ev.getByTestId("old-value"), "old");
    await seeText(ev.getByTestId("new-value"), "new");
    await screenshot(page, "watch");
    await page.getByTestId("watch-pause").click();
    await ctl().ok("put", "/w/k", "while paused");
    await delay(300);
    await seeCount(page.getByTestId("watch-event"), 1);
    await page.getByTestId("watch-resume").click();
    await seeCount(page.getByTestId("watch-event"), 2);
    await seeText(page.getByTestId("watch-event").first().getByTestId("new-value"), "while paused");
    await seeText(page.getByTestId("watch-event").first().getByTestId("old-value"), "new");
    await ctl().ok("del", "/w/k");
    await seeContains(page.getByTestId("watch-event").first(), "DELETE");
    await page.getByTestId("watch-clear").click();
    await seeCount(page.getByTestId("watch-event"), 0);
    // From a past revision: history is replayed.
    const rev = Number(JSON.parse(await ctl().ok("get", "/w/k", "-w", "json")).header.revision);
    await page.getByTestId("watch-rev").fill(String(rev - 2));
    await page.getByTestId("watch-start").click();
    await seeCount(page.getByTestId("watch-event"), 3);
    await page.getByTestId("watch-stop").click();
  });

  test("leases: live TTL and keys; grant, keep-alive once, revoke (checked with etcdctl)", async () => {
    const granted = /lease ([0-9a-f]+) granted/.exec(await ctl().ok("lease", "grant", "60"))![1]!;
    await ctl().ok("put", "/lease/k", "v", "--lease", granted);
    // The page's member lists leases from what it has applied (LeaseLeases is local, as in etcd)
    // and the view re-reads every 5 s: a linearizable read there first waits until it has
    // applied the put, so the first read of the view already sees the lease. The row is named
    // by the ID as etcdctl printed it (%016x, a leading zero one time in sixteen).
    await cluster().members[0]!.ctl.ok("get", "/lease/k");
    await goto("leases");
    const row = page.getByTestId(`lease-${granted}`);
    await seeText(row.getByTestId("lease-keys"), "/lease/k");
    const remaining = Number((await row.getByTestId("remaining").textContent())!.replace("s", ""));
    expect(remaining).toBeGreaterThan(50);
    expect(remaining).toBeLessThanOrEqual(60);
    await pollUntil(async () => (Number((await row.getByTestId("remaining").textContent())!.replace("s", "")) < remaining ? true : undefined), 5000, "TTL counting down");
    // Grant in the page.
    // An ID with a leading zero: the page writes lease IDs as etcdctl does (%016x), so the
    // row and the notice name it exactly as `etcdctl lease list` does.
    await page.getByTestId("lease-ttl").fill("120");
    await page.getByTestId("lease-id").fill("0123456789abcdef");
    await page.getByTestId("lease-grant").click();
    const made = /lease ([0-9a-f]+) granted with TTL\(120s\)/.exec((await page.getByTestId("lease-notice").textContent())!)![1]!;
    expect(made).toBe("0123456789abcdef");
    expect((await ctl().ok("lease", "list")).split("\n")).toContain(made);
    await seeText(page.getByTestId(`lease-${made}`).getByTestId("remaining"), /^1[01]\ds$/);
    await screenshot(page, "leases");
    // Keep-alive once brings the remaining TTL back to the granted one.
    await delay(2100);
    const before = /remaining\((\d+)s\)/.exec(await ctl().ok("lease", "timetolive", made))![1]!;
    await page.getByTestId(`lease-${made}`).getByTestId("lease-keepalive").click();
    await seeText(page.getByTestId("lease-notice"), `lease ${made} keepalived with TTL(120)`);
    const after = /remaining\((\d+)s\)/.exec(await ctl().ok("lease", "timetolive", made))![1]!;
    expect(Number(after)).toBeGreaterThan(Number(before));
    // Revoke in the page: etcdctl no longer lists it, its key is gone.
    await page.getByTestId(`lease-${granted}`).getByTestId("lease-revoke").click();
    await seeText(page.getByTestId("lease-notice"), `lease ${granted} revoked`);
    expect(await ctl().ok("lease", "list")).not.toContain(granted);
    expect(await get("/lease/k")).toBe("");
    // Keep-alive of a lease revoked meanwhile shows etcd's message and what to do.
    await ctl().ok("lease", "revoke", made);
    await page.getByTestId(`lease-${made}`).getByTestId("lease-keepalive").click();
    await seeContains(page.getByTestId("error"), "etcdserver: requested lease not found");
    await seeContains(page.getByTestId("error"), "expired or was revoked");
  });

  test("members: move leadership here, compaction, defragment, snapshot download", async () => {
    await goto("members");
    const leader = await endpointLeader(cluster());
    const follower = cluster().members.find((m) => m.name !== leader)!;
    const row = page.getByTestId(`mrow-${follower.name}`);
    await seeText(row.getByTestId("mstatus"), "follower");
    await row.getByTestId("make-leader").click();
    await seeText(page.getByTestId("members-notice"), `Leadership transferred to ${follower.name}`);
    expect(await endpointLeader(cluster())).toBe(follower.name);
    // Compaction at a revision: older revisions are gone for etcdctl.
    await ctl().ok("put", "/compact/k", "1");
    const rev = Number(JSON.parse(await ctl().ok("put", "/compact/k", "2", "-w", "json")).header.revision);
    await page.getByTestId("compact-rev").fill(String(rev));
    await page.getByTestId("compact").click();
    await seeText(page.getByTestId("members-notice"), `compacted revision ${rev}`);
    const old = await ctl().run("get", "/compact/k", `--rev=${rev - 1}`);
    expect(old.stderr).toContain("required revision has been compacted");
    // A watch from a compacted revision is refused with etcd's reason and what to do.
    await goto("watch");
    await page.getByTestId("watch-key").fill("/compact/");
    await page.getByTestId("watch-rev").fill("1");
    await page.getByTestId("watch-start").click();
    await seeContains(page.getByTestId("error"), "etcdserver: mvcc: required revision has been compacted");
    await seeContains(page.getByTestId("error"), "only revisions after the compaction can be read or watched");
    await seeText(page.getByTestId("watch-state"), "stopped");
    await goto("members");
    // Defragment a member other than this page's.
    const other = cluster().members.find((m) => m !== cluster().members[0])!;
    await page.getByTestId(`mrow-${other.name}`).getByTestId("defrag").click();
    await seeText(page.getByTestId("members-notice"), `Finished defragmenting etcd member[${other.clientURL}]`);
    // Snapshot: the download is the state database image followed by its SHA-256.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("snapshot").click()]);
    const bytes = readFileSync((await download.path())!);
    expect(bytes.length).toBeGreaterThan(32);
    const body = bytes.subarray(0, bytes.length - 32);
    expect(createHash("sha256").update(body).digest().equals(bytes.subarray(bytes.length - 32))).toBe(true);
    expect(download.suggestedFilename()).toMatch(/^snapshot-ui1-.*\.db$/);
    await screenshot(page, "members");
  });

  test("members: a learner added in the page shows in etcdctl member list, starts from the printed command, is promoted, removed", async () => {
    await goto("members");
    const [peer, client] = await freePorts(2);
    const peerUrl = `http://127.0.0.1:${peer}`;
    await page.getByTestId("add-name").fill("ui4");
    await page.getByTestId("add-peer-urls").fill(peerUrl);
    expect(await page.getByTestId("add-learner").isChecked()).toBe(true);
    // Remove a member first so the cluster stays at 3 processes: the third, via the page.
    const third = cluster().members[2]!;
    await page.getByTestId(`mrow-${third.name}`).getByTestId("remove").click();
    await page.getByTestId("confirm-yes").click();
    await seeContains(page.getByTestId("members-notice"), "removed from cluster");
    await pollUntil(async () => ((await cluster().memberList(cluster().members.slice(0, 2))).length === 2 ? true : undefined), 10_000, "member removed");
    await third.process.exited;
    await page.getByTestId("add-member").click();
    await seeText(page.getByTestId("members-notice"), /^Member [0-9a-f]+ added to cluster [0-9a-f]+ as a learner$/);
    const listed = await cluster().memberList(cluster().members.slice(0, 2));
    const learner = listed.find((m) => m.peerURLs === peerUrl)!;
    expect(learner.isLearner).toBe(true);
    expect(learner.started).toBe(false);
    // The start command, as flags and as ETCD_* lines.
    const flags = await page.getByTestId("start-flags").inputValue();
    const env = await page.getByTestId("start-env").inputValue();
    expect(env).toContain('ETCD_NAME="ui4"');
    expect(env).toContain(`ETCD_INITIAL_ADVERTISE_PEER_URLS="${peerUrl}"`);
    expect(env).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"');
    const initial = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(env)![1]!;
    expect(initial.split(",").sort()).toEqual([...cluster().members.slice(0, 2).map((m) => `${m.name}=${m.peerURL}`), `ui4=${peerUrl}`].sort());
    const args = flags.split(" ");
    expect(args[0]).toBe("conclave");
    expect(args.slice(args.indexOf("--initial-cluster") + 1)[0]).toBe(initial);
    // Update its peer URLs in the page before it starts: etcdctl sees the new one.
    const [peer2] = await freePorts(1);
    const peerUrl2 = `http://127.0.0.1:${peer2}`;
    const newRow = page.getByTestId(`mrow-${learner.id.toString(16)}`);
    await newRow.getByTestId("update-peer-urls").click();
    await newRow.getByTestId("peer-urls-edit").fill(peerUrl2);
    await newRow.getByTestId("peer-urls-save").click();
    await seeContains(page.getByTestId("members-notice"), "updated in cluster");
    expect((await cluster().memberList(cluster().members.slice(0, 2))).find((m) => m.id === learner.id)!.peerURLs).toBe(peerUrl2);
    // Start it with the printed flags (its new peer URL; client URL and data dir local to the test).
    const dir = makeTempDir("ui4");
    const set = (flag: string, value: string) => (args[args.indexOf(flag) + 1] = value);
    set("--initial-advertise-peer-urls", peerUrl2);
    set("--listen-peer-urls", peerUrl2);
    set("--initial-cluster", initial.replace(`ui4=${peerUrl}`, `ui4=${peerUrl2}`));
    set("--listen-client-urls", `http://127.0.0.1:${client}`);
    set("--advertise-client-urls", `http://127.0.0.1:${client}`);
    set("--data-dir", join(dir, "ui4.data"));
    const proc = new LineProcess(memberBinary(), [...args.slice(1), ...FAST_RAFT_FLAGS, "--initial-cluster-token", cluster().token], { maxLines: 3000 });
    try {
      const row = page.getByTestId("mrow-ui4");
      await seeText(row.getByTestId("mstatus"), "learner", 20_000);
      // Promote once it has caught up (the leader refuses a lagging learner).
      await pollUntil(
        async () => {
          const r = await fetch(`http://127.0.0.1:${client}/v3/maintenance/status`, { method: "POST", body: "{}" }).catch(() => undefined);
          if (r === undefined || r.status !== 200) return undefined;
          const st = (await r.json()) as { raftAppliedIndex?: string; raftIndex?: string };
          return Number(st.raftAppliedIndex ?? 0) > 0 && st.raftAppliedIndex === st.raftIndex ? true : undefined;
        },
        20_000,
        "learner caught up",
      );
      await row.getByTestId("promote").click();
      await seeContains(page.getByTestId("members-notice"), "promoted in cluster");
      const promoted = (await cluster().memberList(cluster().members.slice(0, 2))).find((m) => m.peerURLs === peerUrl2)!;
      expect(promoted.isLearner).toBe(false);
      expect(promoted.name).toBe("ui4");
      // etcd's strict reconfiguration check (on by default) refuses to remove a running voter
      // ("unhealthy cluster") until every voter has been connected to the member that is asked
      // for 5 s (HealthInterval): wait until the page's member reports its stream to ui4 up
      // (etcd_network_active_peers), then 5 s more. The learner's first status in the page is
      // no such sign: the member's peer stream may dial it later.
      const upSince = await pollUntil(
        async () => {
          const text = await (await fetch(`${base}/metrics`)).text();
          return new RegExp(`^etcd_network_active_peers\\{[^}]*Remote="${promoted.id.toString(16)}"\\} 1$`, "m").test(text) ? Date.now() : undefined;
        },
        20_000,
        "the page's member connected to ui4",
      );
      await new Promise((r) => setTimeout(r, Math.max(0, upSince + 5500 - Date.now())));
      await row.getByTestId("remove").click();
      await page.getByTestId("confirm-yes").click();
      await seeContains(page.getByTestId("members-notice"), "removed from cluster");
      const after = await cluster().memberList(cluster().members.slice(0, 2));
      expect(after.map((m) => m.name).sort()).toEqual(cluster().members.slice(0, 2).map((m) => m.name).sort());
      await proc.exited;
      // A voter (not a learner) added and removed again without starting it.
      const [peer3] = await freePorts(1);
      await page.getByTestId("add-name").fill("ui5");
      await page.getByTestId("add-peer-urls").fill(`http://127.0.0.1:${peer3}`);
      await page.getByTestId("add-learner").uncheck();
      await page.getByTestId("add-member").click();
      await seeText(page.getByTestId("members-notice"), /^Member [0-9a-f]+ added to cluster [0-9a-f]+$/);
      const voter = (await cluster().memberList(cluster().members.slice(0, 2))).find((m) => m.peerURLs === `http://127.0.0.1:${peer3}`)!;
      expect(voter.isLearner).toBe(false);
      expect(voter.started).toBe(false);
      await page.getByTestId(`mrow-${voter.id.toString(16)}`).getByTestId("remove").click();
      await page.getByTestId("confirm-yes").click();
      await seeContains(page.getByTestId("members-notice"), "removed from cluster");
      expect((await cluster().memberList(cluster().members.slice(0, 2))).length).toBe(2);
    } finally {
      await proc.kill();
      removeDir(dir);
    }
    expect(hexId(learner.id)).toBe(learner.id.toString(16));
  });

  test("metrics: live charts from the member's own /metrics", async () => {
    await goto("metrics");
    await seeContains(page.getByTestId("metrics-summary"), "revision");
    const rev = (s: string) => Number(/revision (\d+)/.exec(s)![1]);
    const first = rev((await page.getByTestId("metrics-summary").textContent())!);
    for (let i = 0; i < 20; i++) await ctl().ok("put", "/metrics/k", String(i));
    await pollUntil(async () => (rev((await page.getByTestId("metrics-summary").textContent())!) >= first + 20 ? true : undefined), 10_000, "revision in the metrics view");
    await pollUntil(async () => (Number(await page.getByTestId("chart-rate").getByTestId("chart-now").textContent()) > 0 ? true : undefined), 10_000, "request rate above 0");
    await seeCount(page.getByTestId("chart-db").locator("polyline"), 2);
    await screenshot(page, "metrics");
  });

  test("no page error and no CSP violation in any view", () => {
    expect(pageErrors).toEqual([]);
  });
});
