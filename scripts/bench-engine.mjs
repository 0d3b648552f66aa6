// `make bench-engine`: our SQL engine against sql.js (SQLite) in one headless Chromium page, the
// same statements on both, statements per second side by side. Prints Markdown for the README;
// asserts nothing (a wrong row count is reported in the table, not thrown).
//
// Ours: GlueSQL over our storage through `Database::execute`, as the simulator runs it — SQL
// text in, every statement parsed — from the `dataflow-lab-engine` wasm entry point, built with
// the page's profile (wasm-release, opt-level "z") and wasm-opt -Oz as Trunk does. PROFILE=release
// builds it at opt-level 3 instead.
// sql.js 1.17.0 (npm, unpacked into a temporary folder): `exec` with SQL text (parsed every time,
// as ours) and prepared statements (parsed once, values bound).
//
// ROWS=10000,100000 (the table sizes), PHASE_MS=1000 (how long each timed phase runs).
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { serveDist } from "../tests/e2e/serve.mjs";

const ROWS = (process.env.ROWS ?? "10000,100000").split(",").map(Number);
const PHASE_MS = Number(process.env.PHASE_MS ?? 1000);
const PROFILE = process.env.PROFILE ?? "wasm-release";
const SQLJS = "sql.js@1.17.0";
const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, ".cache/dataflow-lab/target");
const run = (command, args, options = {}) => execFileSync(command, args, { stdio: ["ignore", "inherit", "inherit"], ...options });

