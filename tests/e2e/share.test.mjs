// Page tests of sharing a run (issue 15): the link carries the student's own actions at their
// simulated times, and opening it elsewhere replays them to the same fingerprint (trace hash).
// A link whose recorded actions were cut short or changed is said so, and the run goes on
// without them. Screenshots go to target/screenshots/.
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

const share = (p) => p.getByRole("region", { name: "Share this run" });

/** Opens the share panel of `p` and reads its link and fingerprint. */
async function shared(p) {
  if ((await share(p).count()) === 0) await p.getByRole("button", { name: "Share", exact: true }).click();
  await share(p).waitFor();
  return {
    link: await share(p).getByRole("textbox", { name: "Link to this run" }).inputValue(),
    fingerprint: (await share(p).locator(".fingerprint").textContent()).trim(),
    text: await share(p).textContent(),
  };
}

test("a shared link replays the student's three actions to the same fingerprint", async () => {
  await page.goto(`${session.server.url}?scenario=shop`);
  await page.locator("#play").click();
  await waitForClock(page, 1);
  await page.locator("#play").click();
  // Three actions at three moments: a rate, a service paused, an operation stopped.
  const rate = page.getByRole("spinbutton", { name: "billing.pay_invoice arrivals per second" });
  await rate.fill("120");
  await rate.press("Enter");
  await page.getByRole("button", { name: "+100 ms" }).click();
  await page.getByRole("button", { name: "Pause shipping" }).click();
  await page.getByRole("button", { name: "+100 ms" }).click();
  await page.getByRole("button", { name: "Stop orders.update_status" }).click();
  await page.getByRole("button", { name: "+100 ms" }).click();
  const mine = await shared(page);
  assert.match(mine.text, /your 3 actions replayed at their times/);
  assert.match(mine.fingerprint, /^[0-9a-f]{16}$/);
  const url = new URL(mine.link);
  assert.equal(url.searchParams.get("scenario"), "shop");
  assert.ok(url.searchParams.get("run"), "the actions are in the link");
  assert.ok(mine.link.length < 8 * 1024, `${mine.link.length} bytes`);
  await page.screenshot({ path: `${SHOTS}share-panel.png`, fullPage: false });
  assert.deepEqual(await axeViolations(page), []);

  // Someone else opens it: a fresh browser context, no storage shared.
  const context = await session.browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const theirs = await context.newPage();
    await theirs.goto(mine.link);
    await theirs.locator("#clock").waitFor();
    const replayed = await shared(theirs);
    assert.equal(replayed.fingerprint, mine.fingerprint, "the same run, to the same moment");
    assert.match(replayed.text, /your 3 actions/);
    // What the actions did is on their screen too.
    assert.equal(await theirs.getByRole("spinbutton", { name: "billing.pay_invoice arrivals per second" }).inputValue(), "120");
    assert.equal(await theirs.getByRole("button", { name: "Resume shipping" }).count(), 1);
    assert.equal(await theirs.getByRole("button", { name: "Start orders.update_status" }).count(), 1);
  } finally {
    await context.close();
  }

  // A reload keeps the actions too: the address is the link.
  await page.reload();
  await page.locator("#clock").waitFor();
  assert.equal((await shared(page)).fingerprint, mine.fingerprint);
});

test("a link whose recorded actions were changed says so, and the run starts without them", async () => {
  await page.goto(`${session.server.url}?scenario=shop&seed=7&run=not-what-the-page-wrote`);
  const notice = page.locator(".notice");
  await notice.waitFor();
  assert.match(await notice.textContent(), /recorded actions cannot be read/);
  // The rest of the link holds, and the page plays.
  assert.equal(await page.getByRole("spinbutton", { name: "Seed" }).inputValue(), "7");
  await page.locator("#play").click();
  await waitForClock(page, 1);
  assert.match((await shared(page)).text, /no actions of yours/);
});

test("opening the share panel pauses the run: a link is of one moment", async () => {
  await page.goto(`${session.server.url}?scenario=shop`);
  await page.locator("#play").click();
  await waitForClock(page, 1);
  const first = await shared(page);
  await page.waitForTimeout(500);
  const again = await shared(page);
  assert.equal(again.link, first.link);
  assert.equal(await page.locator("#play").getAttribute("aria-pressed"), "false");
  await poll(page, async () => (await share(page).getByRole("button", { name: "Copy link" }).count()) === 1, "the copy button");
});
