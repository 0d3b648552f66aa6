// Page tests of the simulator as a new user meets it (issue 10's twelve points): typing while it
// plays, a crash of the engine costing nothing, rendered texts, readable lock views, scripted
// scenarios that narrate, a phone, a default scenario where something happens, an isolation
// switch, explanations, links that reproduce the screen, a projector, and a page that shows
// progress while it builds. Screenshots go to target/screenshots/.
import { test, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { SHOTS, startBrowser, pagePerTest, clockSeconds as readClock, until as poll, waitForClock as reach } from "./harness.mjs";

let session;
let context;
let page;

before(async () => {
  session = await startBrowser();
});

after(async () => {
  await session?.close();
});

const current = pagePerTest(() => session, { beforeEach, afterEach });
beforeEach(() => {
  ({ context, page } = current);
});

const serverUrl = () => session.server.url;
const clockSeconds = () => readClock(page);
const until = (probe, what, timeout) => poll(page, probe, what, timeout);
const waitForClock = (seconds, timeout) => reach(page, seconds, timeout);

async function open(query = "") {
  await page.goto(`${serverUrl()}${query}`);
  await page.locator(".simulator .topology > svg, .simulator .script-view").first().waitFor();
}

async function pause() {
  if ((await page.locator("#play").getAttribute("aria-pressed")) === "true") await page.locator("#play").click();
  await until(async () => (await page.locator("#play").getAttribute("aria-pressed")) === "false", "paused");
}

/** Scrubs to `ms` (paused). */
async function scrubTo(ms) {
  await page.locator(".scrubber input").evaluate((input, value) => {
    input.max = String(Math.max(Number(input.max), value));
    input.value = String(value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, ms);
}

test("1. a rate and the seed typed while it plays keep the user's text until Enter", async () => {
  await open();
  await page.locator("#play").click();
  const rate = page.getByRole("spinbutton", { name: "billing.pay_invoice arrivals per second" });
  await rate.click();
  await rate.press("Control+a");
  for (const key of "250") {
    await rate.press(key);
    await page.waitForTimeout(150); // several re-renders between two keys
  }
  await page.waitForTimeout(400);
  assert.equal(await rate.inputValue(), "250", "the re-renders left the typing alone");
  await rate.press("Enter");
  await until(async () => (await page.locator(".last-result").textContent())?.includes("250 times a second"), "the rate to apply");
  await page.waitForTimeout(300);
  assert.equal(await rate.inputValue(), "250");

  const seed = page.getByRole("spinbutton", { name: "Seed" });
  await seed.click();
  await seed.press("Control+a");
  for (const key of "123") {
    await seed.press(key);
    await page.waitForTimeout(150);
  }
  assert.equal(await seed.inputValue(), "123");
  await seed.press("Enter");
  await until(async () => new URL(page.url()).searchParams.get("seed") === "123", "the address to carry the seed");
  assert.match(await page.locator(".info-note").textContent(), /Seed 123: the run starts again from 0 s/);
  await page.screenshot({ path: `${SHOTS}first-use-typing.png` });
});

test("2. a statement known to crash the engine is refused; an unknown crash costs nothing", async () => {
  await open();
  await page.locator("#play").click();
  await waitForClock(1);
  await pause();
  const sql = page.locator("#sim-sql");
  await sql.fill("SELECT REPEAT('a', -1)");
  await page.getByRole("button", { name: "Run in simulation" }).click();
  await page.getByRole("button", { name: "+100 ms" }).click(); // the console runs in simulated time
  await until(async () => (await page.locator(".console-line.failed .console-message").first().textContent().catch(() => ""))
    .includes("REPEAT with a negative count"), "the refusal");
  // A command to keep, then a statement whose negative count only shows when the row is read.
  const rate = page.getByRole("spinbutton", { name: "billing.pay_invoice arrivals per second" });
  await rate.fill("20");
  await rate.press("Enter");
  await until(async () => (await page.locator(".last-result").textContent())?.includes("20 times"), "the rate");
  // Paused, a statement waits for simulated time, and the console says so.
  await sql.fill("SELECT COUNT(*) FROM jobs");
  await page.getByRole("button", { name: "Run in simulation" }).click();
  assert.match(await page.locator(".console-paused").textContent(), /paused/);
  await page.getByRole("button", { name: "+100 ms" }).click();
  await page.locator(".console-paused").waitFor({ state: "detached" });
  const clock = await page.locator("#clock").textContent();
  const crash = "SELECT REPEAT('a', id - 100000) FROM orders WHERE id = 1";
  // Every time the clock shows from here on: the panels must not blink back to 0 s while
  // the run is replayed in a new worker.
  await page.evaluate(() => {
    window.__clocks = [];
    const clock = document.querySelector("#clock");
    new MutationObserver(() => window.__clocks.push(clock.textContent))
      .observe(clock, { childList: true, subtree: true, characterData: true });
  });
  await sql.fill(crash);
  await page.getByRole("button", { name: "Run in simulation" }).click();
  await page.getByRole("button", { name: "+100 ms" }).click().catch(() => {});
  // The page reloads itself and comes back where it was.
  const notice = await until(async () => {
    const text = await page.locator(".notice").textContent({ timeout: 500 }).catch(() => "");
    return text.includes("The SQL engine stopped") ? text : null;
  }, "the page to come back", 30_000);
  assert.match(notice, /id - 100000/);
  assert.match(notice, /capacity overflow/);
  assert.doesNotMatch(notice, /RefCell|\.rs:/);
  assert.match(notice, /paused/, "the notice says the run waits for play");
  // The run comes back where the crash found it: at the time shown, or at the end of the
  // 100 ms step that ran the statement (replayed in a new worker: a moment later).
  const before = Number.parseFloat(clock);
  await until(async () => (await clockSeconds()) >= before, "the run to be replayed");
  const back = await clockSeconds();
  assert.ok(back >= before && back <= before + 0.1 + 1e-9, `back at ${back} s, crashed at ${clock}`);
  const shown = await page.evaluate(() => window.__clocks);
  assert.ok(shown.every((t) => t === "" || Number.parseFloat(t) >= before - 0.1),
    `the clock stayed where the run was while it came back: ${shown.join(", ")}`);
  assert.equal(await rate.inputValue(), "20", "the other command was replayed");
  assert.equal(await page.locator("#sim-sql").inputValue(), crash, "what the user typed is still there");
  await page.screenshot({ path: `${SHOTS}first-use-crash-restored.png` });
  await page.getByRole("button", { name: "Dismiss the message" }).click();
  assert.equal(await page.locator(".notice").count(), 0, "the notice is put away");
  await page.locator("#play").click();
  await until(async () => (await page.locator("#clock").textContent()) !== clock, "the simulation to go on");
});

test("3. 'What this shows' is rendered Markdown", async () => {
  await open();
  await page.locator(".scenario-description summary").click();
  const body = page.locator(".scenario-description .markdown");
  assert.ok((await body.locator("em").count()) >= 1);
  assert.ok((await body.locator("strong").count()) >= 1);
  assert.ok((await body.locator("code").count()) >= 1);
  const text = await body.textContent();
  assert.ok(!text.includes("**") && !text.includes("`"), text);
});

/** The scenario alter-queue scrubbed to 2.550 s: the ALTER waits for the report. */
async function alterQueueAt2550() {
  await open("?scenario=alter-queue");
  await scrubTo(2550);
  await until(async () => (await page.locator("#clock").textContent()) === "2.550 s", "2.550 s");
}

test("4. the waits-for graph shows every label whole, no overlap, the root on top", async () => {
  await alterQueueAt2550();
  const nodes = await page.locator(".waits-for .wf-node").evaluateAll((groups) =>
    groups.map((g) => {
      const rect = g.querySelector("rect").getBBox();
      const text = g.querySelector("text").getBBox();
      const m = g.transform.baseVal.consolidate().matrix;
      return {
        label: g.querySelector("text").textContent,
        x: rect.x + m.e, y: rect.y + m.f, w: rect.width, h: rect.height,
        fits: text.x >= rect.x - 0.5 && text.x + text.width <= rect.x + rect.width + 0.5,
      };
    }));
  assert.ok(nodes.length >= 3, JSON.stringify(nodes));
  for (const n of nodes) {
    assert.ok(n.fits, `label cut: ${n.label}`);
    assert.ok(!n.label.includes("…"), `label shortened: ${n.label}`);
  }
  for (let i = 0; i < nodes.length; i++)
    for (let j = i + 1; j < nodes.length; j++) {
      const [a, b] = [nodes[i], nodes[j]];
      const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
      assert.ok(apart, `${a.label} overlaps ${b.label}`);
    }
  const report = nodes.find((n) => n.label.startsWith("reporting"));
  const alter = nodes.find((n) => n.label.startsWith("(timeline)"));
  assert.ok(report && alter && report.y < alter.y, "the report (root) above the ALTER waiting for it");
  // The locks table's statements are whole and need no sideways scrolling.
  const cut = await page.locator(".locks-panel .table-scroll").evaluateAll((boxes) =>
    boxes.filter((b) => b.scrollWidth > b.clientWidth + 1).length);
  assert.equal(cut, 0, "the locks table fits its panel");
  const statements = await page.locator(".lock-table .lock-sql code").allTextContents();
  assert.ok(statements.some((s) => s.startsWith("ALTER TABLE orders ADD COLUMN note TEXT NULL")), statements.join(" | "));
  await page.locator(".locks-panel").screenshot({ path: `${SHOTS}first-use-waits-for.png` });
});

test("5. the lock-wait timeline says what it shows and keeps the holder", async () => {
  await alterQueueAt2550();
  const ticks = await page.locator(".gantt .tick").allTextContents();
  assert.deepEqual(ticks, ["0 s", "now (2.550 s)"]);
  const holders = await page.locator(".gantt-row.holder .gantt-label").allTextContents();
  assert.ok(holders.some((h) => h.startsWith("reporting")), `holders: ${holders}`);
});

test("6. a scripted scenario narrates its steps, fits its hints, and ← takes a step back", async () => {
  await page.goto(`${serverUrl()}?scenario=lost-update`);
  await page.locator(".script-view").waitFor();
  assert.match(await page.locator(".event-log .quiet").textContent(), /Next step/);
  assert.doesNotMatch(await page.locator(".sim-console").textContent(), /orders/);
  assert.match(await page.locator("#sim-sql").getAttribute("placeholder"), /accounts/);
  for (let i = 0; i < 6; i++) await page.locator("body").press("n");
  // Bob's update waits for Alice's row lock: the log says so.
  const wait = await until(async () => {
    const lines = await page.locator(".log-line.lock .log-text").allTextContents();
    return lines.find((l) => l.startsWith("bob waits"));
  }, "bob's wait in the log");
  assert.match(wait, /alice/);
  const steps = async () => page.locator(".script-table .step-card.pending").count();
  const before = await steps();
  await page.locator("body").press("ArrowLeft");
  await until(async () => (await steps()) === before + 1, "one step taken back");
  await page.screenshot({ path: `${SHOTS}first-use-script.png`, fullPage: true });
});

test("6. play in a script issues its steps one by one, and → issues the next", async () => {
  await page.goto(`${serverUrl()}?scenario=deadlock`);
  await page.locator(".script-view").waitFor();
  const pending = async () => page.locator(".script-table .step-card.pending").count();
  const before = await pending();
  await page.locator("body").press("ArrowRight");
  await until(async () => (await pending()) === before - 1, "→ to issue a step");
  await page.locator("#play").click();
  await until(async () => (await pending()) <= before - 3, "play to issue steps", 15_000);
  await page.locator("#play").click();
});

test("7. on a 390 px phone the whole topology is on screen", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await open();
  const box = await page.locator(".topology .node.database rect").first().boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `database box ${JSON.stringify(box)}`);
  const svg = await page.locator(".topology > svg").boundingBox();
  assert.ok(svg.x + svg.width <= 390, `topology ${JSON.stringify(svg)}`);
  const name = await page.locator(".topology .node-name").first().boundingBox();
  assert.ok(name.height >= 11, `text stays readable: ${name.height}px`);
  await page.screenshot({ path: `${SHOTS}first-use-390.png`, fullPage: true });
});

test("8. the default scenario shows its point within 10 simulated seconds", async () => {
  await open();
  // The "Watch" line would give the lesson's question away: it shows once the student answers
  // it or skips it.
  assert.equal(await page.locator(".scenario-watch").count(), 0);
  await page.getByRole("button", { name: "Skip the question" }).click();
  assert.match(await page.locator(".scenario-watch").textContent(), /Watch/);
  await page.locator(".transport select").selectOption({ label: "4×" });
  await page.locator("#play").click();
  const seen = await until(async () => {
    const bad = await page.locator(".topology .node.service.slow, .topology .node.service.waiting, .topology .node.service.erroring").count();
    const waits = await page.locator(".log-line.lock").count();
    if (bad + waits > 0) return { bad, waits, at: await clockSeconds() };
    assert.ok((await clockSeconds()) <= 10, "nothing happened in the first 10 s");
    return null;
  }, "a service not healthy or a lock wait", 60_000);
  assert.ok(seen.at <= 10.5, JSON.stringify(seen));
  await pause();
  await page.screenshot({ path: `${SHOTS}first-use-default.png`, fullPage: true });
});

test("9. each database's isolation level can be switched, same seed, from 0 s", async () => {
  await open("?scenario=report-vs-writers&seed=11");
  const choice = page.getByRole("combobox", { name: "Isolation level of shop" });
  assert.equal(await choice.inputValue(), "two_phase_locking");
  await page.locator("#play").click();
  await waitForClock(1);
  await choice.selectOption("repeatable_read");
  await until(async () => (await page.locator(".info-note").textContent())?.includes("REPEATABLE READ"), "the note");
  assert.equal(await page.locator("#clock").textContent(), "0.000 s");
  const url = new URL(page.url());
  assert.equal(url.searchParams.get("isolation"), "shop:repeatable_read");
  assert.equal(url.searchParams.get("seed"), "11");
  await page.reload();
  await page.locator(".topology > svg").waitFor();
  assert.equal(await page.getByRole("combobox", { name: "Isolation level of shop" }).inputValue(), "repeatable_read");
  // An old link's `snapshot` still opens, as REPEATABLE READ.
  await open("?scenario=report-vs-writers&seed=11&isolation=shop:snapshot");
  assert.equal(await page.getByRole("combobox", { name: "Isolation level of shop" }).inputValue(), "repeatable_read");
});

test("10. modes and labels explain themselves; the help covers the panels and closes with Esc", async () => {
  await alterQueueAt2550();
  const title = await page.locator(".lock-table td.mode").first().getAttribute("title");
  assert.match(title, /conflicts with/);
  assert.match(await page.locator(".waits-for .wf-node title").first().textContent(), /transaction|client/);
  await page.locator("body").press("?");
  const help = page.locator(".help-dialog");
  await help.waitFor();
  const text = await help.textContent();
  for (const word of ["Topology", "Locks", "ACCESS EXCLUSIVE", "FOR NO KEY UPDATE", "(timeline) shop", "slow"])
    assert.ok(text.includes(word), `the help explains ${word}`);
  await page.screenshot({ path: `${SHOTS}first-use-help.png` });
  await page.keyboard.press("Escape");
  await help.waitFor({ state: "detached" });
  // Actions answer in sentences, not "ok".
  await page.getByRole("button", { name: /^Pause storefront/ }).click();
  assert.match(await page.locator(".last-result").textContent(), /storefront is paused/);
});

test("11. a link copied at 12.3 s, seed 7, 4× reopens there, paused, with the same totals", async () => {
  await open("?seed=7");
  await page.locator(".transport select").selectOption({ label: "4×" });
  await page.locator("#play").click();
  await waitForClock(12.3);
  await pause();
  await scrubTo(12300);
  await until(async () => (await page.locator("#clock").textContent()) === "12.300 s", "12.3 s");
  const link = page.url();
  const totals = await page.locator(".chart-totals").allTextContents();
  const url = new URL(link);
  assert.equal(url.searchParams.get("t"), "12.3s");
  assert.equal(url.searchParams.get("seed"), "7");
  assert.equal(url.searchParams.get("speed"), "4");
  const other = await context.newPage();
  await other.goto(link);
  await other.locator(".topology > svg").waitFor();
  // (The run's worker goes to the link's time as the page opens.)
  await poll(other, async () => (await other.locator("#clock").textContent()) === "12.300 s", "the link's time");
  assert.equal(await other.getByRole("spinbutton", { name: "Seed" }).inputValue(), "7");
  assert.equal(await other.locator(".transport select").inputValue(), "2");
  assert.equal(await other.locator("#play").getAttribute("aria-pressed"), "false");
  assert.deepEqual(await other.locator(".chart-totals").allTextContents(), totals);
  await other.close();
});

test("11. a link to a late time is replayed with progress, without freezing the page", async () => {
  await page.goto(`${serverUrl()}?t=90s&seed=3`);
  await page.locator("#play").waitFor();
  // The transport says how far the replay has got, in the scrubber's place, and takes no
  // other action meanwhile; the clock shows the time the panels show.
  const note = page.locator(".replay-note");
  await note.waitFor();
  assert.match(await note.textContent(), /Replaying the run to 1:30\.000… \d+ %/);
  assert.ok(await page.locator("#play").isDisabled(), "play waits for the replay");
  const top = (await page.locator(".sim-grid").boundingBox()).y;
  await until(async () => (await page.locator("#clock").textContent()) === "1:30.000", "the replay to end", 120_000);
  assert.equal(await note.count(), 0);
  assert.equal(await page.locator(".info-note").count(), 0);
  assert.ok(Math.abs((await page.locator(".sim-grid").boundingBox()).y - top) < 2, "the panels did not move when the replay ended");
  assert.ok(!(await page.locator("#play").isDisabled()));
  assert.equal(await page.locator("#play").getAttribute("aria-pressed"), "false");
});

test("11. the presentation layout shows the topology and the locks side by side on a projector", async () => {
  // 1280 × 720 at 150 % zoom.
  await page.setViewportSize({ width: 853, height: 480 });
  await open("?scenario=alter-queue");
  await page.getByRole("button", { name: "Present" }).click();
  await page.locator(".simulator.present").waitFor();
  assert.equal(new URL(page.url()).searchParams.get("present"), "1");
  const topology = await page.locator(".topology-panel").boundingBox();
  const locks = await page.locator(".locks-panel").boundingBox();
  assert.ok(locks.x >= topology.x + topology.width - 1, "locks to the right of the topology");
  assert.ok(locks.y < topology.y + topology.height, "side by side, not below");
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: `${SHOTS}first-use-projector-dark.png`, fullPage: true });
});

test("12. the page shows progress while it builds, and play works once it is up", async () => {
  await page.addInitScript(() => {
    window.__seen = [];
    // What the page says while its run is built in the worker (cheap: added nodes only).
    new MutationObserver(() => {
      const note = document.querySelector(".starting-note");
      if (note && !window.__seen.includes(note.textContent)) window.__seen.push(note.textContent);
    }).observe(document, { childList: true, subtree: true });
  });
  const started = Date.now();
  await page.goto(serverUrl());
  await page.locator("#play").waitFor();
  const shown = Date.now() - started;
  await page.locator(".topology > svg").waitFor();
  const ready = Date.now() - started;
  const seen = await page.evaluate(() => window.__seen);
  assert.ok(seen.some((t) => /Building the run/.test(t)), `progress shown: ${JSON.stringify(seen)}`);
  await page.locator("#play").click();
  await waitForClock(0.5);
  console.log(`navigation → play shown: ${shown} ms, → the run's panels: ${ready} ms (not asserted; see make bench-page)`);
});
