// A small static file server for dist/ on 127.0.0.1 (a free port), for the page tests; reached as
// localhost too, it is a second origin.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const DIST = new URL("../../dist/", import.meta.url).pathname;
// Test pages that are not the app's (a host page for embeds), served under /__fixtures__/.
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".toml": "text/plain; charset=utf-8",
};

/** Serves dist/ (or another folder, `root`); resolves to { url, close }. */
export async function serveDist(root = DIST) {
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, "http://127.0.0.1").pathname);
    const [base, rest] = path.startsWith("/__fixtures__/") ? [FIXTURES, path.slice("/__fixtures__".length)] : [root, path];
    const file = normalize(join(base, rest.endsWith("/") ? `${rest}index.html` : rest));
    if (!file.startsWith(base)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}`);
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
