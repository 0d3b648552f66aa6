// Page tests of the lessons (issue 14): open four lessons, answer the prediction, run them, see
// their checkpoints turn green and the answer revealed, and take a screenshot at the moment the
// effect shows. Screenshots go to target/screenshots/.
import { test, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { SHOTS, startBrowser, pagePerTest, until as poll, waitForClock, axeViolations } from "./harness.mjs";

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
const lesson = () => page.getByRole("region", { name: "Lesson" });
const checkpoints = () => page.getByRole("region", { name: "Checkpoints" });

/** Opens a lesson at `speed` (a label of the speed chooser) and answers its question. */
async function openAndPredict(name, choice, speed) {
  await page.goto(`${session.server.url}?scenario=${name}`);
  await lesson().waitFor();
  if (speed) await page.locator(".transport select").selectOption({ label: speed });
  assert.match(await lesson().textContent(), /Course text:/);
  assert.match(await lesson().locator(".lesson-status").textContent(), /Choose an answer/);
  // Nothing is revealed before a prediction and a run: not the answer, not the checkpoints'
  // captions, not the scenario's "Watch" line.
  assert.equal(await lesson().locator(".lesson-choice.right").count(), 0);
  assert.equal(await checkpoints().locator(".checkpoint").count(), 0);
  assert.match(await checkpoints().textContent(), /once you have answered/);
  assert.equal(await page.locator(".scenario-watch").count(), 0);
  const choices = lesson().getByRole("radio");
  await choices.nth(choice).click();
  assert.equal(await choices.nth(choice).getAttribute("aria-checked"), "true");
  assert.match(await lesson().locator(".lesson-status").textContent(), /Noted/);
  // Each checkpoint says its state in words and when it is judged; the rules as written show on
  // request.
  await checkpoints().locator(".checkpoint").first().waitFor();
  assert.match(await checkpoints().locator(".checkpoint-state").first().textContent(), /not yet|waiting|holding so far|reached/);
  assert.equal(await checkpoints().locator(".checkpoint-that").count(), 0);
  await checkpoints().getByRole("button", { name: "Show the rules" }).click();
  assert.ok((await checkpoints().locator(".checkpoint-that").count()) > 0);
}

const count = (selector) => checkpoints().locator(selector).count();

async function allGreen(total, timeout) {
  await until(async () => (await count(".checkpoint.pass")) === total, `${total} checkpoints reached`, timeout);
  assert.equal(await count(".checkpoint.fail"), 0);
  assert.match(await checkpoints().textContent(), new RegExp(`${total} of ${total} reached`));
}

test("alter-queue: the lookups' checkpoint turns green as they queue behind the ALTER", async () => {
  await openAndPredict("alter-queue", 1);
  assert.equal(await count(".checkpoint"), 3);
  assert.equal(await count(".checkpoint.pass"), 0, "nothing is reached at 0 s");
  await page.locator("#play").click();
  // Lock waits start at 2.5 s: the growing count settles as soon as it crosses 100 ms.
  const lockWait = checkpoints().locator(".checkpoint", { hasText: "total lock wait" });
  await until(async () => (await lockWait.getAttribute("class")).includes("pass"), "the lock-wait checkpoint", 30_000);
  await page.screenshot({ path: `${SHOTS}lesson-alter-queue.png`, fullPage: false });
  await allGreen(3, 30_000);
  // The phase is over: the answer shows, and the student was right.
  await until(async () => (await lesson().locator(".lesson-choice.right").count()) === 1, "the answer");
  assert.match(await lesson().locator(".lesson-status").textContent(), /You predicted it/);
  assert.match(await lesson().locator(".lesson-explain").textContent(), /ACCESS EXCLUSIVE/);
  await page.locator("#play").click();
});

test("report-vs-writers: a wrong prediction is corrected once the run has shown it", async () => {
  await openAndPredict("report-vs-writers", 0, "max");
  await page.locator("#play").click();
  await until(async () => (await count(".checkpoint.pass")) >= 1, "the writers' lock waits", 20_000);
  await allGreen(2, 60_000);
  await until(async () => (await lesson().locator(".lesson-choice.wrong").count()) === 1, "the wrong answer marked");
  assert.match(await lesson().locator(".lesson-status").textContent(), /Not quite: the run shows “Some writers wait/);
  assert.equal(await lesson().locator(".lesson-choice.right").count(), 1);
  // Answered: the choices are closed.
  assert.equal(await lesson().getByRole("radio").first().isDisabled(), true);
  await page.locator("#play").click();
  await page.screenshot({ path: `${SHOTS}lesson-report-vs-writers.png`, fullPage: false });
});

/** Issues a scripted lesson's steps one by one (N) until its script ends. */
async function stepThrough() {
  const next = page.locator(".script-controls button.primary");
  const steps = page.locator(".script-view");
  for (let i = 0; i < 20; i++) {
    if (await next.isDisabled()) return;
    const before = await steps.innerHTML();
    await next.click();
    // The run answers from its worker: the step shows a moment later.
    await until(async () => (await steps.innerHTML()) !== before, "the step to show");
  }
  assert.fail("the script never ended");
}

test("lost-update: stepping through, the lost deposit is measured and the answer shown", async () => {
  await openAndPredict("lost-update", 2);
  const lost = checkpoints().locator(".checkpoint", { hasText: "Alice's" });
  assert.doesNotMatch(await lost.getAttribute("class"), /pass/);
  await stepThrough();
  await allGreen(2, 10_000);
  assert.match(await lost.textContent(), /120 == 120/);
  await until(async () => (await lesson().locator(".lesson-choice.right").count()) === 1, "the answer");
  assert.match(await lesson().locator(".lesson-status").textContent(), /You predicted it/);
  await page.screenshot({ path: `${SHOTS}lesson-lost-update.png`, fullPage: false });
});

test("deadlock: one cycle found, one transfer aborted, no money lost", async () => {
  await openAndPredict("deadlock", 2);
  await stepThrough();
  await allGreen(3, 10_000);
  assert.match(await checkpoints().textContent(), /deadlocks\(bank\) == 1/);
  await page.screenshot({ path: `${SHOTS}lesson-deadlock.png`, fullPage: false });
});

test("tight-coupling: the preview names the services the rename breaks, and exactly those break", async () => {
  await openAndPredict("tight-coupling", 1, "4×");
  // The coupling map: orders.status is read by billing and shipping, not by support.
  const map = page.getByRole("table", { name: "Who reads and writes what in shop" });
  const status = map.getByRole("row", { name: /^status/ });
  const services = await map.locator("thead th").allTextContents();
  const marks = await status.locator("td").allTextContents();
  const mark = (service) => marks[services.indexOf(service) - 1].trim();
  assert.equal(mark("billing"), "R");
  assert.equal(mark("shipping"), "R");
  assert.equal(mark("support"), "");
  // Preview the rename before it runs: the lock, and who breaks.
  await page.getByRole("button", { name: /^Now: ALTER TABLE orders RENAME/ }).click();
  const preview = page.getByRole("region", { name: "Schema change preview" });
  await preview.waitFor();
  const said = await preview.textContent();
  assert.match(said, /ACCESS EXCLUSIVE on orders/);
  assert.match(said, /billing\.invoice_paid/);
  assert.match(said, /shipping\.to_ship/);
  assert.doesNotMatch(said, /support/);
  assert.match(await status.getAttribute("class"), /touched/);
  await preview.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await preview.count(), 0);
  await page.locator("#play").click();
  await allGreen(5, 40_000);
  await until(async () => (await lesson().locator(".lesson-choice.right").count()) === 1, "the answer");
  // After the rename the map keeps the evidence: status, gone, still read by billing.
  const gone = map.getByRole("row", { name: /^status \(gone\)/ });
  await until(async () => (await gone.count()) === 1, "the renamed column shown as gone");
  const after = await map.locator("thead th").allTextContents();
  const goneMarks = await gone.locator("td").allTextContents();
  assert.equal(goneMarks[after.indexOf("billing") - 1].trim(), "R");
  assert.equal(goneMarks[after.indexOf("shipping") - 1].trim(), "R");
  assert.equal(goneMarks[after.indexOf("support") - 1].trim(), "");
  // The prediction is final once the run has started.
  assert.ok(await lesson().getByRole("radio").first().isDisabled());
  await page.screenshot({ path: `${SHOTS}lesson-tight-coupling.png`, fullPage: false });
  // The lesson's own colours (checkpoints, the map's marks, the broken services) read well.
  assert.deepEqual(await axeViolations(page), []);
});

