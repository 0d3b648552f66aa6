// Page tests of the other side of the comparison (issue 11): switch the shop to cdc and see
// messages flow; open an order's update in the message viewer (before and after); crash the
// connector and watch its lag rise, then start it and watch it recover; watch the etl mode's
// batch job refresh the analytics copy. Screenshots go to target/screenshots/.
import { test, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { SHOTS, startBrowser, pagePerTest, until as poll, waitForClock as reach } from "./harness.mjs";

let session;
let page;

before(async () => {
  session = await startBrowser();
});

after(async () => {
  await session?.close();
});

const current = pagePerTest(() => session, { beforeEach, afterEach });
beforeEach(() => {
  ({ page } = current);
});

const until = (probe, what, timeout) => poll(page, probe, what, timeout);
const waitForClock = (seconds, timeout) => reach(page, seconds, timeout);

/** Opens the shop and switches it to cdc with the scenario bar's switch. */
async function openCdc() {
  await page.goto(`${session.server.url}?scenario=shop`);
  await page.locator(".simulator .topology > svg").first().waitFor();
  const modes = page.getByRole("group", { name: "Integration mode" });
  await modes.getByRole("button", { name: "cdc" }).click();
  await page.getByRole("heading", { name: "Change data capture" }).waitFor();
}

/** The number the connector card shows after "produced". */
async function produced() {
  const text = await page.locator(".pipe-card.connector dd").nth(5).textContent();
  return Number(text.split(" ")[0]);
}

test("switching the shop to cdc shows the pipeline and messages flow", async () => {
  await openCdc();
  assert.equal(await page.getByRole("group", { name: "Integration mode" }).getByRole("button", { name: "cdc" }).getAttribute("aria-pressed"), "true");
  assert.match(page.url(), /mode=cdc/, "the link carries the mode");
  const start = await produced();
  assert.ok(start > 20_000, `the initial snapshot is in the topics (${start})`);
  await page.locator("#play").click();
  await waitForClock(3);
  await until(async () => (await produced()) > start + 30, "the connector to produce the orders taken");
  const card = page.locator(".pipe-card.group", { hasText: "billing" });
  assert.match(await card.textContent(), /applied/);
  await page.screenshot({ path: `${SHOTS}cdc-pipeline.png`, fullPage: false });
  // The words the panel uses are explained in the help.
  await page.locator("#play").click();
  await page.locator("body").press("?");
  const help = page.getByRole("dialog");
  await help.getByRole("heading", { name: "Change data capture (the cdc mode)" }).waitFor();
  assert.match(await help.textContent(), /high watermark/);
});

test("an order's update opens to its before and after in the message viewer", async () => {
  await openCdc();
  await page.locator("#play").click();
  await waitForClock(2);
  await page.locator(".pipe-card.topic", { hasText: "shop.public.orders" }).getByRole("button", { name: "View messages" }).click();
  const viewer = page.locator(".message-viewer");
  await viewer.waitFor();
  const updates = viewer.locator("li.message.update");
  await until(async () => (await updates.count()) >= 3, "updates to arrive");
  await viewer.getByRole("button", { name: "Following" }).click(); // hold the list still
  // An update may set the status it already had (PostgreSQL still logs it): open them in turn
  // until one changed something.
  let update = null;
  for (let i = 0; i < (await updates.count()) && !update; i++) {
    const candidate = updates.nth(i);
    await candidate.locator(".message-head").click();
    await candidate.locator(".field-diff").waitFor();
    if ((await candidate.locator(".field-diff tr.changed").count()) > 0) update = candidate;
  }
  assert.ok(update, "one of the updates changed a column");
  const changed = update.locator(".field-diff tr.changed");
  assert.match(await changed.first().textContent(), /status/, "the status column changed");
  assert.match(await update.locator(".message-json").textContent(), /"op": "u"/);
  await page.screenshot({ path: `${SHOTS}cdc-message-viewer.png`, fullPage: false });
  // A key filter keeps only that key's messages.
  const key = (await update.locator(".message-key").textContent()).match(/\d+/)[0];
  await viewer.getByRole("searchbox", { name: "Filter by key" }).fill(key);
  await until(async () => {
    const keys = await viewer.locator(".message-key").allTextContents();
    return keys.length > 0 && keys.every((k) => k.includes(key));
  }, "only the filtered key's messages");
});

test("a crashed connector's lag rises, and falls again once it is started", async () => {
  await openCdc();
  await page.locator("#play").click();
  await waitForClock(1);
  const connector = page.locator(".pipe-card.connector");
  await connector.getByRole("button", { name: "Crash" }).click();
  await until(async () => (await connector.locator(".pipe-state").textContent()) === "crashed", "the crash");
  await until(async () => (await connector.locator("dd.behind").count()) > 0, "the lag to rise");
  const lag = await connector.locator("dd.behind").textContent();
  assert.match(lag, /^\d+ change/);
  // The read models fall behind the source although their consumers are caught up.
  const behind = page.locator(".pipe-card.group", { hasText: "billing" }).locator("dd").nth(1);
  await until(async () => /change/.test(await behind.textContent()), "billing's read model to fall behind the source");
  await page.screenshot({ path: `${SHOTS}cdc-connector-crashed.png`, fullPage: false });
  await connector.getByRole("button", { name: "Restart" }).click();
  await until(async () => (await connector.locator(".pipe-state").textContent()) === "streaming", "streaming again");
  await until(async () => (await connector.locator("dd.behind").count()) === 0, "the lag to recover", 30_000);
  await page.screenshot({ path: `${SHOTS}cdc-connector-recovered.png`, fullPage: false });
});

test("the compare view runs every mode in a worker, with the same seed, to the live run's own fingerprint", async () => {
  const workers = [];
  page.on("worker", (worker) => workers.push(worker));
  await page.goto(`${session.server.url}?scenario=shop&t=10s`);
  await page.locator(".simulator .topology > svg").first().waitFor();
  // The live run's fingerprint at 10 s, from the share panel (the run on the page's own thread).
  const shareButton = page.getByRole("button", { name: "Share", exact: true });
  await shareButton.click();
  const fingerprint = (await page.getByRole("region", { name: "Share this run" }).locator(".fingerprint").textContent()).trim();
  assert.match(fingerprint, /^[0-9a-f]{16}$/);
  await shareButton.click();
  // The live run has its own worker; the comparison gets another.
  const runWorkers = workers.length;
  await page.getByRole("button", { name: "Compare modes" }).click();
  // The page says how far the worker has got while it runs: it draws meanwhile.
  await until(async () => /Comparing the modes, each to 10s: [1-4] of 5 done, running (owned|etl|cdc|events)…/.test((await page.locator(".busy-note").allTextContents()).join("")), "the comparison's progress on the page");
  assert.equal(await page.getByRole("button", { name: "Compare modes" }).isDisabled(), true, "one comparison at a time");
  const panel = page.locator(".compare-panel");
  await panel.waitFor({ timeout: 60_000 });
  assert.equal(workers.length, runWorkers + 1, "the comparison ran in a worker");
  assert.equal(await page.locator(".busy-note").count(), 0);
  const heads = await panel.locator(".scorecard thead th").allTextContents();
  assert.deepEqual(heads.slice(1), ["shared", "owned", "etl", "cdc", "events"]);
  // The worker's shared run is the page's own run, trace for trace.
  assert.match(await panel.locator(".compare-hint").last().textContent(), new RegExp(`shared ${fingerprint}`));
  const p99 = panel.locator(".scorecard tbody tr", { hasText: "orders p99" });
  const cells = (await p99.locator("td").allTextContents()).map((t) => Number.parseFloat(t));
  assert.ok(cells[3] < cells[0], `orders' p99 is lower under cdc (${cells.join(", ")})`);
  assert.ok((await panel.locator(".scorecard tbody tr", { hasText: "staleness p95" }).count()) > 0);
  assert.equal(await panel.locator(".compare-chart").count(), 4, "one overlaid chart per service");
  // The rows the same in every mode step back; the ones that differ do not.
  assert.ok(!/\bsame\b/.test((await p99.getAttribute("class")) ?? ""), "orders' p99 differs between the modes");
  const same = panel.locator(".scorecard tbody tr.same");
  assert.ok((await same.count()) > 0, "some rows are the same in every mode (deadlocks, say)");
  for (const row of await same.all()) {
    const values = await row.locator("td").allTextContents();
    assert.equal(new Set(values).size, 1, `a grey row has one value: ${values.join(", ")}`);
  }
  // One legend for the charts, not one under each.
  assert.equal(await panel.locator(".compare-legend").count(), 1);
  await panel.screenshot({ path: `${SHOTS}cdc-compare.png` });
});

test("a comparison can be cancelled: its worker stops, and the page goes on without it", async () => {
  const workers = [];
  page.on("worker", (worker) => workers.push(worker));
  // At 60 s every mode runs a minute: far longer than the wait below for the worker to go.
  await page.goto(`${session.server.url}?scenario=shop&t=60s`);
  await page.locator(".simulator .topology > svg").first().waitFor();
  await waitForClock(60, 60_000);
  // The live run has its own worker; the comparison gets another, stopped when cancelled.
  const runWorkers = workers.length;
  await page.getByRole("button", { name: "Compare modes" }).click();
  const note = page.locator(".busy-note");
  await note.waitFor();
  await until(async () => workers.length === runWorkers + 1, "the worker to start");
  await page.screenshot({ path: `${SHOTS}compare-running.png`, fullPage: false });
  // The button pressed is disabled while it runs: the keyboard's focus moves to Cancel, and
  // back to the button once cancelled.
  const focused = () => page.evaluate(() => document.activeElement?.textContent ?? "");
  await until(async () => (await focused()) === "Cancel", "the focus on Cancel");
  await page.keyboard.press("Enter");
  await note.waitFor({ state: "detached" });
  await until(async () => (await focused()) === "Compare modes", "the focus back on Compare modes");
  await until(async () => page.workers().length === runWorkers, "the worker to be stopped", 2_000);
  assert.equal(await page.locator(".compare-panel").count(), 0);
  assert.equal(await page.getByRole("button", { name: "Compare modes" }).isEnabled(), true);
  // The run itself was never held: it plays on.
  await page.locator("#play").click();
  await waitForClock(1);
});

test("the etl mode's job refreshes the analytics copy, and its staleness drops when a copy commits", async () => {
  await page.goto(`${session.server.url}?scenario=etl-vs-cdc`);
  await page.getByRole("heading", { name: "ETL job" }).waitFor();
  const modes = page.getByRole("group", { name: "Integration mode" });
  assert.equal(await modes.getByRole("button", { name: "etl" }).getAttribute("aria-pressed"), "true");
  const job = page.getByRole("article", { name: "ETL job" });
  const staleness = page.getByRole("article", { name: "database analytics" }).locator("dd.etl-staleness");
  const seconds = async () => {
    const [, value, unit] = (await staleness.textContent()).match(/([\d.]+)\s*(us|ms|s)/);
    return Number.parseFloat(value) / { us: 1e6, ms: 1e3, s: 1 }[unit];
  };
  await page.locator("#play").click();
  await waitForClock(6);
  await page.locator("#play").click();
  assert.ok((await seconds()) >= 5, `the copy ages between runs (${await staleness.textContent()})`);
  assert.match(await job.textContent(), /0 committed/);
  await job.getByRole("button", { name: "Run the copy now" }).click();
  await page.locator("#play").click();
  await until(async () => /1 committed/.test(await job.textContent()), "the copy to commit");
  assert.ok((await seconds()) < 5, `a fresh copy (${await staleness.textContent()})`);
  assert.match(await page.getByRole("article", { name: "database shop" }).textContent(), /extract load/);
  await page.screenshot({ path: `${SHOTS}etl-job.png`, fullPage: false });
});

test("the capture methods side by side: the compare view counts what a query missed", async () => {
  await page.goto(`${session.server.url}?scenario=capture-methods`);
  await page.getByRole("heading", { name: "Change data capture" }).waitFor();
  const connector = page.locator(".pipe-card.connector");
  assert.match(await connector.textContent(), /its WAL, through slot/);
  // A poll interval chosen on the card reaches the simulation.
  await connector.getByRole("combobox", { name: "orders-connector polls every" }).selectOption("1000");
  await until(async () => /orders-connector now polls every 1000 ms\./.test(await page.locator(".pipeline-panel .last-result").textContent()), "the poll interval to change, said on the panel");
  await page.getByRole("button", { name: "Compare modes" }).click();
  const panel = page.locator(".compare-panel");
  await panel.waitFor({ timeout: 60_000 });
  const heads = await panel.locator(".scorecard thead th").allTextContents();
  assert.deepEqual(heads.slice(1), ["shared", "owned", "cdc", "cdc:query", "cdc:trigger"]);
  const missed = await panel.locator(".scorecard tbody tr", { hasText: "changes missed by capture" }).locator("td").allTextContents();
  assert.ok(Number(missed[3]) > 0, `a query misses deletes and in-between states (${missed.join(", ")})`);
  const cost = (await panel.locator(".scorecard tbody tr", { hasText: "capture on the source" }).locator("td").allTextContents()).map(Number);
  assert.ok(cost[4] > cost[2], `a trigger costs the source more than the log (${cost.join(", ")})`);
  await panel.screenshot({ path: `${SHOTS}capture-compare.png` });
});

test("the topology draws the pipeline: a flow from each source table to its read model, red when the connector crashes", async () => {
  await openCdc();
  const flow = page.getByRole("img", { name: /^orders\.orders → orders-connector \(streaming\) → topic shop\.public\.orders → group billing/ });
  await flow.waitFor();
  await page.locator(".topology").first().screenshot({ path: `${SHOTS}cdc-topology.png` });
  await page.locator(".pipe-card.connector").getByRole("button", { name: "Crash" }).click();
  await page.getByRole("img", { name: /orders-connector \(crashed\)/ }).first().waitFor();
  assert.match(await page.locator(".pipeline-flow").first().getAttribute("class"), /erroring/);
  await page.locator(".topology").first().screenshot({ path: `${SHOTS}cdc-topology-crashed.png` });
});

test("cdc-basics keeps analytics' report as a projection: a few rows the orders' changes update", async () => {
  await page.goto(`${session.server.url}?scenario=cdc-basics`);
  await page.getByRole("heading", { name: "Change data capture", exact: true }).waitFor();
  const card = page.locator(".pipe-card.group", { hasText: "analytics" });
  const model = card.locator(".read-models li", { hasText: "revenue_by_status" });
  assert.match(await model.textContent(), /projection of orders · \d+ rows?/);
  assert.match(await model.getAttribute("title"), /GROUP BY status/, "the query is on its tooltip");
  await page.getByRole("img", { name: /^orders\.orders → orders-connector .* → analytics\.revenue_by_status/ }).waitFor();
  await page.locator("#play").click();
  await waitForClock(4);
  await until(async () => /\d+ applied/.test(await model.textContent()), "order changes to reach the projection");
  await card.screenshot({ path: `${SHOTS}cdc-projection.png` });
  await page.locator(".topology").first().screenshot({ path: `${SHOTS}cdc-projection-topology.png` });
});
