import { chromium } from "playwright-core";
import { serveDist } from "../tests/e2e/serve.mjs";
const [mode, speed, secs] = [process.argv[2] ?? "shared", process.argv[3] ?? "3", Number(process.argv[4] ?? 6)];
const server = await serveDist(process.env.DIST);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
const page = await context.newPage();
await page.goto(`${server.url}?scenario=shop&mode=${mode}`);
await page.locator(".simulator .topology > svg").waitFor();
await page.locator('.transport select[aria-label="Speed"]').selectOption(speed);
const cdp = await context.newCDPSession(page);
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
await page.evaluate(() => { window.__frames = []; const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); }; requestAnimationFrame(tick); });
await page.locator("#play").click();
await page.waitForTimeout(1000);
await cdp.send("Profiler.start");
await page.waitForTimeout(secs * 1000);
const { profile } = await cdp.send("Profiler.stop");
await page.locator("#play").click();
const frames = await page.evaluate(() => window.__frames);
const d = frames.slice(1).map((t, i) => t - frames[i]).slice(60).sort((a,b)=>a-b);
console.log(`frames p50 ${d[Math.floor(d.length/2)].toFixed(1)} p95 ${d[Math.floor(d.length*0.95)].toFixed(1)} max ${d[d.length-1].toFixed(1)} n=${d.length}`);
const byId = new Map(profile.nodes.map(n => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas; let total = 0;
profile.samples.forEach((id, i) => { const n = byId.get(id); const cf = n.callFrame;
  const key = `${cf.functionName || "(anon)"} ${cf.url.split("/").pop()}:${cf.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + dt[i]); total += dt[i]; });
// inclusive by top-level category: wasm vs js
const cat = new Map();
for (const [k, v] of self) { const c = k.includes("wasm-function") || k.includes(".wasm") ? "wasm" : k.startsWith("(") ? k.split(" ")[0] : "js"; cat.set(c, (cat.get(c) ?? 0) + v); }
console.log("categories:", [...cat].sort((a,b)=>b[1]-a[1]).map(([k,v]) => `${k} ${(v/total*100).toFixed(1)}%`).join(", "));
for (const [k, v] of [...self].sort((a,b)=>b[1]-a[1]).slice(0, 25)) console.log((v/total*100).toFixed(1).padStart(5), k);
// inclusive
const parent = new Map(); for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
profile.samples.forEach((id, i) => { const seen = new Set(); let cur = id; while (cur !== undefined) { const n = byId.get(cur); const name = n.callFrame.functionName; if (name && !seen.has(name)) { seen.add(name); incl.set(name, (incl.get(name) ?? 0) + dt[i]); } cur = parent.get(cur); } });
console.log("--- inclusive");
const pat = new RegExp(process.env.PAT ?? ".");
for (const [k, v] of [...incl].filter(([k]) => pat.test(k)).sort((a,b)=>b[1]-a[1]).slice(0, Number(process.env.TOP ?? 60))) console.log((v/total*100).toFixed(1).padStart(5), k.slice(0, 160));
await browser.close(); server.close?.();
process.exit(0);
