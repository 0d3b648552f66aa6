// Page tests of the events mode (issue 13): switch the shop to events and read an Avro event in
// the message viewer; try an incompatible schema change and see it refused with the consumers
// named, then register a compatible one; crash a dual write's publisher between commit and
// publish and watch the checker find the rows lost; crash the outbox relay and watch the checker
// end green. Screenshots go to target/screenshots/.
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

/** Opens the shop and switches it to events with the scenario bar's switch. */
async function openEvents() {
  await page.goto(`${session.server.url}?scenario=shop`);
  await page.locator(".simulator .topology > svg").first().waitFor();
  const modes = page.getByRole("group", { name: "Integration mode" });
  await modes.getByRole("button", { name: "events" }).click();
  await page.getByRole("heading", { name: "Outbox relay and domain events" }).waitFor();
}

async function play() {
  if ((await page.locator("#play").getAttribute("aria-pressed")) !== "true") {
    await page.locator("#play").click();
  }
}

async function pause() {
  if ((await page.locator("#play").getAttribute("aria-pressed")) === "true") {
    await page.locator("#play").click();
  }
}

const checker = () => page.getByLabel("invariant checker", { exact: true });

test("the shop in events: domain events flow as Avro, with their headers and sizes", async () => {
  await openEvents();
  assert.match(page.url(), /mode=events/, "the link carries the mode");
  await play();
  await waitForClock(2);
  await pause();
  const topic = page.locator(".pipe-card.topic", { hasText: "outbox.event.order" });
  await topic.getByRole("button", { name: "View messages" }).click();
  const first = page.locator(".messages .message").first();
  await first.waitFor();
  const head = await first.locator(".message-head").textContent();
  assert.match(head, /Order(Placed|Updated)/, head);
  const sizes = head.match(/Avro (\d+) B \(JSON (\d+) B\)/);
  assert.ok(sizes, `the sizes: ${head}`);
  assert.ok(Number(sizes[1]) < Number(sizes[2]), `Avro smaller than JSON: ${head}`);
  await first.locator(".message-head").click();
  const facts = await page.getByLabel("avro facts").textContent();
  assert.match(facts, /schema id \d+/);
  assert.match(facts, /id = \d+, type = Order/);
  await page.screenshot({ path: `${SHOTS}events-messages.png`, fullPage: false });
});

test("an incompatible schema change is refused with the consumers named; a compatible one registers", async () => {
  await openEvents();
  const registry = page.locator(".registry-panel");
  await registry.scrollIntoViewIfNeeded();
  await registry.getByLabel("subject").selectOption("outbox.event.order-value");
  const draft = registry.getByLabel("schema draft");
  const schema = JSON.parse(await draft.inputValue());
  assert.ok(schema.fields.some((f) => f.name === "total_cents"), "version 1 is the orders' columns");
  schema.fields.push({ name: "coupon", type: "string" });
  await draft.fill(JSON.stringify(schema, null, 2));
  const preview = registry.getByLabel("schema change preview");
  await until(async () => /Would be refused/.test(await preview.textContent()), "the preview's verdict");
  assert.match(await preview.textContent(), /coupon.*breaks BACKWARD/s);
  await registry.getByRole("button", { name: "Register" }).click();
  const answer = registry.getByLabel("registry answer");
  await until(async () => /Not done/.test((await answer.textContent()) ?? ""), "the refusal");
  const refusal = await answer.textContent();
  for (const needle of ["BACKWARD", "coupon", "billing", "reporting"]) {
    assert.ok(refusal.includes(needle), `${needle} in: ${refusal}`);
  }
  await page.screenshot({ path: `${SHOTS}events-registry-refused.png`, fullPage: false });
  schema.fields[schema.fields.length - 1].default = "none";
  await draft.fill(JSON.stringify(schema, null, 2));
  await until(async () => /accepts it/.test(await preview.textContent()), "the compatible verdict");
  await registry.getByRole("button", { name: "Register" }).click();
  await until(async () => /version 2/.test((await answer.textContent()) ?? ""), "version 2");
  assert.match(await registry.locator(".registry-subjects").textContent(), /v2 \(id \d+\)/);
});

