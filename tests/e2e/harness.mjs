// What the page tests share: the release build in dist/ served on 127.0.0.1, Debian's headless
// Chromium driven by playwright-core, where screenshots go, and the simulator's clock read and
// waited for.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { serveDist } from "./serve.mjs";

/** Where the page tests save their screenshots. */
export const SHOTS = new URL("../../target/screenshots/", import.meta.url).pathname;

/** Serves dist/ and launches headless Chromium; resolves to { server, browser, close }. */
export async function startBrowser() {
  mkdirSync(SHOTS, { recursive: true });
  const server = await serveDist();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    server,
    browser,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/** The simulator's clock in seconds ("2.550 s" or "1:02.550"), in a page or an embed's frame. */
export async function clockSeconds(page) {
  const text = (await page.locator("#clock").textContent()).trim();
  const match = text.match(/^(\d+\.\d{3}) s$/) ?? text.match(/^(\d+):(\d{2}\.\d{3})$/);
  assert.ok(match, `unreadable clock: ${text}`);
  return match.length === 2 ? Number(match[1]) : Number(match[1]) * 60 + Number(match[2]);
}

/** Polls `probe` until it returns a truthy value, which it resolves to. */
export async function until(page, probe, what, timeout = 20_000) {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() - started < timeout, `timed out waiting for ${what}`);
    await page.waitForTimeout(50);
  }
}

/** Waits until the simulator's clock reads at least `seconds`. */
export async function waitForClock(page, seconds, timeout = 40_000) {
  await until(page, async () => (await clockSeconds(page)) >= seconds, `the clock to reach ${seconds} s`, timeout);
}

/**
 * A fresh page for each test in `session`'s browser (1440 × 1000), closed after the test (a
 * simulation left playing would slow the next tests). Call at the top of a test file, after
 * `session` is made in `before`; read `current.page` and `current.context` in the tests.
 * `hooks` are node:test's `beforeEach` and `afterEach`.
 */
export function pagePerTest(getSession, hooks) {
  const current = { context: null, page: null };
  hooks.beforeEach(async () => {
    current.context = await getSession().browser.newContext({ viewport: { width: 1440, height: 1000 } });
    current.page = await current.context.newPage();
    current.page.on("pageerror", (error) => console.log(`page error: ${error.message}`));
  });
  hooks.afterEach(async () => {
    await current.context?.close();
  });
  return current;
}

/** Runs axe-core on the page; returns the serious and critical violations. */
export async function axeViolations(page) {
  await page.addScriptTag({ path: new URL("../../node_modules/axe-core/axe.min.js", import.meta.url).pathname });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")}`);
}
