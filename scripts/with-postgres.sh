#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server, and removes the server afterwards.
#
#   scripts/with-postgres.sh cargo test --locked
#
# The server is Debian's `postgresql` package (scripts/setup.sh installs it where missing): a
# fresh cluster is made with initdb in a temporary directory, owned by an unprivileged user
# (`postgres` when this runs as root, since PostgreSQL refuses to run as root), listening on a
# Unix socket in that directory only (no TCP port). The command gets its address in
# DATAFLOW_LAB_PG (a libpq connection string). When the command ends — passing, failing or
# interrupted — the server is stopped and the directory deleted: nothing is left running.
set -euo pipefail

say() { printf '\033[1mpostgres:\033[0m %s\n' "$*" >&2; }

[ "$#" -gt 0 ] || {
  echo "usage: scripts/with-postgres.sh COMMAND [ARGS…]" >&2
  exit 2
}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "PostgreSQL is not installed: run scripts/setup.sh test (it installs Debian's postgresql)" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/dataflow-lab-pg.XXXXXX")
if [ "$(id -u)" = 0 ]; then
  owner=postgres
  id "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
  chown "$owner" "$dir"
  as_owner() { setpriv --reuid="$owner" --regid="$(id -g "$owner")" --init-groups -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi
chmod 700 "$dir"

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

as_owner "$bindir/initdb" -D "$dir/data" -U "$owner" --auth=trust -E UTF8 --locale=C --no-sync \
  >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  exit 1
}
# Socket only; settings for many short sessions: no fsync, no autovacuum (its ANALYZE would
# change plans mid-run), a short deadlock_timeout so a cycle of waits is broken quickly.
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s start -o \
  "-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
   -c autovacuum=off -c deadlock_timeout=10ms -c max_connections=40" || {
  cat "$dir/server.log" >&2
  exit 1
}
version=$("$bindir/postgres" --version)
say "$version running in $dir (socket only), stopped when the command ends"

export DATAFLOW_LAB_PG="host=$dir user=$owner dbname=postgres"
"$@"
