// `make size-compare`: what a page pays on first load for Dataflow Lab (the release build in
// dist/: wasm + JS + CSS, the whole app) against the SQL engines that run in a browser — sql.js,
// PGlite and DuckDB-WASM, each the files its own loader fetches before the first query — raw,
// gzip -9 and brotli (quality 11), as a Markdown table for the README.
//
// The other engines come from the npm registry (`npm pack`, pinned versions, into a temporary
// folder that is removed afterwards): nothing is added to the project.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIST, engine, firstLoad, sizes } from "./sizes.mjs";

/** The engines, and the files of each package that a first load fetches. */
const ENGINES = [
  {
    name: "sql.js 1.17.0 (SQLite)",
    spec: "sql.js@1.17.0",
    files: ["dist/sql-wasm.js", "dist/sql-wasm.wasm"],
  },
  {
    // Its ES module and the chunks it imports, the Postgres build, its file system image,
    // and initdb (run when a database is created in memory).
    name: "PGlite 0.5.17 (PostgreSQL)",
    spec: "@electric-sql/pglite@0.5.17",
    files: ["dist/index.js", /^dist\/chunk-[A-Z0-9]+\.js$/, "dist/pglite.wasm", "dist/pglite.data", "dist/initdb.js", "dist/initdb.wasm"],
  },
  {
    // The bundle a current browser picks: exception handling (eh), its worker and its wasm.
    name: "DuckDB-WASM 1.32.0",
    spec: "@duckdb/duckdb-wasm@1.32.0",
    files: ["dist/duckdb-browser.mjs", "dist/duckdb-browser-eh.worker.js", "dist/duckdb-eh.wasm"],
  },
];

/** Every file under `root`, as paths relative to it. */
function walk(root, prefix = "") {
  return readdirSync(join(root, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(root, join(prefix, entry.name)) : [join(prefix, entry.name)],
  );
}

const mb = (bytes) => (bytes < 100_000 ? `${(bytes / 1_000).toFixed(1)} kB` : `${(bytes / 1_000_000).toFixed(2)} MB`);
const rows = [];

const app = sizes([...firstLoad(), ...engine()]);
rows.push(["Dataflow Lab (this build: the whole app, the page and its workers' engine)", app]);
rows.push(["…and a host page's embed.js", sizes([join(DIST, "embed.js")])]);

const work = mkdtempSync(join(tmpdir(), "engines-"));
try {
  for (const engine of ENGINES) {
    const tarball = execFileSync("npm", ["pack", "--silent", engine.spec], { cwd: work, encoding: "utf8" }).trim().split("\n").at(-1);
    const folder = join(work, engine.spec.replace(/[@/]/g, "_"));
    mkdirSync(folder, { recursive: true });
    execFileSync("tar", ["xzf", join(work, tarball), "-C", folder, "--strip-components=1"]);
    const present = walk(folder);
    const chosen = engine.files.flatMap((file) => {
      const found = present.filter((p) => (file instanceof RegExp ? file.test(p) : p === file));
      if (found.length === 0) throw new Error(`${engine.spec} has no ${file}`);
      return found;
    });
    rows.push([`${engine.name} (engine only)`, sizes(chosen.map((p) => join(folder, p)))]);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log("| first load | raw | gzip -9 | brotli 11 | gzip vs ours |");
console.log("|---|---:|---:|---:|---:|");
for (const [name, size] of rows) {
  const ratio = name.startsWith("…") ? "" : `${(size.gzip / app.gzip).toFixed(2)}×`;
  console.log(`| ${name} | ${mb(size.raw)} | ${mb(size.gzip)} | ${mb(size.brotli)} | ${ratio} |`);
}
