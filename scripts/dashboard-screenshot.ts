// Refreshes docs/dashboard.png, the README's picture of the dashboard: a 3-member cluster of
// dist/conclave with a few keys, the Keys view with a JSON value open, in Debian's chromium.
//
//   npm run build && node_modules/.bin/bun scripts/dashboard-screenshot.ts
import { resolve } from "node:path";
import { TestBrowser } from "../test/helpers/browser.ts";
import { Cluster, REPO_ROOT } from "../test/helpers/index.ts";

const out = resolve(REPO_ROOT, "docs", "dashboard.png");
const cluster = await Cluster.start({ size: 3, namePrefix: "member-" });
const browser = await TestBrowser.open();
try {
  const ctl = cluster.ctl();
  await ctl.ok("put", "/config/app.json", JSON.stringify({ replicas: 3, image: "registry.local/app:1.4.2", env: { LOG_LEVEL: "info" } }));
  await ctl.ok("put", "/config/feature-flags", "new-ui=on");
  await ctl.ok("put", "/services/api/10.0.0.7", "ready");
  await ctl.ok("put", "/services/api/10.0.0.8", "ready");
  await ctl.ok("put", "greeting", "hello");
  const { page } = await browser.page();
  await page.setViewportSize({ width: 1100, height: 560 });
  await page.goto(`${cluster.members[0]!.clientURL}/ui#/keys`);
  await page.getByTestId("tree-root").getByTestId("tree-dir").filter({ hasText: /^▸ \/$/ }).click();
  await page.getByTestId("tree-/").getByTestId("tree-dir").filter({ hasText: "config/" }).click();
  await page.getByTestId("tree-/config/").getByTestId("tree-key").filter({ hasText: "app.json" }).click();
  await page.getByTestId("key-meta").waitFor();
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await cluster.cleanup();
}
