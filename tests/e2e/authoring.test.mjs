// Page tests of authoring (issue 15): the scenario editor checks the file as it is typed (a bad
// value is shown at its line and field), applies it, and the page's link carries the edited
// scenario, so a fresh page opens the same run to the same fingerprint. Drafts, settings and
// lesson progress are kept in the browser; a record that cannot be read is set aside and said.
// An exported scenario, imported again, gives the same run; a run saved as a file opens as it
// was. A link whose scenario is broken falls back, its text kept in the editor.
import { test, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { SHOTS, startBrowser, pagePerTest, until as poll, axeViolations, clockSeconds } from "./harness.mjs";

let session;
let page;
let context;

before(async () => {
  session = await startBrowser();
});

after(async () => {
  await session?.close();
});

const current = pagePerTest(() => session, { beforeEach, afterEach });
beforeEach(() => {
  ({ page, context } = current);
});

const until = (probe, what, timeout) => poll(page, probe, what, timeout);
const editor = (p = page) => p.getByRole("region", { name: "Scenario editor" });
const source = (p = page) => editor(p).getByRole("textbox", { name: "Scenario file (TOML)" });
const status = (p = page) => editor(p).locator(".scenario-status");

/** Opens the editor of `p` if it is closed (past the warning that the file holds a lesson's
 * answer, when the question is still open). */
async function openEditor(p = page) {
  if ((await editor(p).count()) === 0) await p.getByRole("button", { name: "Edit", exact: true }).click();
  await editor(p).waitFor();
  const anyway = editor(p).getByRole("button", { name: "Open the file anyway" });
  if ((await anyway.count()) > 0) await anyway.click();
  await source(p).waitFor();
}

/** The share panel's link and fingerprint on `p`. */
async function shared(p = page) {
  const panel = p.getByRole("region", { name: "Share this run" });
  if ((await panel.count()) === 0) await p.getByRole("button", { name: "Share", exact: true }).click();
  await panel.waitFor();
  const result = {
    link: await panel.getByRole("textbox", { name: "Link to this run" }).inputValue(),
    fingerprint: (await panel.locator(".fingerprint").textContent()).trim(),
  };
  await panel.getByRole("button", { name: "Close" }).click();
  return result;
}

/** Steps the run `n` × 100 ms on `p`. */
async function step(n, p = page) {
  for (let i = 0; i < n; i += 1) await p.getByRole("button", { name: "+100 ms" }).click();
}

/** `text` with line `line` (1-based) replaced by `by`. */
const withLine = (text, line, by) => text.split("\n").map((l, i) => (i + 1 === line ? by : l)).join("\n");

/** The 1-based number of the first line of `text` that starts with `start` (after spaces). */
const lineOf = (text, start) => text.split("\n").findIndex((l) => l.trimStart().startsWith(start)) + 1;

test("an edited rate: refused at its line, fixed, applied, shared — the same fingerprint in a fresh page", async () => {
  await page.goto(`${session.server.url}?scenario=shop`);
  await openEditor();
  const original = await source().inputValue();
  assert.match(await status().textContent(), /Reads as a scenario: shop .* this is what runs/);
  const line = lineOf(original, "rate_per_s");
  assert.ok(line > 0, "the shop has a rate");
  const rate = original.split("\n")[line - 1];

  // A negative rate: the error names the line and the field, the gutter marks the line, and
  // Apply is off.
  await source().fill(withLine(original, line, "rate_per_s = -5"));
  await until(async () => /✗/.test(await status().textContent()), "the error");
  const error = await status().textContent();
  assert.match(error, new RegExp(`line ${line}\\b`));
  assert.match(error, /rate_per_s/);
  assert.equal((await editor().locator(".scenario-gutter .bad").textContent()).trim(), String(line));
  assert.equal(await editor().getByRole("button", { name: "Apply" }).isDisabled(), true);
  assert.equal(await source().getAttribute("aria-invalid"), "true");
  await page.screenshot({ path: `${SHOTS}editor-error.png`, fullPage: false });
  // "Go to line" selects the line in the text.
  await editor().getByRole("button", { name: `Go to line ${line}` }).click();
  const selected = await source().evaluate((a) => a.value.slice(a.selectionStart, a.selectionEnd));
  assert.equal(selected, "rate_per_s = -5");

  // Fixed: another rate, which runs once applied.
  const fixed = withLine(original, line, rate.replace(/=.*/, "= 33"));
  await source().fill(fixed);
  await until(async () => /✓ Reads as a scenario/.test(await status().textContent()), "the fix read");
  assert.match(await status().textContent(), /not running yet/);
  assert.deepEqual(await axeViolations(page), []);
  await editor().getByRole("button", { name: "Apply" }).click();
  await page.locator(".edited-badge").waitFor();
  assert.match(await page.locator(".info-note").textContent(), /Your version of shop runs from 0 s/);
  assert.match(await status().textContent(), /this is what runs/);
  await step(8);
  const mine = await shared();
  const url = new URL(mine.link);
  assert.ok(url.searchParams.get("src"), "the link carries the edited scenario");
  assert.ok(mine.link.length < 8 * 1024, `${mine.link.length} bytes`);

  // The built-in shop at the same moment is another run: the edit counts.
  const builtin = await session.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const fresh = await session.browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const theirs = await builtin.newPage();
    const plain = new URL(mine.link);
    plain.searchParams.delete("src");
    await theirs.goto(plain.toString());
    await theirs.locator("#clock").waitFor();
    assert.notEqual((await shared(theirs)).fingerprint, mine.fingerprint, "the edited rate changes the run");

    // Opened in a fresh browser: the edited scenario, at the same moment, the same run.
    const other = await fresh.newPage();
    await other.goto(mine.link);
    await other.locator("#clock").waitFor();
    assert.equal((await shared(other)).fingerprint, mine.fingerprint);
    assert.equal(await other.locator(".edited-badge").count(), 1);
    await openEditor(other);
    assert.equal(await source(other).inputValue(), fixed);
  } finally {
    await builtin.close();
    await fresh.close();
  }

  // A reload keeps the edit (the address carries it).
  await page.reload();
  await page.locator(".edited-badge").waitFor();
  assert.equal((await shared()).fingerprint, mine.fingerprint);
});