test("a dual write's crash between commit and publish: the checker finds the rows lost", async () => {
  await page.goto(`${session.server.url}?scenario=dual-write&speed=4`);
  await page.getByRole("heading", { name: "Change data capture" }).waitFor();
  await play();
  await waitForClock(3);
  // Three crashes between commit and publish, each losing what was committed and not yet
  // published (the service publishes again at once).
  const card = page.locator(".pipe-card.connector");
  for (const at of [3.5, 4, 4.5]) {
    await card.getByRole("button", { name: "Crash" }).click();
    await waitForClock(at);
  }
  await checker().getByRole("button", { name: "Stop the sources and drain" }).click();
  await play();
  await until(async () => (await page.locator(".checker.broken").count()) > 0, "a final red verdict", 40_000);
  await pause();
  // Paused, the checker is taken again at the time shown (while playing it is taken about once
  // a wall second, so the one shown may be older than the clock): step on until it is final.
  const shownUs = async () => Number(await page.locator("#clock").getAttribute("data-shown-us"));
  for (let step = 0; ; step++) {
    const before = await shownUs();
    await page.getByRole("button", { name: "+100 ms" }).click();
    await until(async () => (await shownUs()) > before, "the step's answer");
    if ((await page.locator(".checker.broken").count()) > 0) break;
    assert.ok(step < 100, "a final red verdict, paused");
  }
  await checker().scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}dual-write-checker.png`, fullPage: false });
  const text = await checker().textContent();
  assert.match(text, /Quiet, and \d+ rows? differs?/);
  const counts = text.match(/(\d+) missing, (\d+) extra, (\d+) differing/);
  assert.ok(counts && Number(counts[1]) + Number(counts[3]) > 0, `rows lost or out of order: ${text}`);
  assert.ok((await checker().locator(".checker-rows tbody tr").count()) > 0, "the rows are named");
});

test("under events the relay's crash loses nothing: the checker ends green", async () => {
  await page.goto(`${session.server.url}?scenario=dual-write&mode=events&speed=4`);
  await page.getByRole("heading", { name: "Outbox relay and domain events" }).waitFor();
  await play();
  await waitForClock(3);
  await page.locator(".pipe-card.connector").getByRole("button", { name: "Crash" }).click();
  await checker().getByRole("button", { name: "Stop the sources and drain" }).click();
  await play();
  await until(async () => (await page.locator(".checker.holds").count()) > 0, "a green verdict", 40_000);
  await pause();
  assert.match(await checker().textContent(), /every read model equals its source/);
  assert.equal(await page.locator(".checker.broken").count(), 0);
  await checker().scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}events-checker-green.png`, fullPage: false });
});

test("a change that strands readers is accepted with a warning; they stop at its first event until upgraded", async () => {
  await openEvents();
  const registry = page.locator(".registry-panel");
  await registry.scrollIntoViewIfNeeded();
  await registry.getByLabel("subject").selectOption("outbox.event.order-value");
  const draft = registry.getByLabel("schema draft");
  const schema = JSON.parse(await draft.inputValue());
  schema.fields = schema.fields.filter((f) => f.name !== "status");
  await draft.fill(JSON.stringify(schema, null, 2));
  const preview = registry.getByLabel("schema change preview");
  await until(async () => /accepts it, but/.test(await preview.textContent()), "the warning");
  assert.match(await preview.textContent(), /billing reads with version 1.*status/s);
  await registry.getByRole("button", { name: "Register" }).click();
  const answer = registry.getByLabel("registry answer");
  await until(async () => /version 2/.test((await answer.textContent()) ?? ""), "version 2");
  await play();
  const billing = page.getByLabel("consumer group billing", { exact: true });
  await until(async () => /cannot decode the event at offset/.test(await billing.textContent()), "billing stops at the event", 20_000);
  await until(async () => /billing's consumer fails on every batch/.test(await checker().textContent()), "the checker names billing");
  await pause();
  await registry.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}events-registry-stranded.png`, fullPage: false });
  await registry.getByRole("button", { name: "Upgrade to v2" }).first().click();
  await until(async () => /now reads outbox\.event\.order-value version 2/.test((await answer.textContent()) ?? ""), "the upgrade's answer");
  assert.match(await registry.locator(".registry-subjects").textContent(), /billing reads v2/);
});

test("the polling relay: its card shows its latency and what its polls cost the owner", async () => {
  await page.goto(`${session.server.url}?scenario=outbox-relays&speed=4`);
  await page.getByRole("heading", { name: "Outbox relay and domain events" }).waitFor();
  await play();
  await waitForClock(6);
  await pause();
  const relay = page.locator(".pipe-card.connector", { hasText: "Polling relay" });
  const text = await relay.textContent();
  assert.match(text, /WHERE published = FALSE/);
  const latency = text.match(/latency p95 \(run\)([\d.]+) ?(ms|s)/);
  assert.ok(latency, `the latency: ${text}`);
  const ms = Number(latency[1]) * (latency[2] === "s" ? 1000 : 1);
  assert.ok(ms >= 200, `an event waits for the next poll: ${ms} ms`);
  assert.match(text, /source pays[\d.]+ ?(ms|us|µs|s) of core/);
  assert.doesNotMatch(text, /slot keeps/, "the polling relay reads no log");
  await relay.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}events-polling-relay.png`, fullPage: false });
});