/**
 * The page: both engines loaded, then the workload, run at once in the same continuation. Run
 * from a later task (a timer, a script's onload, page.evaluate) sql.js's lookups ran 10–15×
 * slower in this Chromium (10k a second instead of 150k), so nothing is deferred.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>bench-engine</title>
<script src="sqljs/dist/sql-wasm.js"></script>
<script type="module">
  import init, { Engine } from "./ours/engine.js";
  import "./workload.js";
  const query = new URLSearchParams(location.search);
  const [, SQL] = await Promise.all([init(), initSqlJs({ locateFile: (file) => "sqljs/dist/" + file })]);
  window.OurEngine = Engine;
  window.SQL = SQL;
  window.benchResult = window.bench(Number(query.get("rows")), Number(query.get("ms")));
</script>`;

const work = `${mkdtempSync(join(tmpdir(), "bench-engine-"))}/`;
let server;
let browser;
try {
  run("cargo", ["build", "--locked", "--target", "wasm32-unknown-unknown", "--profile", PROFILE, "--bin", "dataflow-lab-engine"]);
  const built = join(target, "wasm32-unknown-unknown", PROFILE, "dataflow-lab-engine.wasm");
  run("wasm-bindgen", ["--target", "web", "--no-typescript", "--out-dir", join(work, "ours"), "--out-name", "engine", built]);
  const ours = join(work, "ours", "engine_bg.wasm");
  run("wasm-opt", ["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext",
    "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue", ours, "-o", ours]);

  const tarball = execFileSync("npm", ["pack", "--silent", SQLJS], { cwd: work, encoding: "utf8" }).trim().split("\n").at(-1);
  mkdirSync(join(work, "sqljs"));
  run("tar", ["xzf", join(work, tarball), "-C", join(work, "sqljs"), "--strip-components=1"]);
  writeFileSync(join(work, "index.html"), PAGE);
  writeFileSync(join(work, "workload.js"), `(${workload.toString()})();`);

  server = await serveDist(work);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  let version;
  const measured = [];
  for (const rows of ROWS) {
    const page = await browser.newPage();
    page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
    await page.goto(`${server.url}?rows=${rows}&ms=${PHASE_MS}`);
    await page.waitForFunction(() => window.benchResult !== undefined, null, { timeout: 0, polling: 1000 });
    measured.push([rows, await page.evaluate(() => window.benchResult)]);
    version = await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? navigator.userAgent);
    await page.close();
  }

  const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
  console.log(`\nEngine only, the wasm a page fetches (gzip -9): ours ${(gz(ours) / 1e6).toFixed(2)} MB` +
    ` (${PROFILE}, wasm-opt -Oz), sql.js ${(gz(join(work, "sqljs/dist/sql-wasm.wasm")) / 1e6).toFixed(2)} MB.`);
  console.log(`Statements per second in headless ${version}, ${PHASE_MS} ms a timed phase; ratio = ours ÷ sql.js prepared.\n`);
  for (const [rows, results] of measured) {
    console.log(`| ${rows.toLocaleString("en")} rows | ours | sql.js exec | sql.js prepared | ratio |`);
    console.log("|---|---:|---:|---:|---:|");
    for (const phase of results) {
      const [ours, exec, prepared] = phase.rates;
      const ratio = ours / prepared;
      const note = phase.mismatch ? ` (rows differ: ${phase.mismatch})` : "";
      console.log(`| ${phase.name}${note} | ${fmt(ours)} | ${fmt(exec)} | ${fmt(prepared)} | ${ratio >= 1 ? ratio.toFixed(1) : `1/${(1 / ratio).toFixed(ratio < 0.01 ? 0 : 1)}`} |`);
    }
    console.log("");
  }
} finally {
  await browser?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
}

function fmt(rate) {
  return rate >= 10_000 ? `${(rate / 1000).toFixed(1)}k` : rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
}


/** Runs in the page: defines window.bench(rows, phaseMs) → [{ name, rates: [ours, exec, prepared], mismatch }]. */
function workload() {
  const STATUSES = ["pending", "paid", "shipped", "delivered"];
  const CUSTOMERS = 1000;

  /** The three ways of running a statement: SQL text on ours, SQL text on sql.js, and sql.js prepared. */
  function runners() {
    const ours = new window.OurEngine();
    const exec = new window.SQL.Database();
    const prepared = new window.SQL.Database();
    const statements = new Map();
    return [
      { text: (sql) => ours.execute(sql) },
      {
        text: (sql) => {
          const out = exec.exec(sql);
          return out.length > 0 ? out[0].values.length : 0;
        },
      },
      {
        text: (sql) => {
          prepared.run(sql);
          return 0;
        },
        bound: (sql, values) => {
          let statement = statements.get(sql);
          if (!statement) {
            statement = prepared.prepare(sql);
            statements.set(sql, statement);
          }
          statement.bind(values);
          let rows = 0;
          while (statement.step()) {
            statement.get();
            rows++;
          }
          statement.reset();
          return rows;
        },
      },
    ];
  }

  /** The same pseudo-random keys for every engine. */
  function keys(seed, rows) {
    let state = seed;
    return () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return 1 + (state % rows);
    };
  }

  /** Each phase: SQL text for a key, the prepared text and its values, and the rows each statement returns. */
  function phases(rows) {
    const range = (a) => Math.min(a, rows - 99);
    return [
      {
        name: "SELECT by key",
        text: (k) => `SELECT * FROM orders WHERE id = ${k}`,
        sql: "SELECT * FROM orders WHERE id = ?",
        values: (k) => [k],
        expect: 1,
      },
      {
        name: "UPDATE by key",
        text: (k) => `UPDATE orders SET total_cents = total_cents + 1 WHERE id = ${k}`,
        sql: "UPDATE orders SET total_cents = total_cents + 1 WHERE id = ?",
        values: (k) => [k],
        expect: 0,
      },
      {
        name: "`WHERE id BETWEEN a AND a+99`",
        text: (k) => `SELECT * FROM orders WHERE id BETWEEN ${range(k)} AND ${range(k) + 99}`,
        sql: "SELECT * FROM orders WHERE id BETWEEN ? AND ?",
        values: (k) => [range(k), range(k) + 99],
        expect: 100,
      },
      {
        name: "`ORDER BY id LIMIT 1` with a filter",
        text: (k) => `SELECT id FROM orders WHERE status = 'pending' AND id > ${range(k)} ORDER BY id LIMIT 1`,
        sql: "SELECT id FROM orders WHERE status = 'pending' AND id > ? ORDER BY id LIMIT 1",
        values: (k) => [range(k)],
        expect: 1,
      },
      {
        name: "JOIN of 100 orders to their customers",
        text: (k) =>
          `SELECT o.id, c.name, o.total_cents FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id BETWEEN ${range(k)} AND ${range(k) + 99}`,
        sql: "SELECT o.id, c.name, o.total_cents FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id BETWEEN ? AND ?",
        values: (k) => [range(k), range(k) + 99],
        expect: 100,
      },
      {
        name: "GROUP BY over all rows",
        text: () => "SELECT status, COUNT(*), SUM(total_cents) FROM orders GROUP BY status",
        sql: "SELECT status, COUNT(*), SUM(total_cents) FROM orders GROUP BY status",
        values: () => [],
        expect: 4,
      },
    ];
  }

  window.bench = (rows, phaseMs) => {
    const engines = runners();
    const results = [{ name: "single-row INSERT", rates: [], mismatch: null }];
    for (const [i, engine] of engines.entries()) {
      engine.text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
      engine.text("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, status TEXT NOT NULL, total_cents INTEGER NOT NULL)");
      for (let c = 1; c <= CUSTOMERS; c++) engine.text(`INSERT INTO customers VALUES (${c}, 'customer ${c}')`);
      const row = (id) => [id, 1 + (id % CUSTOMERS), STATUSES[id % 4], (id * 7) % 10000];
      const started = performance.now();
      for (let id = 1; id <= rows; id++) {
        const [a, b, c, d] = row(id);
        if (engine.bound) engine.bound("INSERT INTO orders VALUES (?, ?, ?, ?)", [a, b, c, d]);
        else engine.text(`INSERT INTO orders VALUES (${a}, ${b}, '${c}', ${d})`);
      }
      results[0].rates[i] = rows / ((performance.now() - started) / 1000);
    }
    for (const phase of phases(rows)) {
      const result = { name: phase.name, rates: [], mismatch: null };
      const counts = [];
      for (const [i, engine] of engines.entries()) {
        const next = keys(7, rows);
        let done = 0;
        let returned = 0;
        const started = performance.now();
        let elapsed = 0;
        while (elapsed < phaseMs || done < 3) {
          const k = next();
          returned += engine.bound ? engine.bound(phase.sql, phase.values(k)) : engine.text(phase.text(k));
          done++;
          elapsed = performance.now() - started;
        }
        result.rates[i] = done / (elapsed / 1000);
        counts[i] = returned / done;
      }
      // Every engine must return the rows the phase asks for (an UPDATE returns none here).
      if (phase.expect !== null && counts.some((c) => c !== phase.expect)) {
        result.mismatch = counts.map((c) => c.toFixed(1)).join(" / ");
      }
      results.push(result);
    }
    return results;
  };
}