test("a draft not yet applied is kept in the browser across a reload, and Revert forgets it", async () => {
  await page.goto(`${session.server.url}?scenario=shop`);
  await openEditor();
  const original = await source().inputValue();
  await source().fill(`# my notes for Tuesday's class\n${original}`);
  await page.reload();
  await page.locator("#clock").waitFor();
  await openEditor();
  assert.match(await source().inputValue(), /^# my notes for Tuesday's class\n/);
  assert.match(await editor().locator(".scenario-note").textContent(), /kept in this browser/);
  // Nothing of it runs until applied.
  assert.equal(await page.locator(".edited-badge").count(), 0);
  await editor().getByRole("button", { name: "Revert" }).click();
  assert.equal(await source().inputValue(), original);
  await page.reload();
  await page.locator("#clock").waitFor();
  await openEditor();
  assert.equal(await source().inputValue(), original);
});

test("a stored record that cannot be read is reported, set aside, and the page plays", async () => {
  await page.goto(`${session.server.url}?scenario=shop`);
  await page.locator("#clock").waitFor();
  await page.evaluate(() => localStorage.setItem("dataflow-lab.kept", "{\"version\": 1, \"drafts\": [oops"));
  await page.reload();
  const notice = page.locator(".notice");
  await notice.waitFor();
  assert.match(await notice.textContent(), /could not be read: it was set aside/);
  assert.equal(
    await page.evaluate(() => localStorage.getItem("dataflow-lab.kept.unreadable")),
    "{\"version\": 1, \"drafts\": [oops",
  );
  await page.locator("#play").click();
  await until(async () => (await clockSeconds(page)) >= 0.5, "the clock to move");
  // Said once: the next load is quiet, and the record is written afresh.
  await page.getByRole("combobox", { name: "Speed" }).selectOption({ label: "4×" });
  await page.reload();
  await page.locator("#clock").waitFor();
  assert.equal(await page.locator(".notice").count(), 0);
  const kept = JSON.parse(await page.evaluate(() => localStorage.getItem("dataflow-lab.kept")));
  assert.equal(kept.version, 1);
});

test("a lesson's prediction and the speed are kept for the next visit", async () => {
  await page.goto(`${session.server.url}?scenario=lost-update`);
  const lesson = page.getByRole("region", { name: "Lesson" });
  await lesson.waitFor();
  await lesson.getByRole("radio").nth(1).click();
  assert.match(await lesson.locator(".lesson-status").textContent(), /Noted/);
  await page.getByRole("combobox", { name: "Speed" }).selectOption({ label: "4×" });
  // A new visit: no time, no speed in the link.
  await page.goto(`${session.server.url}?scenario=lost-update`);
  await lesson.waitFor();
  assert.match(await lesson.locator(".lesson-status").textContent(), /Noted/);
  assert.equal(await lesson.getByRole("radio").nth(1).getAttribute("aria-checked"), "true");
  assert.equal(await page.getByRole("combobox", { name: "Speed" }).inputValue(), "2");
});

test("an exported scenario imported again gives the same run; a saved run file opens as it was", async () => {
  await page.goto(`${session.server.url}?scenario=shop&seed=11`);
  await openEditor();
  const original = await source().inputValue();
  const line = lineOf(original, "rate_per_s");
  const edited = withLine(original, line, "rate_per_s = 17");
  await source().fill(edited);
  await editor().getByRole("button", { name: "Apply" }).click();
  await page.locator(".edited-badge").waitFor();
  const [exported] = await Promise.all([
    page.waitForEvent("download"),
    editor().getByRole("button", { name: "Export" }).click(),
  ]);
  assert.equal(exported.suggestedFilename(), "shop.toml");
  const file = await exported.path();
  assert.equal(readFileSync(file, "utf8"), edited);
  await step(5);
  const mine = await shared();
  // The run as a file, too.
  const panel = page.getByRole("region", { name: "Share this run" });
  await page.getByRole("button", { name: "Share", exact: true }).click();
  const [saved] = await Promise.all([
    page.waitForEvent("download"),
    panel.getByRole("button", { name: "Save the run as a file" }).click(),
  ]);
  assert.equal(saved.suggestedFilename(), "shop-run.json");
  const runFile = await saved.path();
  const run = JSON.parse(readFileSync(runFile, "utf8"));
  assert.equal(run.format, "dataflow-lab-run");
  assert.equal(run.source, edited);

  // Somewhere else: the exported file imported into the built-in shop with the same seed.
  const elsewhere = await session.browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const theirs = await elsewhere.newPage();
    await theirs.goto(`${session.server.url}?scenario=shop&seed=11`);
    await openEditor(theirs);
    await editor(theirs).locator("input[type=file]").setInputFiles({
      name: "shop.toml", mimeType: "text/plain", buffer: readFileSync(file),
    });
    await theirs.locator(".edited-badge").waitFor();
    assert.match(await editor(theirs).locator(".scenario-note").textContent(), /Imported from shop\.toml/);
    await step(5, theirs);
    assert.equal((await shared(theirs)).fingerprint, mine.fingerprint);

    // The run file: the same scenario, seed and moment.
    await theirs.goto(`${session.server.url}?scenario=deadlock`);
    await openEditor(theirs);
    await editor(theirs).locator("input[type=file]").setInputFiles({
      name: "shop-run.json", mimeType: "application/json", buffer: readFileSync(runFile),
    });
    await theirs.locator(".edited-badge").waitFor();
    assert.match(await theirs.locator(".info-note").textContent(), /Opened the run in shop-run\.json/);
    assert.equal((await shared(theirs)).fingerprint, mine.fingerprint);
    assert.equal(await clockSeconds(theirs), 0.5);
  } finally {
    await elsewhere.close();
  }
});

