#!/usr/bin/env bash
# Installs what Dataflow Lab needs, and only what is missing. Quiet when everything is there.
#
#   scripts/setup.sh app    what `make serve` needs: the wasm32 target, Trunk, wasm-bindgen-cli
#                           (at the version in Cargo.lock), wasm-opt (npm binaryen), the crates
#   scripts/setup.sh test   all of the above, plus rustfmt/clippy, Chromium and chromedriver
#                           (Debian packages), playwright-core (npm) and PostgreSQL (Debian's
#                           postgresql, the reference of the differential tests)
#
# Nothing is downloaded at build time afterwards: Trunk.toml sets `offline = true`.
set -euo pipefail

mode=${1:-app}
case "$mode" in
  app | test) ;;
  *)
    echo "usage: scripts/setup.sh [app|test]" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"

TRUNK_VERSION=0.21.14 # 0.22 needs a newer rustc than these machines have
BINARYEN_VERSION=132  # must match Trunk.toml [tools] wasm_opt and package.json

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
fail() {
  printf '\033[1;31msetup failed:\033[0m %s\n' "$*" >&2
  exit 1
}

command -v cargo >/dev/null || fail "cargo is missing: install Rust with rustup (https://rustup.rs) first."
command -v rustup >/dev/null || fail "rustup is missing: it is needed to add the wasm32 target."

# --- the versions the build expects -------------------------------------------------------------
wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$wasm_bindgen_version" ] || fail "Cargo.lock names no wasm-bindgen version."
trunk_pin=$(sed -n 's/^wasm_bindgen *= *"\([^"]*\)".*/\1/p' Trunk.toml)
[ "$trunk_pin" = "$wasm_bindgen_version" ] ||
  fail "Trunk.toml pins wasm-bindgen $trunk_pin but Cargo.lock has $wasm_bindgen_version: make them equal."

# --- Rust: the wasm32 target (and the linters for the tests) ------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the Rust target wasm32-unknown-unknown (seconds)"
  rustup target add wasm32-unknown-unknown
fi
if [ "$mode" = test ]; then
  for component in rustfmt clippy; do
    if ! rustup component list --installed | grep -q "^$component"; then
      say "adding the Rust component $component"
      rustup component add "$component"
    fi
  done
fi

# --- Trunk, the bundler ------------------------------------------------------------------------
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing Trunk $TRUNK_VERSION from source: this takes 5 to 20 minutes on 2 cores, once"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi

# --- wasm-bindgen-cli, at exactly the version of the wasm-bindgen crate ------------------------
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ] ||
  ! command -v wasm-bindgen-test-runner >/dev/null; then
  say "installing wasm-bindgen-cli $wasm_bindgen_version (it must equal Cargo.lock's wasm-bindgen): about 4 minutes, once"
  # Without --locked: its lock file wants a crate release the registry mirror may lack.
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --force
fi

# --- npm packages: wasm-opt (binaryen) and playwright-core -------------------------------------
if ! command -v npm >/dev/null; then
  say "installing Node.js and npm (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
  [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "$BINARYEN_VERSION" ]; then
  say "installing npm packages: binaryen@$BINARYEN_VERSION (wasm-opt) and playwright-core (seconds)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- crates, so that the offline build finds them -----------------------------------------------
if ! cargo fetch --locked --quiet --offline 2>/dev/null; then
  say "fetching the crates the build needs"
  cargo fetch --locked --quiet
fi

# --- the browser for the tests -----------------------------------------------------------------
if [ "$mode" = test ]; then
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    say "installing Chromium and chromedriver (Debian packages chromium, chromium-driver): about a minute"
    [ "$(id -u)" = 0 ] || fail "installing Debian packages needs root (or run: sudo apt-get install chromium chromium-driver)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  # --- PostgreSQL, the reference the differential tests compare the simulator with ------------
  # (scripts/with-postgres.sh starts a throwaway server for the tests and stops it after.)
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    say "installing PostgreSQL (Debian package postgresql) for the differential tests: about a minute"
    [ "$(id -u)" = 0 ] || fail "installing Debian packages needs root (or run: sudo apt-get install postgresql)"
    apt-get update -qq
    # The package would start a cluster of its own; the tests never use it.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    service postgresql stop >/dev/null 2>&1 || true
  fi
fi
exit 0