test("expand-contract: once the readers have moved, dropping the old column breaks nobody", async () => {
  await openAndPredict("expand-contract", 0, "4×");
  await page.locator("#play").click();
  await waitForClock(page, 13);
  await page.locator("#play").click();
  const drop = page.getByRole("button", { name: /^Now: ALTER TABLE orders DROP COLUMN/ });
  const preview = page.getByRole("region", { name: "Schema change preview" });
  // At 13 s the readers have moved, but the owner's v2 still writes status.
  await drop.click();
  assert.match(await preview.textContent(), /orders\.pay_v2/);
  assert.doesNotMatch(await preview.textContent(), /billing|shipping/);
  await preview.getByRole("button", { name: "Cancel" }).click();
  await page.locator("#play").click();
  await waitForClock(page, 20.5);
  await page.locator("#play").click();
  await drop.click();
  assert.match(await preview.textContent(), /nothing should break/);
  await preview.getByRole("button", { name: "Cancel" }).click();
  // The coupling map: billing now reads state, and nobody reads status.
  const map = page.getByRole("table", { name: "Who reads and writes what in shop" });
  const services = await map.locator("thead th").allTextContents();
  const marks = async (column) => map.getByRole("row", { name: new RegExp(`^${column}`) }).locator("td").allTextContents();
  assert.equal((await marks("state"))[services.indexOf("billing") - 1].trim(), "R");
  assert.equal((await marks("status"))[services.indexOf("billing") - 1].trim(), "");
  await page.locator("#play").click();
  await allGreen(5, 40_000);
  await page.screenshot({ path: `${SHOTS}lesson-expand-contract.png`, fullPage: false });
});

