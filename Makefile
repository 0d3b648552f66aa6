# Dataflow Lab — the two commands: `make serve` and `make test`. Both install what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# Compiled dependencies are kept outside the clone, so a fresh clone (CI) does not rebuild them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/dataflow-lab/target
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export CHROMEDRIVER ?= /usr/bin/chromedriver
# Browser tests block the page while they run; give the slowest one room.
export WASM_BINDGEN_TEST_TIMEOUT ?= 120
WASM := wasm32-unknown-unknown

.PHONY: serve dev build test setup-app setup-test lint test-native test-browser test-page size size-top size-compare bench-page profile-page bench-engine layering clean

## serve: install what is missing, build the release app and serve it at http://127.0.0.1:8080
serve: setup-app
	trunk serve --release

## dev: a fast debug build with live reload (no wasm-opt), at http://127.0.0.1:8080
dev: setup-app
	trunk serve

## build: the release build in dist/
build: setup-app
	trunk build --release

## test: every layer — formatting and lints, native tests, browser tests, release build and its size
## budget, page tests
test: setup-test lint test-native test-browser build size test-page
	@echo "make test: every layer passed"

setup-app:
	@scripts/setup.sh app

setup-test:
	@scripts/setup.sh test

lint: layering
	cargo fmt --check
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy --all-targets --locked --target $(WASM) -- -D warnings

## layering: src/sim stays free of web crates, and native builds never compile Yew
layering:
	@! grep -rnE '\b(yew|web_sys|js_sys|gloo|wasm_bindgen)\b' src/sim || { echo "src/sim must not use web crates"; exit 1; }
	@! cargo tree --locked --edges normal,dev --prefix none | grep -E '^(yew|web-sys|js-sys|wasm-bindgen) ' || { echo "a native build pulls in a web crate"; exit 1; }
	@echo "layering: src/sim uses no web crate; native builds compile no Yew"

## test-native: the native tests, next to a throwaway PostgreSQL (the differential tests' reference)
test-native:
	scripts/with-postgres.sh cargo test --locked

## test-browser: wasm-bindgen tests inside headless Chromium (its profile directories go to a
## temporary TMPDIR, removed afterwards: Chromium leaves ~150 MB per run in /tmp otherwise)
test-browser:
	@t=$$(mktemp -d); TMPDIR=$$t cargo test --locked --target $(WASM); s=$$?; rm -rf "$$t"; exit $$s

## test-page: Playwright against dist/ (run `make build` first; Chromium's TMPDIR as above)
test-page:
	@t=$$(mktemp -d); TMPDIR=$$t node --test tests/e2e/; s=$$?; rm -rf "$$t"; exit $$s

## size: the release build's first load (wasm + JS + CSS), raw, gzip and brotli, against the 1.0 MB budget,
## then the engine the page's workers load
size:
	@node scripts/size.mjs

## size-top: where the page's wasm's bytes go, by crate, raw and gzip (run `make build` first; ~1 min;
## WASM=worker for the engine's)
size-top:
	@node scripts/size-top.mjs

## size-compare: the first load of this build (wasm + JS + CSS) against sql.js, PGlite and DuckDB-WASM,
## raw, gzip and brotli (run `make build` first; fetches those packages from npm into a temporary folder)
size-compare:
	node scripts/compare-sizes.mjs

## bench-engine: our SQL engine against sql.js in one headless Chromium page, statements per second
## (builds the engine's own wasm; fetches sql.js from npm into a temporary folder)
bench-engine: setup-app
	node scripts/bench-engine.mjs

## bench-page: console load and first query, simulator frame times at 1×/16×/max, a jump back (run `make build` first)
bench-page:
	node scripts/bench-page.mjs

## profile-page: where the simulator's main-thread time goes while the shop plays, by phase and by
## function (SPEED=1×|16×|max, MODE=shared|cdc|…; run `make build` first)
profile-page:
	node scripts/profile-page.mjs

clean:
	rm -rf dist target/screenshots
