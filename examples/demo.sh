#!/usr/bin/env bash
# A real demo: starts two throwaway PostgreSQL clusters on this machine, then runs
# validate -> plan -> apply -> plan (no changes) -> audit on examples/config.
# Needs PostgreSQL server binaries (PGROSTER_PG_BIN, else the newest /usr/lib/postgresql/*/bin).
# Builds the release binary, unless PGROSTER_BIN names one (CI runs the demo with its debug build).
# Exits non-zero when a step fails or a plan after apply still shows changes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${PGROSTER_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[[ -x "$bin/initdb" ]] || { echo "no PostgreSQL server binaries found; set PGROSTER_PG_BIN" >&2; exit 1; }

work=$(mktemp -d /tmp/pgroster-demo.XXXXXX)
chmod 755 "$work"
# initdb refuses root: run the servers as the postgres OS user then.
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ $(id -u) == 0 ]] && chown postgres "$work"

admin_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$admin_password" > "$work/pwfile"
[[ $(id -u) == 0 ]] && chown postgres "$work/pwfile"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ports=()
cleanup() {
  for p in "${ports[@]}"; do as_pg "$bin/pg_ctl" -D "$work/pg$p" -m fast stop >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting two throwaway clusters (PostgreSQL from $bin)"
as_pg "$bin/initdb" -D "$work/template" -U postgres --auth=scram-sha-256 --pwfile="$work/pwfile" >/dev/null
for i in 1 2; do
  port=$(free_port)
  ports+=("$port")
  as_pg cp -a "$work/template" "$work/pg$port"
  as_pg "$bin/pg_ctl" -D "$work/pg$port" -l "$work/pg$port.log" -w \
    -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
done
export PGPASSWORD=$admin_password
psql_as_admin() { "$bin/psql" -X -q -h 127.0.0.1 -U postgres -d postgres "$@"; }
for db in app_dev_main app_qa_main; do psql_as_admin -p "${ports[0]}" -c "CREATE DATABASE $db"; done
for db in app_uat_main app_prod_main app_prod_reports; do psql_as_admin -p "${ports[1]}" -c "CREATE DATABASE $db"; done
psql_as_admin -p "${ports[1]}" -d app_prod_reports -c \
  "CREATE SCHEMA reports; CREATE TABLE reports.daily (day date, total numeric); CREATE TABLE reports.monthly (month date, total numeric)"
unset PGPASSWORD

cp "$here/config/roles.yaml" "$work/"
sed -e "s/port = 54321/port = ${ports[0]}/" -e "s/port = 54322/port = ${ports[1]}/" \
  "$here/config/registry.toml" > "$work/registry.toml"
export PG_ADMIN_USER=postgres PG_ADMIN_PASS=$admin_password PGROSTER_ACTOR=demo

if [[ -z ${PGROSTER_BIN:-} ]]; then
  # Not --quiet: a first release build takes minutes, and cargo's progress (a bar on a
  # terminal, one line per crate when piped) shows it is working.
  echo "== building pgroster (release; the first build takes a few minutes)"
  cargo build --release --manifest-path "$root/Cargo.toml"
  PGROSTER_BIN=$root/target/release/pgroster
fi
pgroster() { echo; echo "\$ pgroster $*"; "$PGROSTER_BIN" -c "$work" "$@"; }

pgroster validate
pgroster plan || true
pgroster apply --auto-approve --credentials-out "$work/credentials.json"
echo "(credentials.json: $(stat -c '%a' "$work/credentials.json") permissions, $(grep -c '"role"' "$work/credentials.json") entries)"
pgroster plan --detailed-exitcode; echo "(exit code 0: no drift)"

echo
echo "== drift: someone grants INSERT on reports.daily to analyst01 by hand"
PGPASSWORD=$admin_password psql_as_admin -p "${ports[1]}" -d app_prod_reports -c "GRANT INSERT ON reports.daily TO analyst01"
pgroster plan --detailed-exitcode --target prod || echo "(exit code $?: drift)"
pgroster apply --auto-approve --target prod
pgroster plan --detailed-exitcode; echo "(exit code 0: no drift)"
pgroster show analyst01 --target prod/app_prod_reports
pgroster audit --env prod
