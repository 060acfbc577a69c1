// Debian's chromium (apt package `chromium`) driven by playwright-core: never a browser
// download. Each browser gets a fresh profile directory, removed at close; screenshots go to
// dist/screenshots/ (test artefacts, not committed).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { REPO_ROOT } from "./target.ts";
import { makeTempDir, removeDir } from "./temp-dir.ts";

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

/** The flags every test browser runs with: headless, no network of its own, no GPU. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const SCREENSHOT_DIR = resolve(REPO_ROOT, "dist", "screenshots");

export class TestBrowser {
  private constructor(
    readonly context: BrowserContext,
    readonly profileDir: string,
  ) {}

  /** A browser with a fresh profile (--user-data-dir) of its own. */
  static async open(): Promise<TestBrowser> {
    if (!existsSync(CHROMIUM_BIN)) throw new Error(`${CHROMIUM_BIN} not found: apt-get install chromium (see README's test command)`);
    const dir = makeTempDir("chromium-profile");
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1360, height: 900 },
      acceptDownloads: true,
      timeout: 30_000,
    });
    context.setDefaultTimeout(15_000);
    return new TestBrowser(context, dir);
  }

  /** A new tab that records every URL it requests and fails the test on a page error. */
  async page(): Promise<{ page: Page; urls: string[]; errors: string[] }> {
    const page = await this.context.newPage();
    const urls: string[] = [];
    const errors: string[] = [];
    page.on("request", (r) => urls.push(r.url()));
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      // A CSP violation is reported on the console: the dashboard must cause none.
      if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) errors.push(m.text());
    });
    return { page, urls, errors };
  }

  /** Every file of the profile whose bytes contain `needle` (history, caches, storage). */
  profileFilesContaining(needle: string): string[] {
    const hits: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        const st = statSync(p, { throwIfNoEntry: false });
        if (st === undefined) continue;
        if (st.isDirectory()) walk(p);
        else if (st.isFile() && st.size < 64 * 1024 * 1024 && readFileSync(p).includes(needle)) hits.push(p);
      }
    };
    walk(this.profileDir);
    return hits;
  }

  /** Ends the browser, which writes its history and storage to the profile; the files stay. */
  async quit(): Promise<void> {
    await this.context.close().catch(() => {});
  }

  async close(): Promise<void> {
    await this.quit();
    removeDir(this.profileDir);
  }
}

/** Saves a screenshot of `page` as dist/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

// ---- waiting for what the page shows --------------------------------------------------------
// The page updates asynchronously (polls, streams): each helper waits until the condition
// holds, up to `ms`, and fails with what the page showed last.

/** Waits until `check` stops throwing; rethrows its last error after `ms`. */
export async function settle(check: () => Promise<void> | void, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function current(l: Locator, what: "text" | "value" | "class"): Promise<string> {
  if (what === "value") return l.inputValue({ timeout: 1000 });
  if (what === "class") return (await l.getAttribute("class", { timeout: 1000 })) ?? "";
  return (await l.textContent({ timeout: 1000 })) ?? "";
}

async function see(l: Locator, what: "text" | "value" | "class", ok: (s: string) => boolean, expected: string, ms: number): Promise<void> {
  let last = "(element not found)";
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      last = await current(l, what);
      if (ok(last)) return;
    } catch {
      // not there yet
    }
    if (Date.now() >= deadline) throw new Error(`${l.toString()}: expected ${what} ${expected}, got ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const show = (m: string | RegExp) => (typeof m === "string" ? JSON.stringify(m) : String(m));

/** The element's text is `expected` (or matches the RegExp). */
export const seeText = (l: Locator, expected: string | RegExp, ms = 10_000) =>
  see(l, "text", (s) => (typeof expected === "string" ? s === expected : expected.test(s)), show(expected), ms);
/** The element's text contains `part`. */
export const seeContains = (l: Locator, part: string, ms = 10_000) => see(l, "text", (s) => s.includes(part), `containing ${show(part)}`, ms);
/** An input's or textarea's value is `expected`. */
export const seeValue = (l: Locator, expected: string, ms = 10_000) => see(l, "value", (s) => s === expected, show(expected), ms);
/** The element's class attribute matches. */
export const seeClass = (l: Locator, re: RegExp, ms = 10_000) => see(l, "class", (s) => re.test(s), String(re), ms);

/** Exactly `n` elements match. */
export async function seeCount(l: Locator, n: number, ms = 10_000): Promise<void> {
  let last = -1;
  await settle(async () => {
    last = await l.count();
    if (last !== n) throw new Error(`${l.toString()}: expected ${n} elements, found ${last}`);
  }, ms);
}

export async function seeDisabled(l: Locator, ms = 10_000): Promise<void> {
  await settle(async () => {
    if (!(await l.isDisabled({ timeout: 1000 }))) throw new Error(`${l.toString()}: expected disabled`);
  }, ms);
}
