// Browser benchmark of the release build in dist/, in Debian's headless Chromium: how fast the
// console and the simulator become usable, and how smoothly the simulator runs the shop at 1× and 16× (frame
// times, simulated events per second, a jump back in time). Prints figures for the README;
// asserts nothing. Run: `make bench-page` (after make build).
import { chromium } from "playwright-core";
import { serveDist } from "../tests/e2e/serve.mjs";
import { FRAME_TICK, SPEED_OPTIONS, framePhases } from "./frames.mjs";

const RUNS = Number(process.env.RUNS ?? 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const server = await serveDist();

/** The page's WebAssembly memory (bytes; found through the DevTools protocol, the page exposes
 * none) and its JS heap in use. */
async function pageMemory(context, page) {
  const cdp = await context.newCDPSession(page);
  const { result: prototype } = await cdp.send("Runtime.evaluate", { expression: "WebAssembly.Memory.prototype" });
  const { objects } = await cdp.send("Runtime.queryObjects", { prototypeObjectId: prototype.objectId });
  const { result } = await cdp.send("Runtime.callFunctionOn", {
    objectId: objects.objectId,
    functionDeclaration: "function () { return this.reduce((sum, m) => sum + m.buffer.byteLength, 0); }",
    returnByValue: true,
  });
  const js = await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0);
  await cdp.detach();
  // The run's worker keeps its module's memory where this finds it (src/ui/module_worker.rs).
  let worker = 0;
  for (const w of page.workers()) {
    worker += await w.evaluate(() => self.dataflowLabMemory?.buffer.byteLength ?? 0).catch(() => 0);
  }
  return { wasm: result.value, js, worker };
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const ready = [];
const firstQuery = [];
const playable = [];
const wasmArrived = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}?view=console`);
    await page.locator('.schema [data-table="orders"]').waitFor();
    ready.push(await page.evaluate(() => performance.now()));
    await page.getByRole("button", { name: "Orders by status" }).click();
    await page.locator(".run.latest .result-table").waitFor();
    const text = await page.locator(".run.latest .statement .elapsed").first().textContent();
    firstQuery.push(Number.parseFloat(text));
    await context.close();
  }
  // The simulator's cold load: navigation → play clickable (the shop's 20,000 orders built).
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator("#play").waitFor();
    playable.push(await page.evaluate(() => performance.now()));
    wasmArrived.push(await page.evaluate(() =>
      performance.getEntriesByType("resource").filter((e) => e.name.endsWith(".wasm")).map((e) => e.responseEnd)[0]));
    await context.close();
  }
  // The simulator: the shop for 10 s of wall time at each speed, then in the cdc and etl modes at 1×.
  const RUNS_SIM = [["1×", "shared"], ["16×", "shared"], ["max", "shared"], ["1×", "cdc"], ["1×", "etl"]]
    .map(([label, mode]) => [label, SPEED_OPTIONS[label], mode]);
  for (const [label, value, mode] of RUNS_SIM) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    const started = Date.now();
    await page.goto(`${server.url}?scenario=shop&mode=${mode}`);
    await page.locator(".simulator .topology > svg").waitFor();
    if (mode !== "shared") console.log(`simulator shop (${mode}): navigation → ready ${Date.now() - started} ms`);
    await page.locator('.transport select[aria-label="Speed"]').selectOption(value);
    await page.evaluate(FRAME_TICK);
    const events0 = Number(await page.locator("#clock").getAttribute("data-events"));
    const wall0 = await page.evaluate(() => performance.now());
    await page.locator("#play").click();
    // The etl shop's first copy runs at 20 s: play past it.
    await page.waitForTimeout(mode === "etl" ? 22_000 : 10_000);
    await page.locator("#play").click();
    const wall1 = await page.evaluate(() => performance.now());
    const events1 = Number(await page.locator("#clock").getAttribute("data-events"));
    const clock = await page.locator("#clock").textContent();
    const frames = await page.evaluate(() => window.__frames);
    const seconds = (wall1 - wall0) / 1000;
    console.log(
      `simulator shop (${mode}) at ${label}: ${framePhases(frames)}; ` +
        `${((events1 - events0) / seconds).toFixed(0)} simulated events/s; reached ${clock} in ${seconds.toFixed(1)} s`,
    );
    if (label === "1×" && mode === "shared") {
      for (let i = 0; i < 5; i++) await page.locator("body").press("ArrowLeft");
      const note = await page.locator(".seek-note").textContent();
      console.log(`jump back 100 ms at ${clock} (5 presses of ←; the last one): ${note}`);
    }
    await context.close();
  }
  // Jumps back from a link's time: the page replays to it a slice per frame (keeping its
  // checkpoints), then ← goes back 100 ms, five times; the median of the five.
  // The memory there too: the run's worker's WebAssembly memory and the page's (their
  // high-water marks: linear memory never shrinks) and the page's JS heap, after the replay
  // (checkpoints included).
  for (const [mode, t] of [["shared", "10s"], ["shared", "60s"], ["shared", "600s"], ["shared", "3600s"], ["cdc", "60s"]]) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    await page.goto(`${server.url}?scenario=shop&mode=${mode}&t=${t}`);
    const target = Number.parseFloat(t);
    for (;;) {
      const text = (await page.locator("#clock").textContent()).trim();
      const match = text.match(/^(\d+\.\d{3}) s$/) ?? text.match(/^(\d+):(\d{2}\.\d{3})$/);
      const seconds = !match ? 0 : match.length === 2 ? Number(match[1]) : Number(match[1]) * 60 + Number(match[2]);
      if (seconds >= target) break;
      await page.waitForTimeout(200);
    }
    const memory = await pageMemory(context, page);
    console.log(`page memory at ${t} (${mode}): the run's worker's wasm ${(memory.worker / 1e6).toFixed(1)} MB; the page's wasm ${(memory.wasm / 1e6).toFixed(1)} MB, JS heap ${(memory.js / 1e6).toFixed(1)} MB`);
    const notes = [];
    for (let i = 0; i < 5; i++) {
      const before = await page.locator(".seek-note").textContent().catch(() => "");
      await page.locator("body").press("ArrowLeft");
      await page.waitForFunction((b) => (document.querySelector(".seek-note")?.textContent ?? "") !== b || true, before);
      notes.push(await page.locator(".seek-note").textContent());
    }
    const times = notes.map((n) => Number(n.match(/in (\d+) ms/)?.[1]));
    console.log(`jump back 100 ms from ${t} (${mode}): median ${median(times)} ms, max ${Math.max(...times)} ms of five (${notes.join("; ")})`);
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`page ready (navigation start → schema shown), median of ${RUNS}: ${median(ready).toFixed(0)} ms`);
console.log(`simulator: navigation → play clickable, median of 5: ${median(playable).toFixed(0)} ms (the .wasm arrived at ${median(wasmArrived).toFixed(0)} ms)`);
console.log(`first GROUP BY query over orders (240 rows), median of ${RUNS}: ${median(firstQuery).toFixed(2)} ms`);
