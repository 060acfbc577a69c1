// The dashboard with auth enabled, in Debian's chromium against a real 3-member cluster: the
// login page, root's Auth view (checked with etcdctl), a user whose role covers one prefix
// browsing and editing exactly that prefix, a page of another origin that cannot change
// anything, and no token in any URL, the browser's profile (history) or a member's log.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { screenshot, seeContains, seeCount, seeText, seeValue, TestBrowser } from "../helpers/browser.ts";
import { Ctl, freePort, parseMemberList, useCluster } from "../helpers/index.ts";

const cluster = useCluster({ size: 3, namePrefix: "auth" });
let browser: TestBrowser;
let base: string;
const tokens = new Set<string>();
const urls: string[] = [];
const errors: string[] = [];

const root = () => new Ctl(cluster().endpoints());
const as = (user: string) => ({ run: (...args: string[]) => root().run(`--user=${user}`, ...args), ok: (...args: string[]) => root().ok(`--user=${user}`, ...args) });
const asRoot = () => as("root:rootpw");

beforeAll(async () => {
  await root().ok("user", "add", "root", "--new-user-password=rootpw", "--interactive=false");
  await root().ok("auth", "enable");
  await asRoot().ok("put", "/app/one", "1");
  await asRoot().ok("put", "/other/secret", "s");
  await asRoot().ok("put", "/logs/b", "log line");
  await asRoot().ok("put", "/logs/z", "out of range");
  browser = await TestBrowser.open();
  base = cluster().members[0]!.clientURL;
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/** A new tab whose Authenticate answers (the tokens) and request URLs are recorded. */
async function tab(): Promise<Page> {
  const p = await browser.page();
  p.page.on("request", (r) => urls.push(r.url()));
  p.page.on("response", async (r) => {
    if (!r.url().endsWith("/v3/auth/authenticate") || r.status() !== 200) return;
    const t = ((await r.json()) as { token?: string }).token;
    if (t !== undefined) tokens.add(t);
  });
  p.page.on("pageerror", (e) => errors.push(e.message));
  return p.page;
}

async function login(page: Page, user: string, password: string): Promise<void> {
  await page.goto(`${base}/ui`);
  await page.getByTestId("login-user").fill(user);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
  await page.getByTestId("who").filter({ hasText: user }).waitFor();
}

async function navIds(page: Page): Promise<string[]> {
  return page.locator("nav a").evaluateAll((as) => as.map((a) => a.getAttribute("data-testid") ?? ""));
}

describe("dashboard with auth enabled", () => {
  test("the login page; a wrong password shows etcd's message and what to do", async () => {
    const page = await tab();
    await page.goto(`${base}/ui`);
    await page.getByTestId("login-form").waitFor();
    expect(await page.locator("nav").count()).toBe(0);
    await screenshot(page, "login");
    await page.getByTestId("login-user").fill("root");
    await page.getByTestId("login-password").fill("wrong");
    await page.getByTestId("login-submit").click();
    await seeContains(page.getByTestId("error"), "etcdserver: authentication failed, invalid user ID or password");
    await seeContains(page.getByTestId("error"), "Check the user name and password.");
    await page.close();
  });

  test("root sees everything and manages users and roles (etcdctl sees the result)", async () => {
    const page = await tab();
    await login(page, "root", "rootpw");
    expect(await navIds(page)).toEqual(["nav-cluster", "nav-keys", "nav-watch", "nav-leases", "nav-auth", "nav-members", "nav-metrics"]);
    for (const m of cluster().members) await seeText(page.getByTestId(`member-${m.name}`).getByTestId("raft-index"), /^\d+$/);
    await page.goto(`${base}/ui#/auth`);
    await seeText(page.getByTestId("auth-state"), "Authentication is enabled.");
    await page.getByTestId("user-name").fill("alice");
    await page.getByTestId("user-password").fill("alicepw");
    await page.getByTestId("user-add").click();
    await seeText(page.getByTestId("auth-notice"), "User alice created");
    await page.getByTestId("role-name").fill("app");
    await page.getByTestId("role-add").click();
    await seeText(page.getByTestId("auth-notice"), "Role app created");
    const role = page.getByTestId("role-app");
    await role.getByTestId("perm-type").selectOption("READWRITE");
    await role.getByTestId("perm-scope").selectOption("prefix");
    await role.getByTestId("perm-key").fill("/app/");
    await role.getByTestId("perm-grant").click();
    await seeText(page.getByTestId("auth-notice"), "Role app updated");
    await seeText(role.getByTestId("perm").first(), /READWRITE \/app\/ \(prefix\)/);
    // A single key and a range, then one revoked again: etcdctl sees each change.
    await role.getByTestId("perm-type").selectOption("READ");
    await role.getByTestId("perm-scope").selectOption("key");
    await role.getByTestId("perm-key").fill("/shared/motd");
    await role.getByTestId("perm-grant").click();
    await seeCount(role.getByTestId("perm"), 2);
    await role.getByTestId("perm-scope").selectOption("range");
    await role.getByTestId("perm-key").fill("/logs/a");
    await role.getByTestId("perm-end").fill("/logs/m");
    await role.getByTestId("perm-grant").click();
    await seeCount(role.getByTestId("perm"), 3);
    expect(await asRoot().ok("role", "get", "app")).toBe(
      "Role app\nKV Read:\n\t[/app/, /app0) (prefix /app/)\n\t[/logs/a, /logs/m)\n\t/shared/motd\nKV Write:\n\t[/app/, /app0) (prefix /app/)\n",
    );
    await role.getByTestId("perm").filter({ hasText: "/shared/motd" }).getByTestId("perm-revoke").click();
    await seeText(page.getByTestId("auth-notice"), "Permission of /shared/motd is revoked from role app");
    await seeCount(role.getByTestId("perm"), 2);
    const alice = page.getByTestId("user-alice");
    await alice.getByTestId("grant-role-select").selectOption("app");
    await alice.getByTestId("grant-role").click();
    await seeText(page.getByTestId("auth-notice"), "Role app is granted to user alice");
    expect(await asRoot().ok("user", "get", "alice")).toBe("User: alice\nRoles: app\n");
    expect(await asRoot().ok("role", "get", "app")).toBe("Role app\nKV Read:\n\t[/app/, /app0) (prefix /app/)\n\t[/logs/a, /logs/m)\nKV Write:\n\t[/app/, /app0) (prefix /app/)\n");
    // A second role granted and revoked again.
    await page.getByTestId("role-name").fill("spare");
    await page.getByTestId("role-add").click();
    await seeText(page.getByTestId("auth-notice"), "Role spare created");
    await alice.getByTestId("grant-role-select").selectOption("spare");
    await alice.getByTestId("grant-role").click();
    await seeText(page.getByTestId("auth-notice"), "Role spare is granted to user alice");
    expect(await asRoot().ok("user", "get", "alice")).toBe("User: alice\nRoles: app spare\n");
    await alice.getByTestId("revoke-spare").click();
    await seeText(page.getByTestId("auth-notice"), "Role spare is revoked from user alice");
    await page.getByTestId("role-spare").getByTestId("role-delete").click();
    await seeText(page.getByTestId("auth-notice"), "Role spare deleted");
    expect(await asRoot().ok("role", "list")).toBe("app\nroot\n");
    // An admin action that fails shows etcd's message and the way out.
    await page.getByTestId("user-root").getByTestId("user-delete").click();
    await seeContains(page.getByTestId("error"), "etcdserver: invalid auth management");
    await seeContains(page.getByTestId("error"), "root cannot be deleted");
    await screenshot(page, "auth");
    await page.close();
  });

  test("a user whose role covers one prefix browses and edits exactly that prefix, never shown admin actions", async () => {
    const page = await tab();
    await login(page, "alice", "alicepw");
    expect(await navIds(page)).toEqual(["nav-cluster", "nav-keys", "nav-watch", "nav-leases", "nav-metrics"]);
    // The member list is shown, not the root-only status columns.
    await page.getByTestId(`member-${cluster().members[0]!.name}`).waitFor();
    expect(await page.getByTestId("raft-index").count()).toBe(0);
    await page.goto(`${base}/ui#/keys`);
    await seeText(page.getByTestId("grants"), "alice's access: /app/ (prefix) read/write, [/logs/a, /logs/m) read");
    // The read-only range is a list of exactly its keys, opened read-only (no Save, no Delete).
    const logs = page.locator(".tree").filter({ hasText: "[/logs/a, /logs/m)" });
    await seeText(logs.getByTestId("page-info"), "keys 1–1 of 1");
    await logs.getByTestId("key-item").filter({ hasText: "/logs/b" }).click();
    await seeValue(page.getByTestId("value"), "log line");
    await page.getByTestId("read-only").waitFor();
    expect(await page.getByTestId("save").count()).toBe(0);
    expect(await page.getByTestId("delete-key").count()).toBe(0);
    const tree = page.getByTestId("tree-/app/");
    await seeCount(tree.getByTestId("tree-key"), 1);
    await tree.getByTestId("tree-key").filter({ hasText: "one" }).click();
    await seeValue(page.getByTestId("value"), "1");
    await page.getByTestId("value").fill("edited by alice");
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("saved"), "Saved at revision");
    expect(await asRoot().ok("get", "/app/one", "--print-value-only")).toBe("edited by alice\n");
    await page.getByTestId("new-key").click();
    await page.getByTestId("new-key-name").fill("/app/two");
    await page.getByTestId("value").fill("2");
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("saved"), "Saved at revision");
    expect(await as("alice:alicepw").ok("get", "/app/two", "--print-value-only")).toBe("2\n");
    await screenshot(page, "keys-prefix-user");
    // Outside the prefix: etcd's permission denied, with what to do; nothing written.
    await page.getByTestId("new-key").click();
    await page.getByTestId("new-key-name").fill("/other/x");
    await page.getByTestId("value").fill("x");
    await page.getByTestId("save").click();
    await seeContains(page.getByTestId("error"), "etcdserver: permission denied");
    await seeContains(page.getByTestId("error"), "Ask an administrator");
    expect(await asRoot().ok("get", "/other/x")).toBe("");
    await page.getByTestId("search-prefix").fill("/other/");
    await page.getByTestId("search").click();
    await seeContains(page.getByTestId("flat-list").getByTestId("error"), "etcdserver: permission denied");
    // No prefix tools where they would fail; they appear inside the prefix.
    await page.getByTestId("prefix-tools-hidden").waitFor();
    expect(await page.getByTestId("delete-prefix").count()).toBe(0);
    await page.getByTestId("search-prefix").fill("/app/");
    await page.getByTestId("search").click();
    await seeText(page.getByTestId("page-info"), "keys 1–2 of 2 with prefix /app/");
    await page.getByTestId("delete-prefix").waitFor();
    // The dashboard's member calls apply etcd's rules to alice's token: Status and Defragment
    // need root (Defragment answers with the auth store's raw text, as etcd 3.4 does).
    const aliceToken = [...tokens].pop()!;
    const info = await fetch(`${base}/ui/api/info`).then((r) => r.json() as Promise<{ memberId: string }>);
    const other = parseMemberList(await asRoot().ok("member", "list")).find((m) => m.id.toString(16) !== info.memberId)!.id.toString(16);
    for (const [id, call, status, error] of [
      [info.memberId, "status", 403, "etcdserver: permission denied"],
      [other, "status", 403, "etcdserver: permission denied"],
      [other, "defragment", 500, "auth: permission denied"],
    ] as const) {
      const r = await fetch(`${base}/ui/api/members/${id}/${call}`, { method: "POST", body: "{}", headers: { authorization: aliceToken } });
      expect([r.status, ((await r.json()) as { error: string }).error]).toEqual([status, error]);
    }
    const snap = await fetch(`${base}/ui/api/snapshot`, { method: "POST", body: "{}", headers: { authorization: aliceToken } });
    expect([snap.status, ((await snap.json()) as { error: string }).error]).toEqual([500, "auth: permission denied"]);
    // A script in the page has no token (it lives in the app's memory): user name is empty.
    const st = await page.evaluate(async (id) => (await fetch(`/ui/api/members/${id}/status`, { method: "POST", body: "{}" })).status, info.memberId);
    expect(st).toBe(400);
    await page.close();
  });

  test("a page of another origin cannot change anything, even while the dashboard is logged in", async () => {
    const dash = await tab();
    await login(dash, "root", "rootpw");
    const port = await freePort();
    const memberId = (await fetch(`${base}/ui/api/info`).then((r) => r.json())) as { memberId: string };
    // The attacker's page, served from another origin, tries the gateway and the dashboard's routes.
    const attack = `<!doctype html><title>attack</title><body><script>
      const base = ${JSON.stringify(base)};
      const tries = [
        fetch(base + "/v3/kv/put", { method: "POST", body: JSON.stringify({ key: btoa("/app/one"), value: btoa("pwned") }) }).then((r) => r.text()),
        fetch(base + "/v3/kv/put", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: btoa("/app/one"), value: btoa("pwned") }) }).then((r) => r.text()),
        fetch(base + "/ui/api/members/${memberId.memberId}/defragment", { method: "POST", body: "{}" }).then((r) => String(r.status)),
        fetch(base + "/ui/api/members/${memberId.memberId}/defragment", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }).then((r) => String(r.status)),
        fetch(base + "/ui/api/snapshot", { method: "POST", body: "{}" }).then((r) => String(r.status)),
      ].map((p) => p.catch((e) => "blocked: " + e.message));
      Promise.all(tries).then((r) => { document.body.dataset.result = JSON.stringify(r); });
    </script></body>`;
    const srv = Bun.serve({ port, hostname: "127.0.0.1", fetch: () => new Response(attack, { headers: { "content-type": "text/html" } }) });
    try {
      const evil = await tab();
      await evil.goto(`http://127.0.0.1:${port}/`);
      await evil.locator("body[data-result]").waitFor({ state: "attached" });
      const result = JSON.parse((await evil.locator("body").getAttribute("data-result"))!) as string[];
      // etcd's gateway answers other origins (--cors defaults to "*"), but without the token,
      // which lives only in the dashboard page's memory, auth refuses the write.
      expect(result[0]).toContain("etcdserver: user name is empty");
      expect(result[1]).toContain("etcdserver: user name is empty");
      // The dashboard's own routes grant no CORS: the page cannot read an answer, a JSON
      // request fails its preflight, and a simple request is refused (403, checked in
      // dashboard-cluster.test.ts) before it runs.
      for (const r of result.slice(2)) expect(r).toBe("blocked: Failed to fetch");
      await evil.close();
    } finally {
      srv.stop(true);
    }
    expect(await asRoot().ok("get", "/app/one", "--print-value-only")).toBe("edited by alice\n");
    await dash.close();
  });

  test("password change in the page; auth disabled in the page; no token in a URL, the profile or a log", async () => {
    const page = await tab();
    await login(page, "root", "rootpw");
    await page.goto(`${base}/ui#/auth`);
    const alice = page.getByTestId("user-alice");
    await alice.getByTestId("new-password").fill("alice2");
    await alice.getByTestId("change-password").click();
    await seeText(page.getByTestId("auth-notice"), "Password updated");
    expect((await as("alice:alicepw").run("get", "/app/one")).stderr).toContain("authentication failed, invalid user ID or password");
    expect(await as("alice:alice2").ok("get", "/app/one", "--print-value-only")).toBe("edited by alice\n");
    await page.getByTestId("auth-disable").click();
    await seeText(page.getByTestId("auth-state"), "Authentication is disabled.");
    expect(await root().ok("get", "/other/secret", "--print-value-only")).toBe("s\n");
    // The page keeps working without a login now.
    await page.goto(`${base}/ui#/keys`);
    await page.getByTestId("who").filter({ hasText: "auth disabled" }).waitFor();
    // Enabled again in the page: etcdctl needs a user again, the page asks for a login.
    await page.goto(`${base}/ui#/auth`);
    await page.getByTestId("auth-enable").click();
    await page.getByTestId("login-form").waitFor();
    expect((await root().run("get", "/other/secret")).stderr).toContain("etcdserver: user name is empty");
    await login(page, "root", "rootpw");
    await page.close();

    expect(tokens.size).toBeGreaterThanOrEqual(4);
    expect(errors).toEqual([]);
    await browser.quit();
    for (const t of tokens) {
      expect(urls.filter((u) => u.includes(t))).toEqual([]);
      expect(browser.profileFilesContaining(t)).toEqual([]);
      for (const m of cluster().members) {
        const log = [...m.process.stdoutLines, ...m.process.stderrLines].join("\n");
        expect(log.includes(t)).toBe(false);
      }
    }
    // The history exists and holds the dashboard's URLs (so the check above looked at it).
    expect(browser.profileFilesContaining("/ui").length).toBeGreaterThan(0);
  });
});
