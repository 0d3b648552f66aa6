// `make size`: the release build's first load (wasm + JS + CSS: what the page needs to show
// itself), each file and together, raw, gzip -9 and brotli 11, against the 1.0 MB gzip budget;
// then the engine its Web Workers load once it runs, and everything. It fails when the first load
// is over the budget (`make test` runs it after the build).
import { basename } from "node:path";
import { BUDGET, engine, firstLoad, sizes } from "./sizes.mjs";

const files = firstLoad();
const row = (name, s) => console.log(`${name.padEnd(48)} ${String(s.raw).padStart(10)} ${String(s.gzip).padStart(10)} ${String(s.brotli).padStart(10)}`);
console.log(`${"bytes".padEnd(48)} ${"raw".padStart(10)} ${"gzip -9".padStart(10)} ${"brotli 11".padStart(10)}`);
for (const file of files) row(basename(file), sizes([file]));
const total = sizes(files);
row("first load (wasm + JS + CSS)", total);
for (const file of engine()) row(basename(file), sizes([file]));
row("the engine, loaded by the workers", sizes(engine()));
row("everything (first load + engine)", sizes([...files, ...engine()]));
const over = total.gzip - BUDGET;
if (over > 0) {
  console.error(`the first load is over the ${BUDGET.toLocaleString("en")} B gzip budget by ${over.toLocaleString("en")} B (issue 16)`);
  process.exit(1);
}
console.log(`the first load is within the ${BUDGET.toLocaleString("en")} B gzip budget`);
