// Alarms in the dashboard: a member over its --quota-backend-bytes raises NOSPACE; the page
// shows the alarm, a failed write with etcd's message and what to do, and the recovery
// (compact, defragment, disarm) done in the page, checked with etcdctl.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { screenshot, seeContains, seeText, TestBrowser } from "../helpers/browser.ts";
import { errorLine, useMember } from "../helpers/index.ts";

const env = useMember({ name: "quota", extraArgs: ["--quota-backend-bytes", "200000"] });
let browser: TestBrowser;
let page: Page;

beforeAll(async () => {
  browser = await TestBrowser.open();
  page = (await browser.page()).page;
}, 30_000);
afterAll(async () => {
  await browser?.close();
});

test("NOSPACE: shown with advice, then compacted, defragmented and disarmed in the page", async () => {
  const { ctl, member } = env();
  const value = "a".repeat(10_000);
  let failed: string | undefined;
  for (let i = 0; i < 100 && failed === undefined; i++) {
    const r = await ctl.runWith({ stdin: value }, "put", `q/${i}`);
    if (r.code !== 0) failed = errorLine(r);
  }
  expect(failed).toBe("Error: etcdserver: mvcc: database space exceeded");
  await page.goto(`${member.clientURL}/ui#/cluster`);
  await seeText(page.getByTestId("alarms"), "NOSPACE on quota");
  // A write from the page fails with etcd's text and the way out.
  await page.goto(`${member.clientURL}/ui#/keys`);
  await page.getByTestId("new-key").click();
  await page.getByTestId("new-key-name").fill("more");
  await page.getByTestId("value").fill("x");
  await page.getByTestId("save").click();
  await seeContains(page.getByTestId("error"), "etcdserver: mvcc: database space exceeded");
  await seeContains(page.getByTestId("error"), "Compact, defragment every member, then disarm the alarm");
  // Recover in the page: delete, compact, defragment, disarm.
  await page.getByTestId("search-prefix").fill("q/");
  await page.getByTestId("search").click();
  await page.getByTestId("delete-prefix").click();
  await page.getByTestId("confirm-yes").click();
  await page.getByTestId("prefix-deleted").waitFor();
  await page.goto(`${member.clientURL}/ui#/members`);
  await page.getByTestId("alarm-list").waitFor();
  await screenshot(page, "members-alarm");
  await seeText(page.getByTestId("mrow-quota").getByTestId("mstatus"), "leader");
  await page.getByTestId("compact").click();
  await seeContains(page.getByTestId("members-notice"), "compacted revision");
  await page.getByTestId("mrow-quota").getByTestId("defrag").click();
  await seeContains(page.getByTestId("members-notice"), "Finished defragmenting etcd member");
  await page.getByTestId("alarm-disarm").click();
  await seeText(page.getByTestId("members-notice"), "Alarm NOSPACE disarmed");
  await page.getByTestId("no-alarms").waitFor();
  expect(await ctl.ok("alarm", "list")).toBe("");
  expect(await ctl.ok("put", "after", "ok")).toBe("OK\n");
});
