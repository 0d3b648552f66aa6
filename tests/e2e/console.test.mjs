// Page tests: the release build in dist/, served on 127.0.0.1, driven in Debian's headless
// Chromium by playwright-core. Run with `make test-page` after `make build` (make test does both).
// Screenshots go to target/screenshots/.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { SHOTS, startBrowser, until } from "./harness.mjs";

// The seeded shop's documented size (src/sim/shop.rs, ShopSize::default).
const ORDERS_IN_SHOP = 240;

let session;
let server;
let browser;
let page;

before(async () => {
  session = await startBrowser();
  ({ server, browser } = session);
});

after(async () => {
  await session?.close();
});

beforeEach(async () => {
  // A new context per test: fresh localStorage, so tests do not see each other's history.
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.on("pageerror", (error) => console.log(`page error: ${error.message}`));
  await page.goto(`${server.url}?view=console`);
  await page.locator("#sql-input").waitFor();
});

/** Replaces the editor's text with `sql` and runs it with Ctrl+Enter. */
async function run(sql) {
  const editor = page.locator("#sql-input");
  await editor.fill(sql);
  await editor.press("Control+Enter");
}

/** The newest run on screen. */
const latest = () => page.locator(".run.latest");

test("the page loads with the shop schema in the sidebar", async () => {
  await page.locator('.schema [data-table="orders"]').waitFor();
  const tables = await page.locator(".schema .table-name").allTextContents();
  assert.deepEqual(tables, ["customers", "invoices", "jobs", "orders", "shipments"]);
  assert.match(await page.locator('[data-table="orders"] .row-count').textContent(), /^240 rows$/);
  assert.equal(await page.title(), "Dataflow Lab — live database simulator");
});

test("SELECT COUNT(*) FROM orders shows the seeded count with its timing", async () => {
  await run("SELECT COUNT(*) FROM orders");
  const cell = latest().locator(".result-table tbody td").first();
  await cell.waitFor();
  assert.equal(Number(await cell.textContent()), ORDERS_IN_SHOP);
  assert.match(await latest().locator(".summary").textContent(), /1 row/);
  assert.match(await latest().locator(".statement .elapsed").textContent(), /\d+(\.\d+)? (ms|s)$/);
  await page.screenshot({ path: `${SHOTS}console.png`, fullPage: true });
});

test("a bad statement shows GlueSQL's error and the console keeps working", async () => {
  await run("SELECT nme FROM customers");
  const error = latest().locator(".sql-error pre");
  await error.waitFor();
  assert.match(await error.textContent(), /identifier not found: nme/);
  assert.match(await latest().locator(".error-badge").textContent(), /1 failed/);

  await run("SELECT name FROM customers WHERE id = 1");
  await latest().locator(".result-table td").first().waitFor();
  assert.equal(await latest().locator(".sql-error").count(), 0);
  assert.ok((await latest().locator(".result-table td").first().textContent()).length > 0);
});

test("each statement of a script gets its own result, failures included", async () => {
  await run("SELECT 1;\nSELECT * FROM no_such_table;\nUPDATE jobs SET status = 'done' WHERE status = 'pending'");
  const statements = latest().locator(".statement");
  await statements.nth(2).waitFor();
  assert.equal(await statements.count(), 3);
  assert.match(await statements.nth(0).getAttribute("class"), /\bok\b/);
  assert.match(await statements.nth(1).getAttribute("class"), /\bfailed\b/);
  assert.match(await statements.nth(1).locator(".sql-error pre").textContent(), /no_such_table/);
  assert.match(await statements.nth(2).locator(".summary").textContent(), /rows? updated/);
  assert.match(await statements.nth(2).locator(".line").textContent(), /line 3/);
  await page.screenshot({ path: `${SHOTS}script.png`, fullPage: true });
});

test("CREATE TABLE appears in the schema sidebar, and ALTER renames its column", async () => {
  await run("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, note TEXT NOT NULL)");
  const table = page.locator('.schema [data-table="audit_log"]');
  await table.waitFor();
  assert.match(await table.locator(".row-count").textContent(), /^0 rows$/);
  assert.deepEqual(await table.locator(".column-name").allTextContents(), ["id", "note"]);

  await run("INSERT INTO audit_log VALUES (1, 'hello'); ALTER TABLE audit_log RENAME COLUMN note TO message");
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-table="audit_log"] .column-name')].some((c) => c.textContent === "message"),
  );
  assert.match(await table.locator(".row-count").textContent(), /^1 row$/);
});

