// What a page pays to load: raw, gzip -9 and brotli (quality 11) sizes of files, and which
// files of the release build in dist/ are the page's first load. Shared by `make size`
// (scripts/size.mjs) and `make size-compare` (scripts/compare-sizes.mjs).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";

/** The release build's folder. */
export const DIST = new URL("../dist/", import.meta.url).pathname;

/** The first-load budget, gzip (issue 16). */
export const BUDGET = 1_000_000;

/** The sizes of these files together: { raw, gzip, brotli } in bytes (gzip: GNU gzip -9, as the
 * README's figures have always been measured; Node's zlib gives about 1 % more). */
export function sizes(paths) {
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const path of paths) {
    const bytes = readFileSync(path);
    total.raw += bytes.length;
    total.gzip += execFileSync("gzip", ["-9", "-c", path], { maxBuffer: 1 << 30 }).length;
    total.brotli += brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    }).length;
  }
  return total;
}

/** The engine's files in dist/: the module the page's Web Workers load (src/bin/dataflow-lab-worker.rs)
 * and its glue, fetched once the page runs, not before it shows. */
export function engine() {
  return built().filter((f) => f.startsWith("dataflow-lab-worker")).map((f) => join(DIST, f));
}

/** The files of dist/ that the page loads first: its wasm, JS and CSS (not the engine its
 * workers load, nor the host's embed.js). */
export function firstLoad() {
  return built().filter((f) => !f.startsWith("dataflow-lab-worker")).map((f) => join(DIST, f));
}

/** The wasm, JS and CSS of the release build (not the host's embed.js). */
function built() {
  const files = readdirSync(DIST).filter((f) => /\.(wasm|js|css)$/.test(f) && f !== "embed.js");
  if (!files.some((f) => f.endsWith(".wasm"))) {
    console.error("no release build in dist/: run `make build` first");
    process.exit(1);
  }
  return files;
}
