// Where the simulator's main-thread time goes while it plays: `make profile-page` (after
// `make build`). Asserts nothing; prints figures for the notes.
//
// The shipped .wasm has no names, so this script remakes it from Cargo's output of the same build
// with its name section kept (as `make size-top` does), puts it in a copy of dist/ under the
// shipped file's name, and plays the shop there for 10 s of wall time at a speed (`SPEED`: 1×,
// 16× or max; 16× if unset) under Chromium's sampling profiler. It prints the main thread's
// self time by function (the top rows) and by the phase of a frame each function belongs to:
// the world's advance, the panels' view, the checker and checkpoints, Yew's rendering, the
// browser's own work (layout, paint, garbage collection) and idle time.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { serveDist } from "../tests/e2e/serve.mjs";
import { fileURLToPath } from "node:url";
import { FRAME_TICK, SPEED_OPTIONS, framePhases } from "./frames.mjs";

const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, ".cache/dataflow-lab/target");
const built = join(target, "wasm32-unknown-unknown/wasm-release/dataflow-lab-web.wasm");
const SPEEDS = SPEED_OPTIONS;
const speed = process.env.SPEED ?? "16×";
const mode = process.env.MODE ?? "shared";
const rows = Number(process.argv[2] ?? 30);
if (!existsSync(built)) {
  console.error(`profile-page: no ${built}; run \`make build\` first`);
  process.exit(1);
}
if (!(speed in SPEEDS)) {
  console.error(`profile-page: SPEED must be one of ${Object.keys(SPEEDS).join(", ")}`);
  process.exit(1);
}

const builtDist = fileURLToPath(new URL("../dist/", import.meta.url));
const shipped = existsSync(builtDist) ? readdirSync(builtDist).find((f) => f.endsWith("_bg.wasm")) : undefined;
if (!shipped) {
  console.error("profile-page: no wasm in dist/; run `make build` first");
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), "profile-page-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const dist = join(work, "dist");
cpSync(builtDist, dist, { recursive: true });
// Trunk's index.html pins each file's hash (subresource integrity): the named file differs.
const index = join(dist, "index.html");
writeFileSync(index, readFileSync(index, "utf8").replace(/ integrity="[^"]*"/g, ""));
// Trunk runs wasm-bindgen with the binary's name, then adds the hash to the files' names.
execFileSync("wasm-bindgen", ["--target", "web", "--no-typescript", "--out-dir", work, "--out-name", "dataflow-lab-web", built]);
execFileSync("wasm-opt", ["-Oz", "-g", "--enable-bulk-memory", "--enable-nontrapping-float-to-int",
  "--enable-sign-ext", "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue",
  join(work, "dataflow-lab-web_bg.wasm"), "-o", join(dist, shipped)]);

/** The phase of a frame a sample belongs to: the first rule that a function on its stack matches
 * (so the world's SQL run by the checker counts for the checker), or the browser's own, named by
 * the sampled frame itself. */
const PHASES = [
  ["checker and checkpoints", /check_invariants|checkpoints_given|coupling_map|coupling_inputs/],
  ["view (page_view, the viewer's messages)", /page_view|messages::messages|with_view|LiveRun.*refresh/],
  ["world advance (services, SQL, locks)", /run_until|LiveRun.*play|playback::Playback|World.*step|world::step/],
  ["Yew rendering and the DOM", /yew|web_sys|js_sys|wasm_bindgen|__wbg|gloo|implicit_clone/],
];
const BROWSER = { "(garbage collector)": "browser: garbage collection", "(idle)": "browser: idle", "(program)": "browser: layout, style, paint (program)" };

const server = await serveDist(dist);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${server.url}?scenario=shop&mode=${mode}`);
  await page.locator(".simulator .topology > svg").waitFor();
  await page.locator('.transport select[aria-label="Speed"]').selectOption(SPEEDS[speed]);
  const cdp = await context.newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await page.evaluate(FRAME_TICK);
  await cdp.send("Profiler.start");
  await page.locator("#play").click();
  await page.waitForTimeout(10_000);
  await page.locator("#play").click();
  const { profile } = await cdp.send("Profiler.stop");
  const frames = await page.evaluate(() => window.__frames);
  console.log(`shop (${mode}) at ${speed}: ${framePhases(frames)}`);
  report(profile);
} finally {
  await browser.close();
  await server.close();
}

/** Self time by function and by phase, from a CPU profile's samples. */
function report(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const phases = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const name = nodes.get(id).callFrame.functionName || "(anonymous)";
    self.set(name, (self.get(name) ?? 0) + dt);
    const stack = [];
    for (let at = id; at !== undefined; at = parent.get(at)) stack.push(nodes.get(at).callFrame.functionName);
    const phase = BROWSER[name] ?? PHASES.find(([, rule]) => stack.some((f) => rule.test(f)))?.[0] ?? "other (JS)";
    phases.set(phase, (phases.get(phase) ?? 0) + dt);
  });
  const pct = (ms) => `${((ms / total) * 100).toFixed(1).padStart(5)} %`;
  console.log(`\nmain thread, ${(total / 1000).toFixed(1)} s sampled, by phase (a sample counts for the first phase its stack names):`);
  for (const [phase, ms] of [...phases].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${pct(ms)}  ${(ms / 1000).toFixed(2).padStart(6)} s  ${phase}`);
  }
  console.log(`\ntop ${rows} functions by self time:`);
  for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`  ${pct(ms)}  ${name.slice(0, 140)}`);
  }
}
