// Browser benchmark: how fast the release build in dist/ becomes usable, in Debian's headless
// Chromium. Prints figures for the README; asserts nothing. Run: `make bench-page` (after make build).
import { chromium } from "playwright-core";
import { serveDist } from "../tests/e2e/serve.mjs";

const RUNS = Number(process.env.RUNS ?? 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const server = await serveDist();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const ready = [];
const firstQuery = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('.schema [data-table="orders"]').waitFor();
    ready.push(await page.evaluate(() => performance.now()));
    await page.getByRole("button", { name: "Orders by status" }).click();
    await page.locator(".run.latest .result-table").waitFor();
    const text = await page.locator(".run.latest .statement .elapsed").first().textContent();
    firstQuery.push(Number.parseFloat(text));
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`page ready (navigation start → schema shown), median of ${RUNS}: ${median(ready).toFixed(0)} ms`);
console.log(`first GROUP BY query over orders (240 rows), median of ${RUNS}: ${median(firstQuery).toFixed(2)} ms`);
