// Where the page's WebAssembly goes, by crate: `make size-top` (after `make build`);
// `WASM=worker make size-top` for the engine's, which the page's Web Workers load.
//
// The shipped .wasm has no names (wasm-opt strips them), so this script remakes it from Cargo's
// output of the same build, the way Trunk does (wasm-bindgen, then wasm-opt -Oz) but keeping the
// name section (`-g`). It then sums each function's code by the crate its name starts with —
// generic code of core, alloc and std instantiated for another crate's types counts for that
// crate — and gives each crate's share of the compressed file as what gzip -9 saves when its
// functions are left out. The data section (strings, Unicode tables) is one row of its own: its
// bytes carry no names. Figures are close to, not equal to, the shipped file's.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, ".cache/dataflow-lab/target");
const bin = process.env.WASM === "worker" ? "dataflow-lab-worker" : "dataflow-lab-web";
const built = join(target, `wasm32-unknown-unknown/wasm-release/${bin}.wasm`);
const rows = Number(process.argv[2] ?? 25);

if (!existsSync(built)) {
  console.error(`size-top: no ${built}; run \`make build\` first`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "size-top-"));
try {
  execFileSync("wasm-bindgen", ["--target", "web", "--no-typescript", "--out-dir", work, "--out-name", "app", built]);
  const named = join(work, "named.wasm");
  execFileSync("wasm-opt", ["-Oz", "-g", "--enable-bulk-memory", "--enable-nontrapping-float-to-int",
    "--enable-sign-ext", "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue",
    join(work, "app_bg.wasm"), "-o", named]);
  report(readModule(readFileSync(named)));
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** The module's function bodies with their names, and its data section. */
function readModule(bytes) {
  let at = 8;
  const leb = () => {
    let value = 0;
    let shift = 0;
    let byte;
    do {
      byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const skipLimits = () => {
    const flags = bytes[at++];
    leb();
    if (flags & 1) leb();
  };
  let imported = 0;
  const bodies = [];
  const names = new Map();
  let data = Buffer.alloc(0);
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 0) {
      const length = leb();
      const section = bytes.subarray(at, at + length).toString();
      at += length;
      while (section === "name" && at < end) {
        const kind = bytes[at++];
        const next = leb() + at;
        if (kind === 1) {
          for (let count = leb(); count > 0; count--) {
            const index = leb();
            const length = leb();
            names.set(index, bytes.subarray(at, at + length).toString());
            at += length;
          }
        }
        at = next;
      }
    } else if (id === 2) {
      for (let count = leb(); count > 0; count--) {
        for (let part = 0; part < 2; part++) {
          const length = leb(); // the module's name, then the field's
          at += length;
        }
        const kind = bytes[at++];
        if (kind === 0) {
          leb();
          imported++;
        } else if (kind === 1) {
          at++;
          skipLimits();
        } else if (kind === 2) {
          skipLimits();
        } else {
          at += 2;
        }
      }
    } else if (id === 10) {
      for (let count = leb(); count > 0; count--) {
        const length = leb();
        bodies.push({ name: names.get(bodies.length + imported), code: bytes.subarray(at, at + length) });
        at += length;
      }
    } else if (id === 11) {
      data = bytes.subarray(at, end);
    }
    at = end;
  }
  // The name section comes after the code section: name the bodies now.
  for (const [i, body] of bodies.entries()) body.name = names.get(i + imported) ?? "";
  return { bodies, data };
}

/**
 * The crate a function belongs to, from its name (demangled by wasm-bindgen): the first path's
 * crate, unless that is core, alloc or std, in which case the first other crate the name
 * mentions (so `core::ptr::drop_in_place<toml_edit::item::Item>` is toml_edit's).
 */
function crateOf(name) {
  const crates = [...name.matchAll(/(?<![A-Za-z0-9_:])([a-z_][a-z0-9_]*)::/g)].map((m) => m[1]);
  const own = crates.find((c) => !["core", "alloc", "std", "impl"].includes(c));
  if (own) return own;
  if (crates.length > 0) return crates[0];
  if (/^__w(bg|bindgen)/.test(name)) return "wasm_bindgen";
  return "(runtime: allocator, builtins)";
}

function report({ bodies, data }) {
  const groups = new Map();
  for (const [i, body] of bodies.entries()) {
    const crate = crateOf(body.name);
    if (!groups.has(crate)) groups.set(crate, []);
    groups.get(crate).push(i);
  }
  const gzip = (buffers) => gzipSync(Buffer.concat(buffers), { level: 9 }).length;
  const code = bodies.map((b) => b.code);
  const whole = gzip([...code, data]);
  const raw = (indices) => indices.reduce((sum, i) => sum + code[i].length, 0);
  const table = [...groups].map(([crate, indices]) => ({ crate, raw: raw(indices), indices }));
  table.sort((a, b) => b.raw - a.raw);
  const kB = (n) => (n / 1000).toFixed(1).padStart(8);
  console.log(`${"crate".padEnd(28)} ${"raw kB".padStart(8)} ${"gzip kB".padStart(8)}  share`);
  const shown = table.slice(0, rows);
  for (const { crate, raw: bytes, indices } of shown) {
    const left = new Set(indices);
    const saved = whole - gzip([...code.filter((_, i) => !left.has(i)), data]);
    console.log(`${crate.padEnd(28)} ${kB(bytes)} ${kB(saved)}  ${((100 * saved) / whole).toFixed(1).padStart(4)}%`);
  }
  const dataSaved = whole - gzip(code);
  console.log(`${"(data: strings, tables)".padEnd(28)} ${kB(data.length)} ${kB(dataSaved)}  ${((100 * dataSaved) / whole).toFixed(1).padStart(4)}%`);
  const rest = table.slice(rows);
  console.log(`${`(${rest.length} more crates)`.padEnd(28)} ${kB(rest.reduce((s, r) => s + r.raw, 0))}`);
  console.log(`${"code and data".padEnd(28)} ${kB(code.reduce((s, c) => s + c.length, 0) + data.length)} ${kB(whole)}`);
}