test("what only applying finds is said in the editor at its line, and the run goes on as it was", async () => {
  await page.goto(`${session.server.url}?scenario=shop`);
  // A lesson's file holds its answer: the page asks first.
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  assert.match(await editor().textContent(), /holds this lesson's answer/);
  assert.equal(await source().count(), 0);
  await editor().getByRole("button", { name: "Open the file anyway" }).click();
  await page.locator("#play").click();
  await until(async () => (await clockSeconds(page)) >= 0.5, "the clock to move");
  const original = await source().inputValue();
  const line = original.split("\n").findIndex((l) => l.includes("FROM jobs")) + 1;
  assert.ok(line > 0, "shipping polls the jobs table");
  await source().fill(original.replace("FROM jobs", "FROM jobz"));
  // The file reads; the table is only missing once the databases are built.
  await until(async () => /✓ Reads as a scenario/.test(await status().textContent()), "the draft read");
  const before = await clockSeconds(page);
  await editor().getByRole("button", { name: "Apply" }).click();
  await until(async () => /✗/.test(await status().textContent()), "the problem");
  assert.match(await status().textContent(), new RegExp(`line ${line}\\b.*jobz`));
  assert.match(await editor().locator(".scenario-note").textContent(), /nothing changed/);
  assert.equal(await page.locator(".edited-badge").count(), 0);
  // The run was not touched: it plays on past where it was.
  await until(async () => (await clockSeconds(page)) > before, "the run to go on");
  assert.equal(await page.locator("#play").getAttribute("aria-pressed"), "true");
  // Esc closes the editor and gives the focus back to Edit.
  await source().press("Escape");
  assert.equal(await editor().count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), "Edit");
});

/** Text packed as the page packs it for a link: raw DEFLATE, URL-safe base64 without padding. */
const pack = (text) => deflateRawSync(Buffer.from(text, "utf8")).toString("base64url");