test("compat-view: the readers' unchanged SQL reads the old names through a view after the rename", async () => {
  await openAndPredict("compat-view", 2, "4×");
  await page.locator("#play").click();
  await allGreen(8, 40_000);
  await until(async () => (await lesson().locator(".lesson-choice.right").count()) === 1, "the answer");
  // The map: the readers on the view's status, the owner's new code on the table's state.
  const map = page.getByRole("table", { name: "Who reads and writes what in shop" });
  const services = await map.locator("thead th").allTextContents();
  const marks = async (column) => map.getByRole("row", { name: new RegExp(`^${column}`) }).locator("td").allTextContents();
  await until(async () => (await map.getByRole("row", { name: /^state/ }).count()) === 1, "orders_v2.state in the map");
  assert.equal((await marks("status"))[services.indexOf("billing") - 1].trim(), "R");
  assert.equal((await marks("status"))[services.indexOf("shipping") - 1].trim(), "R");
  assert.match((await marks("state"))[services.indexOf("orders") - 1].trim(), /W/);
  assert.equal((await marks("state"))[services.indexOf("billing") - 1].trim(), "");
  assert.equal(await map.getByRole("row", { name: /\(gone\)/ }).count(), 0);
  await page.screenshot({ path: `${SHOTS}lesson-compat-view.png`, fullPage: false });
});

test("lost-field: the old job never fails, and the phones it rewrites away are counted", async () => {
  await openAndPredict("lost-field", 2, "4×");
  await page.locator("#play").click();
  await allGreen(4, 40_000);
  await until(async () => (await lesson().locator(".lesson-choice.right").count()) === 1, "the answer");
  assert.match(await checkpoints().textContent(), /gone from their rows/);
  await page.screenshot({ path: `${SHOTS}lesson-lost-field.png`, fullPage: false });
});