test("↑ and ↓ walk through the history, and the editor text survives a reload", async () => {
  await run("SELECT 1");
  await latest().waitFor();
  await run("SELECT 2");
  await page.locator('.run.latest[data-run="2"]').waitFor();
  const editor = page.locator("#sql-input");
  await editor.fill("SELECT 'draft'");
  await editor.press("ArrowUp");
  assert.equal(await editor.inputValue(), "SELECT 2");
  await editor.press("ArrowUp");
  assert.equal(await editor.inputValue(), "SELECT 1");
  await editor.press("ArrowDown");
  await editor.press("ArrowDown");
  assert.equal(await editor.inputValue(), "SELECT 'draft'");

  await page.reload();
  await editor.waitFor();
  assert.equal(await editor.inputValue(), "SELECT 'draft'");
  await editor.press("ArrowUp");
  assert.equal(await editor.inputValue(), "SELECT 2", "the history survives a reload");
});

test("a transaction holds its changes until ROLLBACK, and the header says so", async () => {
  await run("BEGIN;\nUPDATE orders SET status = 'refunded' WHERE id = 1;\nSELECT status FROM orders WHERE id = 1");
  const statements = latest().locator(".statement");
  await statements.nth(2).waitFor();
  assert.match(await statements.nth(1).locator(".counters").textContent(), /read 1 · wrote 1/);
  assert.equal(await statements.nth(2).locator(".result-table td").first().textContent(), "refunded");
  await page.locator(".txn-badge.open").waitFor();

  await run("ROLLBACK; SELECT status FROM orders WHERE id = 1");
  await latest().locator(".result-table td").first().waitFor();
  assert.notEqual(await latest().locator(".result-table td").first().textContent(), "refunded");
  assert.equal(await page.locator(".txn-badge").count(), 0);

  await run("BEGIN; SELECT nope FROM orders; SELECT 1");
  await latest().locator(".statement").nth(2).waitFor();
  assert.match(
    await latest().locator(".statement").nth(2).locator(".sql-error pre").textContent(),
    /current transaction is aborted/,
  );
  await page.locator(".txn-badge.aborted").waitFor();
  await page.screenshot({ path: `${SHOTS}transaction.png`, fullPage: true });
  await run("ROLLBACK");
  await page.waitForFunction(() => document.querySelectorAll(".txn-badge").length === 0);
});

test("an example query runs with one click", async () => {
  await page.getByRole("button", { name: "Orders by status" }).click();
  await latest().locator(".result-table tbody tr").first().waitFor();
  const statuses = await latest().locator(".result-table tbody tr td:first-child").allTextContents();
  assert.ok(statuses.includes("delivered"), `statuses: ${statuses}`);
});

test("a statement known to crash GlueSQL is refused with an error, and the console goes on", async () => {
  // REPEAT with a negative count overflows a capacity inside GlueSQL 0.20: refused before it runs.
  await run("SELECT REPEAT('a', -1)");
  const error = latest().locator(".sql-error").first();
  await error.waitFor();
  assert.match(await latest().textContent(), /REPEAT with a negative count \(-1\) is refused/);
  assert.equal(await page.locator("#fatal").isVisible(), false);
  await run("SELECT COUNT(*) FROM orders");
  await latest().locator(".result-table td").first().waitFor();
});