test("a link whose scenario is broken falls back, with its text in the editor to fix", async () => {
  const broken = 'format_version = 1\nname = "mine"\nduration = "ten seconds"\n';
  await page.goto(`${session.server.url}?scenario=mine&src=${pack(broken)}`);
  const notice = page.locator(".notice");
  await notice.waitFor();
  assert.match(await notice.textContent(), /The link's scenario has a problem — line 3.*showing "shop" instead/);
  await editor().waitFor();
  assert.equal(await source().inputValue(), broken);
  assert.match(await status().textContent(), /line 3/);
  assert.equal(await page.locator(".edited-badge").count(), 0);
  await page.screenshot({ path: `${SHOTS}editor-broken-link.png`, fullPage: false });

  // A scenario that reads but cannot run (its SQL names a table that is not there): the same,
  // at the line of the statement.
  const shop = readFileSync(new URL("../../static/scenarios/shop.toml", import.meta.url), "utf8");
  const line = shop.split("\n").findIndex((l) => l.includes("FROM jobs")) + 1;
  await page.goto(`${session.server.url}?scenario=shop&src=${pack(shop.replace("FROM jobs", "FROM jobz"))}`);
  await notice.waitFor();
  assert.match(await notice.textContent(), new RegExp(`(The link's|This) scenario has a problem — line ${line}\\b.*jobz.*showing "shop" instead`));
  await editor().waitFor();
  assert.match(await status().textContent(), new RegExp(`✗ line ${line}\\b`));
  assert.match(await source().inputValue(), /FROM jobz/);

  // Cut short or typed over: said, and the named built-in runs.
  await page.goto(`${session.server.url}?scenario=db-queue&src=${pack(broken).slice(0, 12)}!`);
  await notice.waitFor();
  assert.match(await notice.textContent(), /The link's scenario cannot be read — .*showing "db-queue" instead/);
  await page.locator("#play").click();
  await until(async () => (await clockSeconds(page)) > 0, "the clock to move");
});

test("the run's data exports: the metrics CSV with the rows the page lists, events and topics as NDJSON, the report, a chart as SVG and PNG", async () => {
  await page.goto(`${session.server.url}?scenario=shop&mode=cdc&t=3s`);
  await page.locator("#clock").waitFor();
  await page.getByRole("button", { name: "Share", exact: true }).click();
  const panel = page.getByRole("region", { name: "Share this run" });
  await panel.waitFor();
  const fingerprint = (await panel.locator(".fingerprint").textContent()).trim();
  /** Clicks the button named `name` in the panel and resolves to the downloaded file. */
  const save = async (name) => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      panel.getByRole("button", { name, exact: true }).click(),
    ]);
    return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
  };
  const listed = async (file) => panel.locator("li", { hasText: file }).textContent();

  // The metrics: the header and the row count the page lists.
  const [, columns, rows] = (await listed("shop-metrics.csv")).match(/CSV: (\d+) columns, (\d+) rows/);
  const csv = (await save("shop-metrics.csv")).bytes.toString("utf8").trimEnd().split("\n");
  assert.equal(csv[0], "second,service,completed,errors,p50_ms,p95_ms,p99_ms,max_ms");
  assert.equal(csv[0].split(",").length, Number(columns));
  assert.equal(csv.length - 1, Number(rows));
  assert.ok(Number(rows) >= 3, `${rows} rows`);

  // What happened, one JSON object per line, as many as listed.
  const [, lines] = (await listed("shop-events.ndjson")).match(/NDJSON: (\d+) lines?/);
  const events = (await save("shop-events.ndjson")).bytes.toString("utf8").split("\n").filter(Boolean);
  assert.equal(events.length, Number(lines));
  for (const line of events) assert.equal(typeof JSON.parse(line).text, "string");

  // A topic, as the command line's --topics-out writes it.
  const topic = await save("shop.public.orders.ndjson");
  const messages = topic.bytes.toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(messages.length > 0);
  assert.deepEqual(Object.keys(messages[0]).slice(0, 6), ["topic", "partition", "offset", "key", "value", "timestamp_ms"]);
  assert.match(await listed("shop.public.orders.ndjson"), new RegExp(`NDJSON: ${messages.length} messages`));

  // The report is the command line's, with the run's fingerprint.
  const report = JSON.parse((await save("shop-report.json")).bytes.toString("utf8"));
  assert.equal(report.scenario, "shop");
  assert.equal(report.trace_hash, fingerprint);

  // A chart, standalone: its styles travel with it.
  const svg = await save("Save the orders chart as SVG");
  assert.equal(svg.name, "shop-orders-latency.svg");
  const text = svg.bytes.toString("utf8");
  assert.match(text, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(text, /<polyline[^>]*style="[^"]*stroke:/);
  const png = await save("Save the orders chart as PNG");
  assert.equal(png.name, "shop-orders-latency.png");
  assert.deepEqual([...png.bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], "a PNG");
  assert.ok(png.bytes.length > 2_000, `${png.bytes.length} bytes`);
  await page.screenshot({ path: `${SHOTS}share-export.png`, fullPage: false });
});
