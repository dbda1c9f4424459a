#!/usr/bin/env bash
# Round trips per phase: how many statements (one round trip each) and sessions pgroster sends
# for a first apply and a no-change plan of N roles on one throwaway cluster, counted from the
# server's own log (log_statement=all, log_connections). A cost that does not grow with N is
# what issue 12 asks of a no-change plan.
#
#   bench/round_trips.sh [N ...]      (default 100 1000; PGROSTER_BIN, PGROSTER_PG_BIN as in run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ns=("$@"); ((${#ns[@]})) || ns=(100 1000)
pgbin=${PGROSTER_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
bin=${PGROSTER_BIN:-$root/target/release/pgroster}
[[ -x $bin ]] || { echo "round_trips: $bin missing (cargo build --release)" >&2; exit 1; }
work=$(mktemp -d /tmp/pgroster-rt.XXXXXX); chmod 755 "$work"
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
data=$work/data
cleanup() { as_pg "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" >"$work/pwfile"
[[ $(id -u) == 0 ]] && chown postgres "$work" "$work/pwfile"
as_pg "$pgbin/initdb" -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$work/pwfile" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$pgbin/pg_ctl" -D "$data" -l "$work/server.log" -w -o "-p $port -k $work \
  -c listen_addresses=127.0.0.1 -c log_statement=all -c log_connections=on" start >/dev/null
export PGROSTER_BENCH_ADMIN_USER=postgres PGROSTER_BENCH_ADMIN_PASS=$password NO_COLOR=1
PGPASSWORD=$password psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE benchdb"
# statements and sessions logged while one command runs
count() {
  local before after
  before=$(wc -l <"$work/server.log")
  "$@" >/dev/null 2>&1 || true
  after=$(tail -n +"$((before + 1))" "$work/server.log")
  printf '%s %s\n' "$(grep -c -E 'LOG:  (statement|execute [^:]*):' <<<"$after")" \
    "$(grep -c 'connection authorized' <<<"$after")"
}
printf '| N roles | phase | statements (round trips) | sessions |\n|---|---|---|---|\n'
for n in "${ns[@]}"; do
  cfg=$work/cfg$n; mkdir -p "$cfg"
  python3 "$here/gen_config.py" --port "$port" "$n" "$cfg" >/dev/null
  read -r s c < <(count "$bin" -c "$cfg" apply --auto-approve)
  printf '| %s | first apply | %s | %s |\n' "$n" "$s" "$c"
  read -r s c < <(count "$bin" -c "$cfg" plan --detailed-exitcode)
  printf '| %s | no-change plan | %s | %s |\n' "$n" "$s" "$c"
  PGPASSWORD=$password psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d benchdb -c \
    "DO \$\$DECLARE r record; BEGIN FOR r IN SELECT rolname FROM pg_roles WHERE rolname ~ '^(u[0-9]{6}|app_(rw|ro|admin))\$' LOOP
       EXECUTE format('DROP OWNED BY %I', r.rolname); EXECUTE format('DROP ROLE %I', r.rolname); END LOOP; END\$\$" >/dev/null
done