test("a statement that panics GlueSQL stops only the console's worker: a fresh database, the script kept, no reload", async () => {
  // The count is negative only when the row is read: nothing can refuse it beforehand.
  const sql = "SELECT REPEAT('a', id - 1000) FROM orders WHERE id = 1";
  await run("DELETE FROM orders WHERE id = 2");
  await latest().locator(".summary", { hasText: "deleted" }).waitFor();
  const workers = [];
  page.on("worker", (worker) => workers.push(worker));
  const loads = [];
  page.on("load", () => loads.push(Date.now()));
  await run(sql);
  const notice = page.locator(".notice");
  await notice.waitFor();
  assert.match(await notice.textContent(), /The SQL engine stopped \(.*capacity overflow.*\), so the database was loaded fresh\. The script is still in the editor\./);
  assert.doesNotMatch(await notice.textContent(), /RefCell|\.rs:/, "the engine's own message, no build path");
  assert.equal(await notice.locator("pre").textContent(), sql);
  assert.equal(await page.locator("#fatal").isVisible(), false, "the page itself goes on");
  assert.equal(loads.length, 0, "no reload");
  assert.equal(await page.locator("#sql-input").inputValue(), sql);
  await page.screenshot({ path: `${SHOTS}panic.png` });

  // A new worker, on a fresh shop: the deleted order is back.
  await until(page, async () => workers.length === 1, "a new worker for the console");
  await run("SELECT COUNT(*) FROM orders WHERE id = 2");
  await latest().locator(".result-table td").first().waitFor();
  assert.equal(await latest().locator(".result-table td").first().textContent(), "1");
});

test("at 360 px wide nothing overflows sideways, and dark mode has its own colours", async () => {
  await page.setViewportSize({ width: 360, height: 780 });
  await run("SELECT id, name, email, country, created_at FROM customers ORDER BY id LIMIT 8");
  await latest().locator(".result-table td").first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: `${SHOTS}console-360.png`, fullPage: true });

  const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: "dark" });
  await page.setViewportSize({ width: 1280, height: 860 });
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(light, dark);
  await page.screenshot({ path: `${SHOTS}console-dark.png`, fullPage: true });
});

test("a view reads its table under new names, shows in the sidebar, and refuses writes", async () => {
  await run("CREATE VIEW paid_orders (order_id, cents) AS SELECT id, total_cents FROM orders WHERE status = 'paid'");
  const view = page.locator('.schema [data-table="paid_orders"]');
  await view.waitFor();
  assert.match(await view.textContent(), /view/);
  assert.match(await view.textContent(), /order_id/);
  assert.match(await page.locator(".schema-totals").textContent(), /1 view/);
  await run("SELECT order_id, cents FROM paid_orders ORDER BY order_id LIMIT 3");
  await latest().locator("table").waitFor();
  assert.equal(await latest().locator("tbody tr").count(), 3);
  await run("UPDATE paid_orders SET cents = 1");
  await latest().locator(".sql-error, .error").first().waitFor();
  assert.match(await latest().textContent(), /cannot update view "paid_orders"/);
});

test("an index shows in the sidebar, turns a scan into a lookup, and makes inserts add entries", async () => {
  /** Runs `sql` and returns its counters line once its own run is on screen. */
  const counted = async (sql) => {
    await run(sql);
    const handle = await page.waitForFunction((sql) => {
      const run = document.querySelector(".run.latest");
      const counters = run?.querySelector(".counters")?.textContent;
      return run?.querySelector(".statement-sql")?.textContent.trim() === sql && counters;
    }, sql);
    return handle.jsonValue();
  };
  const rowsRead = (counters) => Number(counters.match(/read ([\d,]+)/)[1].replace(/,/g, ""));
  const query = "SELECT id FROM orders WHERE customer_id = 3";
  const scanned = rowsRead(await counted(query));
  assert.ok(scanned >= ORDERS_IN_SHOP, `without an index the query reads every order (${scanned})`);
  await counted("CREATE INDEX orders_customer ON orders (customer_id)");
  const index = page.locator('.schema [data-table="orders"] .index');
  await index.waitFor();
  assert.match(await index.textContent(), /orders_customer \(customer_id\)/);
  const looked = rowsRead(await counted(query));
  assert.ok(looked < scanned / 5, `with the index it reads ${looked} rows, not ${scanned}`);
  const insert = await counted("INSERT INTO orders VALUES (99001, 3, 'pending', 100, '2026-01-01 00:00:00')");
  assert.match(insert, /1 index entry/);
  await run("DROP INDEX orders_customer");
  await page.waitForFunction(() => !document.querySelector('.schema [data-table="orders"] .index'));
});