test("as-systems-scale: after the prediction, Sweep scale charts the damage growing with the readers", async () => {
  await page.goto(`${session.server.url}?scenario=as-systems-scale`);
  await lesson().waitFor();
  // The sweep would give the answer away: it is offered once the question is answered.
  assert.equal(await page.getByRole("button", { name: "Sweep scale" }).count(), 0);
  await lesson().getByRole("radio").nth(1).click();
  // The answer is in how the figures grow: a run at one scale does not show it.
  assert.match(await lesson().locator(".lesson-status").textContent(), /Sweep scale/);
  await page.getByRole("button", { name: "Sweep scale" }).click();
  const panel = page.getByRole("region", { name: "As the system scales" });
  await panel.waitFor({ timeout: 60_000 });
  assert.equal(await lesson().locator(".lesson-choice.right").count(), 1);
  assert.match(await lesson().locator(".lesson-status").textContent(), /the sweep shows the same/);
  const table = panel.getByRole("table");
  const rows = await table.locator("tbody tr").allTextContents();
  assert.equal(rows.length, 4);
  const broken = await table.locator("tbody tr td:nth-child(2)").allTextContents();
  assert.deepEqual(broken.map(Number), [1, 2, 4, 8]);
  const waits = (await table.locator("tbody tr td:nth-child(5)").allTextContents()).map(Number);
  assert.ok(waits[3] > waits[0], `lock waits grow: ${waits}`);
  // Each chart says its bars in words.
  const label = await panel.locator("svg").first().getAttribute("aria-label");
  assert.match(label, /1 × reader: 1.*8 × reader: 8/);
  await page.screenshot({ path: `${SHOTS}lesson-as-systems-scale-sweep.png`, fullPage: false });
  assert.deepEqual(await axeViolations(page), []);
  await panel.getByRole("button", { name: "Close" }).click();
  assert.equal(await panel.count(), 0);
});

test("evolution-path: the answer waits for the stages side by side; in cdc each service's map is its own database", async () => {
  await page.goto(`${session.server.url}?scenario=evolution-path`);
  await lesson().waitFor();
  await lesson().getByRole("radio").nth(2).click();
  assert.match(await lesson().locator(".lesson-status").textContent(), /Compare modes.*0 of 4/);
  // Stage 3: the readers read their own copies, kept by the pipeline.
  await page.getByRole("group", { name: "Integration mode" }).getByRole("button", { name: "cdc" }).click();
  await until(async () => (await page.getByRole("table", { name: "Who reads and writes what in billing" }).count()) === 1, "billing's own database in the map");
  const billing = page.getByRole("table", { name: "Who reads and writes what in billing" });
  assert.match(await billing.textContent(), /a read model: a copy the pipeline keeps/);
  const heads = await billing.locator("thead th").allTextContents();
  const copy = billing.locator("tbody", { hasText: "a read model" });
  assert.match(await copy.locator(".coupling-group").textContent(), /^orders/);
  const status = await copy.getByRole("row", { name: /^status/ }).locator("td").allTextContents();
  assert.equal(status[heads.indexOf("billing") - 1].trim(), "R");
  assert.equal(await page.getByRole("table", { name: "Who reads and writes what in shop" }).count(), 0);
  // The prediction is kept across the stages; the comparison shows the answer.
  assert.equal(await lesson().locator(".lesson-choice.chosen").count(), 1);
  assert.equal(await lesson().locator(".lesson-choice.right").count(), 0);
  await page.getByRole("button", { name: "Compare modes" }).click();
  await until(async () => (await lesson().locator(".lesson-choice.right").count()) === 1, "the answer after the comparison", 60_000);
  assert.match(await lesson().locator(".lesson-status").textContent(), /the comparison shows the same/);
  // The rename comes at 20 s: the comparison runs the lesson to its end, even from 0 s.
  assert.match(await page.locator(".compare-bar").textContent(), /afresh to 40s/);
  const notes = await page.locator(".compare .compare-hint").last().textContent();
  assert.match(notes, /Run fingerprints/);
  assert.equal(await page.locator(".scorecard tbody tr", { hasText: /^trace/ }).count(), 0);
  await page.screenshot({ path: `${SHOTS}lesson-evolution-path-compare.png`, fullPage: false });
});
