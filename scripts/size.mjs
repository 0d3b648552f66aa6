// `make size`: the release build's first load (wasm + JS + CSS), each file and together, raw,
// gzip -9 and brotli 11, against the 1.0 MB gzip budget. It says when the build is over the
// budget; issue 16 makes it fail then, once the build is under it.
import { basename } from "node:path";
import { BUDGET, firstLoad, sizes } from "./sizes.mjs";

const files = firstLoad();
const row = (name, s) => console.log(`${name.padEnd(48)} ${String(s.raw).padStart(10)} ${String(s.gzip).padStart(10)} ${String(s.brotli).padStart(10)}`);
console.log(`${"bytes".padEnd(48)} ${"raw".padStart(10)} ${"gzip -9".padStart(10)} ${"brotli 11".padStart(10)}`);
for (const file of files) row(basename(file), sizes([file]));
const total = sizes(files);
row("first load (wasm + JS + CSS)", total);
const over = total.gzip - BUDGET;
console.log(over > 0
  ? `over the ${BUDGET.toLocaleString("en")} B gzip budget by ${over.toLocaleString("en")} B (issue 16)`
  : `within the ${BUDGET.toLocaleString("en")} B gzip budget`);
