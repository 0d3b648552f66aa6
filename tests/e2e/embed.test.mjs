// Page tests of embedding (issue 15): `?embed=1` is a compact simulator that fits 600 × 400;
// `embed.js` turns a documentation page's `<div data-dataflow-lab>` elements into frames made
// when scrolled to, each sized to its content and running on its own; a host page drives an
// embed with postMessage and hears its state, and an embed ignores every other window and
// origin. After the page has loaded, no request leaves it.
import { test, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { SHOTS, startBrowser, pagePerTest, until as poll, axeViolations, clockSeconds as frameClock } from "./harness.mjs";

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
const port = () => new URL(session.server.url).port;

/** The state an embed of the demo page last posted (through embed.js), or null. */
const demoState = (id) => page.evaluate((id) => window.DataflowLab.get(id)?.state ?? null, id);

/** Opens the fixture host page at `origin` with these frames ([id, the origin each takes]). */
async function hostPage(origin, frames) {
  const query = new URLSearchParams({ app: session.server.url });
  for (const [id, allowed] of frames) query.append("frame", `${id}|${allowed}`);
  await page.goto(`${origin}/__fixtures__/host.html?${query}`);
}

/** What the host page heard from the embed `id`, of this type. */
const heardFrom = (id, type) => page.evaluate(([id, type]) => window.heard.filter((m) => m.id === id && m.type === type), [id, type]);

test("?embed=1 is the simulator alone, in 600 × 400, with a link to open it whole", async () => {
  const small = await context.browser().newContext({ viewport: { width: 600, height: 400 } });
  const embed = await small.newPage();
  await embed.goto(`${session.server.url}?embed=1&scenario=shop&seed=7&theme=dark`);
  await embed.locator("#clock").waitFor();
  // The run is built in the page's worker: its panels come once it is.
  await embed.locator(".topology > svg").waitFor();
  assert.equal(await embed.locator(".masthead").count(), 0, "no masthead in an embed");
  assert.equal(await embed.locator(".scenario-bar select").count(), 0, "no scenario picker in an embed");
  assert.equal(await embed.getByRole("heading", { name: "Topology" }).count(), 1, "the default panel is there");
  assert.equal(await embed.locator(".charts-panel, .locks-panel, .console-panel").count(), 0, "the others are not");
  assert.equal(await embed.evaluate(() => document.documentElement.dataset.theme), "dark");
  const [width, height] = await embed.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
  assert.ok(width <= 600 && height <= 400, `the default embed fits 600 × 400 (it is ${width} × ${height})`);
  await embed.screenshot({ path: `${SHOTS}embed-600x400.png` });
  assert.deepEqual(await axeViolations(embed), []);

  // Played a little, "Open in Dataflow Lab" opens the same run, whole, at the same time.
  await embed.locator("#play").click();
  await poll(embed, async () => (await frameClock(embed)) >= 1, "the embed to play");
  await embed.locator("#play").click();
  // Paused, the run shows where it stopped (a moment past the clock while it played).
  let at = await frameClock(embed);
  await poll(embed, async () => {
    await embed.waitForTimeout(150);
    const now = await frameClock(embed);
    const still = now === at;
    at = now;
    return still;
  }, "the paused clock to settle");
  const [whole] = await Promise.all([small.waitForEvent("page"), embed.getByRole("link", { name: /Open in Dataflow Lab/ }).click()]);
  await whole.locator("#clock").waitFor();
  const address = new URL(whole.url());
  for (const name of ["embed", "origin", "panels", "theme"]) assert.equal(address.searchParams.get(name), null, `${name} is left out`);
  assert.equal(address.searchParams.get("seed"), "7");
  await poll(whole, async () => Math.abs((await frameClock(whole)) - at) < 0.001, "the whole page at the embed's time");
  assert.equal(await whole.locator(".masthead").count(), 1);

  // autoplay plays at once; paused wins over it.
  await embed.goto(`${session.server.url}?embed=1&scenario=shop&autoplay=1`);
  await poll(embed, async () => (await frameClock(embed)) >= 0.5, "autoplay to play");
  await embed.goto(`${session.server.url}?embed=1&scenario=shop&autoplay=1&paused=1`);
  await embed.locator("#clock").waitFor();
  assert.equal(await embed.locator("#play").getAttribute("aria-pressed"), "false", "paused wins over autoplay");
  await small.close();
});

test("the demo page: three embeds, each made when scrolled to, each sized to its content and running on its own", async () => {
  const requested = [];
  page.on("request", (request) => requested.push(request.url()));
  await page.goto(`${session.server.url}embed-demo.html`);
  await until(() => demoState("shop"), "the first embed to say its state");
  const frames = () => page.locator("[data-dataflow-lab] iframe").count();
  assert.equal(await frames(), 1, "only the embed on screen is made");
  assert.ok(!requested.some((url) => /report-vs-writers|cdc-basics/.test(url)), "nothing of those below the fold is fetched");

  // Play works while those below the fold have not loaded.
  const shop = page.frameLocator("#shop iframe");
  await shop.locator("#play").click();
  await until(async () => (await frameClock(shop)) >= 1, "the first embed to play");
  assert.equal(await frames(), 1, "playing loads nothing else");

  // Each frame is as tall as what it shows.
  const fits = async (id) => {
    const frameHeight = await page.locator(`#${id} iframe`).evaluate((f) => f.getBoundingClientRect().height);
    const [content, scrolls] = await page.frameLocator(`#${id} iframe`).locator("#embed-root").evaluate((e) => [
      e.getBoundingClientRect().height,
      document.documentElement.scrollHeight > window.innerHeight + 1,
    ]);
    return Math.abs(frameHeight - content) <= 2 && !scrolls ? frameHeight : null;
  };
  const shopHeight = await until(() => fits("shop"), "the first frame to take its content's height");

  await page.locator("#lesson").scrollIntoViewIfNeeded();
  await until(() => demoState("lesson"), "the lesson embed to load once scrolled to");
  assert.equal(await page.locator("#cdc iframe").count(), 0, "the last embed is still not made");
  const lesson = page.frameLocator("#lesson iframe");
  await lesson.getByRole("button", { name: /Skip the question/ }).waitFor();
  const lessonHeight = await until(() => fits("lesson"), "the lesson frame to take its content's height");
  assert.ok(lessonHeight > shopHeight + 50, `the lesson, with its question, is taller (${lessonHeight} > ${shopHeight})`);

  await page.locator("#cdc").scrollIntoViewIfNeeded();
  await until(() => demoState("cdc"), "the CDC embed to load once scrolled to");
  assert.equal((await demoState("cdc")).mode, "cdc");
  // Driven by the page's own buttons, through embed.js.
  await page.getByRole("button", { name: "Play", exact: true }).click();
  await until(async () => (await demoState("cdc"))?.running, "the CDC embed to run");
  await until(async () => (await demoState("cdc")).time >= 1, "the CDC embed's time to move");
  await page.getByRole("button", { name: "Go to 30 s" }).click();
  await until(async () => (await demoState("cdc")).time >= 30, "the CDC embed to reach 30 s", 40_000);
  assert.match(await page.locator("#cdc-readout").textContent(), /running · checkpoints passed: \d+ of \d+/);

  // Independent: the lesson never started, the shop runs on its own clock.
  assert.equal(await frameClock(lesson), 0, "the lesson's clock did not move");
  assert.equal((await demoState("lesson")).running, false);
  await page.getByRole("button", { name: "Pause", exact: true }).click();
  await until(async () => (await demoState("cdc")).running === false, "the CDC embed to pause");
  assert.equal((await demoState("shop")).running, true, "pausing one leaves the others");
  await page.screenshot({ path: `${SHOTS}embed-demo.png`, fullPage: true });
});

test("embed.js: a command before the frame exists makes it and is done once it is ready; only its frames' messages count", async () => {
  await page.goto(`${session.server.url}embed-demo.html`);
  await until(() => demoState("shop"), "the first embed");
  assert.equal(await page.locator("#cdc iframe").count(), 0);
  // Queued: a seek more than 20 s ahead (run a slice per frame) and play, while it runs there.
  await page.evaluate(() => { const lab = window.DataflowLab.get("cdc"); lab.seek(25); lab.play(); });
  await page.locator("#cdc iframe").waitFor({ state: "attached" });
  await until(async () => (await demoState("cdc"))?.time >= 25, "the queued seek to be done", 40_000);
  await until(async () => (await demoState("cdc")).running, "the queued play to be done");
  await page.evaluate(() => window.DataflowLab.get("cdc").pause());
  await until(async () => (await demoState("cdc")).running === false, "the pause");

  // A message that says it is an embed's, but comes from elsewhere, is not taken.
  const states = () => page.evaluate(() => window.shopStates);
  await page.evaluate(() => {
    window.shopStates = 0;
    window.DataflowLab.get("shop").on("state", () => { window.shopStates += 1; });
    window.postMessage({ source: "dataflow-lab", type: "state", time: 999, running: true }, "*");
    window.DataflowLab.get("shop").requestState();
  });
  await until(async () => (await states()) > 0, "the real answer");
  assert.notEqual((await demoState("shop")).time, 999, "the page's own fake state was not taken");
});

test("a host page drives an embed with postMessage and hears its state", async () => {
  const origin = new URL(session.server.url).origin;
  await hostPage(origin, [["lab", origin]]);
  const heard = (type) => heardFrom("lab", type);
  const send = (message) => page.evaluate((message) => window.send("lab", message), message);
  const last = async () => (await heard("state")).at(-1);
  await until(async () => (await heard("state")).length > 0, "the embed's first state");
  const first = await last();
  assert.deepEqual(
    { scenario: first.scenario, seed: first.seed, running: first.running, time: first.time, from: first.from },
    { scenario: "shop", seed: 11, running: false, time: 0, from: origin },
  );
  await until(async () => (await heard("resize")).length > 0, "the embed to say its height");

  await send({ type: "seek", t: 5 });
  await until(async () => (await last()).time === 5, "the state after seeking to 5 s");
  await send({ type: "play" });
  await until(async () => (await last()).running && (await last()).time > 5, "the state while playing");
  await send({ type: "pause" });
  await until(async () => (await last()).running === false, "the state once paused");
  await send({ type: "speed", speed: 4 });
  await until(async () => (await last()).speed === "4", "the state at the new speed");
  const beforeReset = (await heard("state")).length;
  await send({ type: "reset" });
  await until(async () => (await heard("state")).length > beforeReset && (await last()).time === 0, "the state after reset");
  const before = (await heard("state")).length;
  await send(JSON.stringify({ type: "state" }));
  await until(async () => (await heard("state")).length > before, "a state on request (JSON text taken too)");

  await send({ type: "load", scenario: "lost-update", seed: 3 });
  await until(async () => (await last()).scenario === "lost-update", "the loaded scenario's state");
  assert.equal((await last()).seed, 3);
  assert.equal((await last()).time, 0);
  assert.ok((await last()).checkpoints.length > 0, "its checkpoints come with it");

  await send({ type: "fly" });
  await until(async () => (await heard("error")).length > 0, "an error for an unknown message");
  assert.match((await heard("error"))[0].message, /"fly" is not one of play, pause/);
  await send({ type: "seek", t: -3 });
  await until(async () => (await heard("error")).length > 1, "an error for a bad time");
  assert.match((await heard("error"))[1].message, /seek message/);
  await send({ type: "load", scenario: "lost-update", mode: "cdc" });
  await until(async () => (await heard("error")).length > 2, "an error for a mode the scenario lacks");
  assert.match((await heard("error"))[2].message, /cannot run in the cdc mode/);
  // Other scripts' messages (not an object with a type) get no answer.
  await send("hello");
  await send({ type: "state" });
  await until(async () => (await heard("state")).length > before + 1, "the answer to the state asked after");
  assert.equal((await heard("error")).length, 3, "no error for a message that is not one");
});

test("an embed ignores messages from another origin and from other windows", async () => {
  const here = new URL(session.server.url).origin;
  const elsewhere = `http://localhost:${port()}`;
  // The host page is at localhost. One embed was told to take messages from 127.0.0.1 (not
  // its host's origin); the other from its host's.
  await hostPage(elsewhere, [["wrong", here], ["right", elsewhere]]);
  const wrong = page.frameLocator("#wrong");
  const right = page.frameLocator("#right");
  await wrong.locator("#clock").waitFor();
  await until(async () => (await heardFrom("right", "state")).length > 0, "the right embed's state");

  await page.evaluate(() => { window.send("wrong", { type: "play" }); window.send("right", { type: "play" }); });
  await until(async () => (await frameClock(right)) >= 1, "the embed that takes this origin to play");
  assert.equal(await frameClock(wrong), 0, "the embed told another origin did not play");
  assert.equal((await heardFrom("wrong", "state")).length, 0, "and posts nothing to an origin it was not told");

  // A sibling frame at the allowed origin is not the parent: ignored too.
  await page.evaluate(() => window.send("right", { type: "pause" }));
  await until(async () => (await heardFrom("right", "state")).at(-1).running === false, "the pause");
  const at = await frameClock(right);
  const atState = (await heardFrom("right", "state")).at(-1).time;
  await page.evaluate(() => {
    const sibling = document.createElement("iframe");
    sibling.srcdoc = `<script>parent.document.getElementById("right").contentWindow.postMessage({ type: "seek", t: 40 }, "*"); parent.siblingSent = true;<\/script>`;
    document.body.append(sibling);
  });
  await until(() => page.evaluate(() => window.siblingSent), "the sibling frame to send");
  // Messages are taken in the order they were sent: the answer to this comes after the seek.
  const answers = (await heardFrom("right", "state")).length;
  await page.evaluate(() => window.send("right", { type: "state" }));
  await until(async () => (await heardFrom("right", "state")).length > answers, "the answer to the parent's request");
  assert.equal((await heardFrom("right", "state")).at(-1).time, atState, "a message from a sibling frame is ignored");
  assert.equal(await frameClock(right), at);
});

test("after the page has loaded, no request leaves it", async () => {
  const requested = [];
  page.on("request", (request) => requested.push(request.url()));
  // The run plays in a worker, which loads the page's script once as it starts: the page has
  // loaded once it has (nothing asked for in half a second).
  const loaded = async (what) => {
    let seen = -1;
    await until(async () => {
      const quiet = seen === requested.length;
      seen = requested.length;
      await page.waitForTimeout(500);
      return quiet;
    }, what);
  };
  await page.goto(`${session.server.url}?scenario=cdc-basics`);
  await page.locator("#clock").waitFor();
  await loaded("the run's worker to have started");
  requested.length = 0;
  // Use the page: play, answer the lesson, open the panels, query, switch mode and scenario.
  await page.getByRole("button", { name: /Skip the question/ }).click();
  await page.locator("#play").click();
  await until(async () => Number((await page.locator("#clock").textContent()).match(/[\d.]+/)[0]) >= 2, "the run to play");
  await page.getByRole("button", { name: "Share", exact: true }).click();
  await page.getByRole("button", { name: "Share", exact: true }).click();
  await page.getByRole("button", { name: "Help (?)" }).click();
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  await page.getByRole("button", { name: "Close", exact: true }).click();
  await page.getByRole("combobox", { name: "Scenario" }).selectOption("lost-update");
  await page.locator("#clock").waitFor();
  await page.locator("#play").click();
  await page.waitForTimeout(1000);
  assert.deepEqual(requested, [], "no request after load");

  // The demo page too: once its three embeds are made, playing them fetches nothing.
  await page.goto(`${session.server.url}embed-demo.html`);
  for (const id of ["shop", "lesson", "cdc"]) {
    await page.locator(`#${id}`).scrollIntoViewIfNeeded();
    await until(() => demoState(id), `the ${id} embed`);
  }
  await loaded("the embeds' workers to have started");
  requested.length = 0;
  for (const id of ["shop", "lesson", "cdc"]) await page.evaluate((id) => window.DataflowLab.get(id).play(), id);
  await until(async () => (await demoState("cdc")).time >= 1, "the embeds to play");
  assert.deepEqual(requested, [], "no request while the embeds play");
});

test("a link's panels= shows only those panels, says so, and Share keeps them", async () => {
  await page.goto(`${session.server.url}?scenario=shop&panels=topology,locks`);
  await page.locator(".topology > svg").waitFor();
  assert.equal(await page.getByRole("heading", { name: "Topology" }).count(), 1);
  assert.equal(await page.getByRole("heading", { name: "Locks" }).count(), 1);
  assert.equal(await page.getByRole("heading", { name: "Latency and throughput" }).count(), 0);
  assert.match(await page.locator(".panels-note").textContent(), /only some panels: topology, locks/);
  await page.getByRole("button", { name: "Share", exact: true }).click();
  const link = new URL(await page.getByRole("textbox", { name: "Link to this run" }).inputValue());
  assert.equal(link.searchParams.get("panels"), "topology,locks");
  await page.getByRole("button", { name: "Show every panel" }).click();
  assert.equal(await page.getByRole("heading", { name: "Latency and throughput" }).count(), 1);
  assert.equal(new URL(page.url()).searchParams.get("panels"), null);

  await page.goto(`${session.server.url}?scenario=shop&panels=topology,lockz`);
  await page.locator(".topology > svg").waitFor();
  assert.match(await page.locator(".notice").textContent(), /no panel called "lockz"/);
  assert.equal(await page.getByRole("heading", { name: "Latency and throughput" }).count(), 1, "every panel, as usual");
});

test("Share gives the HTML that embeds the scenario, and a page made of it shows the same run", async () => {
  await page.goto(`${session.server.url}?scenario=cdc-basics&seed=5`);
  await page.locator("#clock").waitFor();
  await page.getByRole("button", { name: "Share", exact: true }).click();
  const snippet = await page.getByRole("textbox", { name: "HTML that embeds this scenario in a page" }).inputValue();
  assert.match(snippet, new RegExp(`<script src="${session.server.url}embed.js" defer></script>`));
  assert.match(snippet, /<div data-dataflow-lab data-scenario="cdc-basics" data-seed="5"><\/div>/);

  const url = `${session.server.url}__snippet__.html`;
  await page.route(url, (route) => route.fulfill({ status: 200, contentType: "text/html", body: `<!DOCTYPE html><title>docs</title>${snippet}` }));
  await page.goto(url);
  await until(() => page.evaluate(() => window.DataflowLab?.embeds()[0]?.state), "the snippet's embed to load");
  const state = await page.evaluate(() => window.DataflowLab.embeds()[0].state);
  assert.deepEqual([state.scenario, state.seed, state.time], ["cdc-basics", 5, 0]);
});
