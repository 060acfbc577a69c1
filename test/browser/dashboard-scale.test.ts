// The keys view on a keyspace of a million keys, in Debian's chromium: it opens, pages, walks
// the tree and searches a prefix while the member's resident memory grows by less than 20 MB
// (every read is one page: nothing loads the whole keyspace or nears the message size limit).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { screenshot, seeCount, seeText, TestBrowser } from "../helpers/browser.ts";
import { delay, useMember } from "../helpers/index.ts";

const KEYS = 1_000_000;
/** Puts per txn: one request of ~10k small puts (--max-txn-ops raised for the loader). */
const BATCH = 10_000;

const member = useMember({ extraArgs: ["--max-txn-ops", String(BATCH)] });
let browser: TestBrowser;
let page: Page;

const key = (i: number) => `/big/${String(i).padStart(7, "0")}`;

/** VmRSS of the member process, in bytes. */
function rss(): number {
  const pid = member().member.process.pid!;
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]!;
  return Number(kb) * 1024;
}

beforeAll(async () => {
  const started = Date.now();
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const value = b64("v");
  // Two txns in flight at a time: the member batches their proposals.
  let next = 0;
  const worker = async () => {
    for (;;) {
      const first = next;
      next += BATCH;
      if (first >= KEYS) return;
      const success = [];
      for (let i = first; i < first + BATCH; i++) success.push({ request_put: { key: b64(key(i)), value } });
      const r = await member().gw.post("/v3/kv/txn", { success }, 60_000);
      if (r.status !== 200) throw new Error(`load txn at ${first}: ${r.status} ${r.text}`);
    }
  };
  await Promise.all([worker(), worker()]);
  console.log(`loaded ${KEYS} keys in ${Date.now() - started} ms`);
  browser = await TestBrowser.open();
  page = (await browser.page()).page;
}, 240_000);
afterAll(async () => {
  await browser?.close();
});

describe("a million keys", () => {
  test("the keys view opens, pages, walks the tree and searches with RSS growing < 20 MB", async () => {
    const count = await member().gw.post("/v3/kv/range", { key: "AA==", range_end: "AA==", count_only: true });
    expect(Number(count.json.count)).toBe(KEYS);
    // Let the loader's garbage settle before the baseline.
    await delay(3000);
    const before = rss();
    const timings: Record<string, number> = {};
    const timed = async (name: string, fn: () => Promise<void>) => {
      const t = Date.now();
      await fn();
      timings[name] = Date.now() - t;
    };
    await timed("open keys view (tree)", async () => {
      await page.goto(`${member().member.clientURL}/ui#/keys`);
      await page.getByTestId("tree-root").getByTestId("tree-dir").filter({ hasText: "/" }).waitFor();
    });
    await timed("expand / and /big/", async () => {
      await page.getByTestId("tree-root").getByTestId("tree-dir").filter({ hasText: "/" }).click();
      await page.getByTestId("tree-/").getByTestId("tree-dir").filter({ hasText: "big/" }).click();
      await seeCount(page.getByTestId("tree-/big/").getByTestId("tree-key"), 50, 30_000);
    });
    await timed("tree: more children", async () => {
      await page.getByTestId("tree-/big/").getByTestId("tree-more").click();
      await seeCount(page.getByTestId("tree-/big/").getByTestId("tree-key"), 100, 30_000);
    });
    await timed("flat view, all keys", async () => {
      await page.getByTestId("search").click();
      await seeText(page.getByTestId("page-info"), `keys 1–50 of ${KEYS}`, 30_000);
    });
    for (let p = 2; p <= 6; p++) {
      await timed(`flat page ${p}`, async () => {
        await page.getByTestId("next-page").click();
        await seeText(page.getByTestId("page-info"), `keys ${(p - 1) * 50 + 1}–${p * 50} of ${KEYS}`, 30_000);
      });
    }
    await timed("search a prefix", async () => {
      await page.getByTestId("search-prefix").fill("/big/0999");
      await page.getByTestId("search").click();
      await seeText(page.getByTestId("page-info"), "keys 1–50 of 1000 with prefix /big/0999", 30_000);
    });
    await timed("next page of the prefix", async () => {
      await page.getByTestId("next-page").click();
      await seeText(page.getByTestId("page-info"), "keys 51–100 of 1000 with prefix /big/0999", 30_000);
    });
    await timed("open a key", async () => {
      await page.getByTestId("key-item").first().click();
      await page.getByTestId("key-meta").waitFor();
    });
    await screenshot(page, "keys-million");
    const after = rss();
    console.log(`RSS before ${(before / 1048576).toFixed(1)} MiB, after ${(after / 1048576).toFixed(1)} MiB; timings (ms): ${JSON.stringify(timings)}`);
    expect(after - before).toBeLessThan(20 * 1024 * 1024);
  }, 180_000);
});
