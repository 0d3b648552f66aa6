// Page tests of the live simulator: the release build in dist/, served on 127.0.0.1, driven in
// Debian's headless Chromium by playwright-core. Screenshots go to target/screenshots/.
import { test, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { SHOTS, startBrowser, pagePerTest, clockSeconds as readClock, until as poll, waitForClock as reach, axeViolations } from "./harness.mjs";

let session;
let server;
let page;

before(async () => {
  session = await startBrowser();
  server = session.server;
});

after(async () => {
  await session?.close();
});

const current = pagePerTest(() => session, { beforeEach, afterEach });
beforeEach(() => {
  page = current.page;
});

/** Opens the simulator with `query` (e.g. "?scenario=alter-queue"). */
async function open(query = "") {
  await page.goto(`${server.url}${query}`);
  await page.locator(".simulator .topology > svg").waitFor();
}

const clockSeconds = () => readClock(page);
const until = (probe, what, timeout) => poll(page, probe, what, timeout);
const waitForClock = (seconds, timeout = 30_000) => reach(page, seconds, timeout);

test("the shop plays and reads a non-zero throughput", async () => {
  await open();
  assert.equal(await page.locator(".scenario-bar select").inputValue(), "shop");
  await page.locator("#play").click();
  await waitForClock(3);
  const throughput = Number(
    await page.locator('.chart-card[data-service="orders"] td.throughput').textContent(),
  );
  assert.ok(throughput > 0, `orders throughput ${throughput}`);
  await page.screenshot({ path: `${SHOTS}simulator-shop.png`, fullPage: true });
});

test("a migration behind the report shows waiters in the locks panel", async () => {
  await open("?scenario=alter-queue");
  await page.locator("#play").click();
  // The scenario's own ALTER TABLE at 2.5 s waits for the running report, and the lookups
  // queue behind it. Play past it, pause, and scrub back to 2.55 s: the run replays to there.
  await waitForClock(3);
  await page.locator("#play").click();
  await page.locator(".scrubber input").evaluate((input) => {
    input.value = "2550";
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  await until(async () => (await page.locator("#clock").textContent()) === "2.550 s", "the scrubbed time");
  const waiting = Number(await page.locator('.lock-db[data-database="shop"] .waiting-count').textContent());
  assert.ok(waiting >= 2, `${waiting} waiting`);
  const roots = await page.locator(".blocking-tree .who.root").allTextContents();
  assert.ok(roots.some((r) => r.startsWith("reporting")), `root blockers: ${roots}`);
  const modes = await page.locator(".lock-table tr.waiting .mode").allTextContents();
  assert.ok(modes.includes("ACCESS EXCLUSIVE"), `modes: ${modes}`);
  assert.ok(modes.includes("ACCESS SHARE"), `modes: ${modes}`);
  await page.screenshot({ path: `${SHOTS}simulator-locks.png`, fullPage: true });
});

test("running the report by hand makes the writers wait under two-phase locking", async () => {
  await open("?scenario=report-vs-writers");
  // Stop the scheduled reports first: then only the one we start can block the writers.
  await page.getByRole("button", { name: "Stop reporting.revenue" }).click();
  await page.locator("#play").click();
  await waitForClock(2);
  assert.equal(await page.locator(".lock-timeline .gantt-wait").count(), 0, "no waits before the report");
  // One report reads 10,000 rows in about 10 ms of simulated time, while writers arrive at
  // 100/s: ten reports in a row (they queue on the one timeline connection) make sure some
  // writers arrive while they hold their SHARE lock. The waits are short; the locks panel's
  // lock-wait timeline and the narration keep them.
  await page.locator("#play").click();
  for (let i = 0; i < 10; i++) await page.getByRole("button", { name: "Run the revenue report" }).click();
  await page.locator("#play").click();
  await page.locator(".lock-timeline .gantt-wait").first().waitFor({ timeout: 20_000 });
  const line = await until(async () => {
    const lines = await page.locator(".log-line.lock .log-text").allTextContents();
    return lines.find((l) => l.includes("blocked by (timeline) shop"));
  }, "a lock wait behind the report in the narration");
  assert.match(line, /^orders waited for ROW EXCLUSIVE on orders/);
  await page.locator("#play").click();
  await page.screenshot({ path: `${SHOTS}simulator-report.png`, fullPage: true });
});

test("renaming a column at the console breaks the readers' edges and the log says why", async () => {
  await open();
  await page.locator("#play").click();
  await waitForClock(1);
  const sql = page.locator("#sim-sql");
  await sql.fill("ALTER TABLE orders RENAME COLUMN status TO state");
  await page.getByRole("button", { name: "Run in simulation" }).click();
  const broken = page.locator(".topology .edge.broken").first();
  await broken.waitFor({ timeout: 20_000 });
  const label = await broken.getAttribute("aria-label");
  assert.match(label, /broken/);
  await page.locator(".log-line.schema-break").first().waitFor();
  const text = await page.locator(".log-line.schema-break .log-text").first().textContent();
  assert.match(text, /failed \(schema\)/);
  await page.locator("#play").click();
  await broken.focus();
  await page.screenshot({ path: `${SHOTS}simulator-schema-break.png`, fullPage: true });
});

test("play, pause and step by keyboard only", async () => {
  await open();
  await page.locator("body").press("Space");
  await until(async () => (await page.locator("#play").getAttribute("aria-pressed")) === "true", "playing");
  await waitForClock(0.5);
  await page.locator("body").press("Space");
  await until(async () => (await page.locator("#play").getAttribute("aria-pressed")) === "false", "paused");
  const paused = await clockSeconds();
  await page.waitForTimeout(300);
  assert.equal(await clockSeconds(), paused, "the clock stands still when paused");
  // A step runs the next instant with events: it may lie in the same millisecond, so the clock's
  // text can stay while the count of events run grows.
  const events = async () => Number(await page.locator("#clock").getAttribute("data-events"));
  const before = await events();
  await page.locator("body").press("ArrowRight");
  await until(async () => (await events()) > before, "a step forward");
  assert.ok((await clockSeconds()) >= paused, "a step never goes back in time");
  // Tab reaches the transport's buttons, with a visible focus ring.
  await page.locator("body").press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.tagName);
  assert.ok(["BUTTON", "SELECT", "INPUT"].includes(focused), `focus on ${focused}`);
  await page.locator("body").press("?");
  await page.locator(".help-dialog").waitFor();
  await page.screenshot({ path: `${SHOTS}simulator-keyboard.png` });
});

test("stepping back shows the numbers the page showed at that time", async () => {
  await open();
  await page.locator("#play").click();
  await waitForClock(2.5);
  await page.locator("#play").click();
  const clock = await page.locator("#clock").textContent();
  const totals = await page.locator(".chart-totals").allTextContents();
  const log = await page.locator(".log-line").allTextContents();
  // Forward 5 × 100 ms, then back 5 × 100 ms with the ← key.
  for (let i = 0; i < 5; i++) await page.getByRole("button", { name: "+100 ms" }).click();
  await until(async () => (await page.locator("#clock").textContent()) !== clock, "time to move");
  assert.notDeepEqual(await page.locator(".chart-totals").allTextContents(), totals);
  for (let i = 0; i < 5; i++) await page.locator("body").press("ArrowLeft");
  await until(async () => (await page.locator("#clock").textContent()) === clock, "the same time");
  assert.deepEqual(await page.locator(".chart-totals").allTextContents(), totals);
  assert.deepEqual(await page.locator(".log-line").allTextContents(), log);
  const note = await page.locator(".seek-note").textContent();
  assert.match(note, /replayed [\d.]+(ms|s|us) in \d+ ms/);
  console.log(`jump back: ${note}`);
  await page.screenshot({ path: `${SHOTS}simulator-step-back.png`, fullPage: true });
});

test("the run plays in one Web Worker, to the same numbers each time; the page holds no run", async () => {
  const workers = [];
  page.on("worker", (worker) => workers.push(worker));
  const totalsAt2s = async (query) => {
    await open(query);
    // Twenty steps in a row add up, however fast the run answers.
    for (let i = 0; i < 20; i++) await page.getByRole("button", { name: "+100 ms" }).click();
    await until(async () => (await page.locator("#clock").getAttribute("data-shown-us")) === "2000000", "the panels at 2 s");
    const rate = page.getByRole("spinbutton", { name: "billing.pay_invoice arrivals per second" });
    await rate.fill("9");
    await rate.press("Enter");
    await until(async () => (await page.locator(".last-result").textContent())?.includes("9 times"), "the rate");
    for (let i = 0; i < 5; i++) await page.getByRole("button", { name: "+100 ms" }).click();
    await until(async () => (await page.locator("#clock").getAttribute("data-shown-us")) === "2500000", "the panels at 2.5 s");
    // The totals, and the user's commands as the address records them.
    return { totals: await page.locator(".chart-totals").allTextContents(), commands: new URL(page.url()).searchParams.get("run") };
  };
  const first = await totalsAt2s("?scenario=shop");
  assert.equal(workers.length, 1, "the run's worker");
  const again = await totalsAt2s("?scenario=shop");
  assert.equal(workers.length, 2, "one worker for each page load");
  assert.deepEqual(again, first, "the same run, each time");
  assert.ok(first.totals.length > 0 && first.commands, "totals and the recorded command");
});

test("a broken link falls back to the shop with a visible message", async () => {
  await open("?scenario=no-such-thing");
  assert.equal(await page.locator(".scenario-bar select").inputValue(), "shop");
  assert.match(await page.locator(".notice").textContent(), /no built-in scenario called "no-such-thing"/);
  await page.screenshot({ path: `${SHOTS}simulator-broken-link.png` });
});

test("the simulator fits a 360 px screen", async () => {
  await page.setViewportSize({ width: 360, height: 800 });
  await open();
  await page.locator("#play").click();
  await waitForClock(1);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
  await page.screenshot({ path: `${SHOTS}simulator-360.png`, fullPage: true });
});

test("a transaction held open at the console makes a service wait", async () => {
  await open();
  await page.locator("#play").click();
  await waitForClock(1);
  const sql = page.locator("#sim-sql");
  await sql.fill("BEGIN; UPDATE orders SET status = status WHERE id > 0");
  await sql.press("Control+Enter");
  await page.locator(".txn-badge.open").waitFor({ timeout: 20_000 });
  const waiter = await until(async () => {
    const roots = await page.locator(".blocking-tree .who.root").allTextContents();
    return roots.includes("console") ? roots : null;
  }, "the console as a root blocker");
  assert.ok(waiter.length >= 1);
  await page.locator(".node.service.waiting").first().waitFor();
  const label = await page.locator(".node.service.waiting").first().getAttribute("aria-label");
  assert.match(label, /waiting on locks/);
  await page.screenshot({ path: `${SHOTS}simulator-console-lock.png`, fullPage: true });
  await sql.fill("COMMIT");
  await sql.press("Control+Enter");
  await page.locator(".txn-badge.idle").waitFor({ timeout: 20_000 });
  await until(async () => (await page.locator(".blocking-tree").count()) === 0, "the waiters to go");
});

test("axe-core finds no serious or critical violation on the simulator", async () => {
  await open("?scenario=alter-queue");
  await page.locator("#play").click();
  // Paused while the migration holds its lock, so the run's alert colours are on the page too.
  await page.locator(".chart-totals .alert").first().waitFor({ timeout: 30_000 });
  await page.locator("#play").click();
  const violations = await axeViolations(page);
  assert.deepEqual(violations, []);
});

test("axe-core finds no serious or critical violation in dark mode", async () => {
  await page.emulateMedia({ colorScheme: "dark" });
  await open();
  await page.locator("#play").click();
  await waitForClock(2);
  await page.locator("#play").click();
  const violations = await axeViolations(page);
  assert.deepEqual(violations, []);
  await page.screenshot({ path: `${SHOTS}simulator-dark.png`, fullPage: true });
});

test("a scripted deadlock, stepped with N, shows the cycle in the waits-for graph", async () => {
  await page.goto(`${server.url}?scenario=deadlock`);
  await page.locator(".script-view").waitFor();
  const columns = await page.locator(".script-table th .session-name").allTextContents();
  assert.deepEqual(columns, ["A", "B", "auditor"]);
  const levels = await page.locator(".script-table th .session-level").allTextContents();
  assert.deepEqual(levels, ["REPEATABLE READ", "REPEATABLE READ", "REPEATABLE READ"]);
  for (let i = 0; i < 5; i++) await page.locator("body").press("n");
  await page.locator('.script-table tr[data-step="4"] .step-card.waiting').waitFor();
  await page.locator("body").press("n");
  await page.locator('.script-table tr[data-step="5"] .step-card.failed').waitFor();
  assert.match(await page.locator('tr[data-step="5"] .step-message').textContent(), /deadlock detected/);
  // Step 5 (A) was freed by the victim's abort.
  assert.match(await page.locator('tr[data-step="4"] .step-waiting').textContent(), /freed by step #6/);
  await page.locator(".waits-for.has-cycle").waitFor();
  assert.ok((await page.locator(".wf-edge.cycle").count()) >= 2);
  assert.match(await page.locator(".waits-for figcaption").textContent(), /B was aborted/);
  assert.equal(await page.locator(".deadlock-count").textContent(), "1");
  await page.screenshot({ path: `${SHOTS}simulator-deadlock.png`, fullPage: true });
  await page.getByRole("button", { name: "Run to the end" }).click();
  await page.locator(".script-outcome").waitFor();
  assert.match(await page.locator(".script-outcome").textContent(), /committed: A/);
});

test("the theme button switches light and dark, and the choice survives a reload", async () => {
  await open();
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await background();
  await page.getByRole("button", { name: /^Theme: auto/ }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "light");
  await page.getByRole("button", { name: /^Theme: light/ }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  const dark = await background();
  assert.notEqual(dark, light);
  await page.reload();
  await page.locator(".simulator .topology > svg").waitFor();
  assert.equal(await background(), dark);
  await page.getByRole("button", { name: /^Theme: dark/ }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), undefined);
});
