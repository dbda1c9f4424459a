#!/usr/bin/env bash
# pgroster's own benchmark: N login roles on a fresh throwaway PostgreSQL cluster per repetition.
#
#   bench/run.sh [-r REPS] [-t CAP_S] [-B] [-o OUT_MD] [N ...]      (default: -r 3 -t 300 1000 10000 100000)
#
#   -r REPS   repetitions per N, each on a fresh cluster (median reported)           [3]
#   -t CAP_S  cap (timeout) on any single pgroster command; a capped phase is reported [300]
#   -B        do not run `cargo build --release` first (use the existing binary)
#   -o FILE   where the markdown table goes                           [bench/results/latest.md]
#   PGROSTER_BIN   binary to measure (default target/release/pgroster, copied aside first so a
#                  concurrent rebuild cannot swap it mid-run)
#   PGROSTER_PG_BIN  PostgreSQL server binaries (default: newest /usr/lib/postgresql/*/bin)
#
# Per N and repetition: initdb'd cluster (stock settings, fsync on, scram auth with a random admin
# password; as root the server runs as the `postgres` OS user), one database `benchdb`, and a config
# dir from bench/gen_config.py (3 NOLOGIN groups + N login roles u000001.., memberships, CREATEDB on
# every 4th, `password: none`). Each command runs under /usr/bin/time -f '%e %M':
#   (a) apply     pgroster apply --auto-approve                  (first apply: creates everything)
#   (b) plan      pgroster plan --detailed-exitcode              (no changes: must exit 0)
#   (c) validate  pgroster validate                              (config only, no database)
# and once per N on another fresh cluster:
#   (d) apply_pw  the same roles with `password` omitted, so pgroster generates one per role and sends
#                 its SCRAM-SHA-256 verifier (4096 PBKDF2 rounds each): apply --auto-approve
#                 --credentials-out FILE
# After each apply the catalog is checked (role, membership, CREATEDB and SCRAM verifier counts).
# Any failed check makes the script exit 1 after printing the table.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
reps=3 cap=300 build=1 out_md=$here/results/latest.md
while getopts r:t:Bo: opt; do
  case $opt in
    r) reps=$OPTARG ;; t) cap=$OPTARG ;; B) build=0 ;; o) out_md=$OPTARG ;;
    *) sed -n '2,28p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
ns=("$@")
((${#ns[@]})) || ns=(1000 10000 100000)

pgbin=${PGROSTER_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[[ -x "$pgbin/initdb" ]] || { echo "bench: no PostgreSQL server binaries found; set PGROSTER_PG_BIN" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

if ((build)) && [[ -z ${PGROSTER_BIN:-} ]]; then
  cargo build --quiet --release --manifest-path "$root/Cargo.toml"
fi
src_bin=${PGROSTER_BIN:-$root/target/release/pgroster}
[[ -x $src_bin ]] || { echo "bench: $src_bin missing (cargo build --release)" >&2; exit 1; }

work=$(mktemp -d /tmp/pgroster-bench.XXXXXX)
chmod 755 "$work"
bin=$work/pgroster
cp "$src_bin" "$bin"

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
running=""   # data dir of the cluster currently up
stop_cluster() {
  if [[ -n $running ]]; then
    as_pg "$pgbin/pg_ctl" -D "$running" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$running"
    running=""
  fi
}
cleanup() { stop_cluster; [[ -n ${KEEP:-} ]] && echo "bench: kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

admin_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$admin_password" >"$work/pwfile"
[[ $(id -u) == 0 ]] && chown postgres "$work" "$work/pwfile"
as_pg "$pgbin/initdb" -D "$work/template" -U postgres --auth=scram-sha-256 --pwfile="$work/pwfile" \
  --encoding=UTF8 --locale=C >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
export PGROSTER_BENCH_ADMIN_USER=postgres PGROSTER_BENCH_ADMIN_PASS=$admin_password PGROSTER_ACTOR=bench
export NO_COLOR=1

psql=psql; [[ -x $pgbin/psql ]] && psql=$pgbin/psql
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=""
start_cluster() {
  stop_cluster
  port=$(free_port)
  local data=$work/pg$port
  as_pg cp -a "$work/template" "$data"
  as_pg "$pgbin/pg_ctl" -D "$data" -l "$work/pg$port.log" -w \
    -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
  running=$data
  PGPASSWORD=$admin_password "$psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE benchdb"
}
psql_admin() {
  PGPASSWORD=$admin_password "$psql" -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d benchdb "$@"
}

raw=$work/raw.tsv
printf 'n\trep\tphase\twall_s\thires_s\trss_kb\trc\tload1\tok\n' >"$raw"
failures=0
# measure N REP PHASE STDOUT -- cmd...   (sets M_RC)
measure() {
  local n=$1 rep=$2 phase=$3 stdout=$4; shift 5
  local tf=$work/time.$phase t0 t1 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s%N)
  /usr/bin/time -f '%e %M' -o "$tf" timeout -k 5 "$cap" "$@" >"$stdout" 2>"$work/$phase-$n-$rep.err" && M_RC=0 || M_RC=$?
  t1=$(date +%s%N)
  read -r M_WALL M_RSS < <(tail -n 1 "$tf")
  M_HIRES=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}')
  M_LINE=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$n" "$rep" "$phase" "$M_WALL" "$M_HIRES" "$M_RSS" "$M_RC" "$load")
}
record() { # OK
  printf '%s\t%s\n' "$M_LINE" "$1" >>"$raw"
  local n rep phase wall hires rss rc load; IFS=$'\t' read -r n rep phase wall hires rss rc load <<<"$M_LINE"
  printf '  n=%-7s rep%s %-9s wall=%7ss (hi-res %s) rss=%6s KiB rc=%s load=%s %s\n' \
    "$n" "$rep" "$phase" "$wall" "$hires" "$rss" "$rc" "$load" "$1"
  [[ $1 == ok || $1 == CAPPED* ]] || failures=$((failures + 1))
}
fail_detail() { echo "    FAILED: $1; stderr:"; sed 's/^/      /' "$2" | head -20; }
# first stderr line, made safe for the TSV and the markdown table
reason() { grep -m1 . "$1" 2>/dev/null | tr '\t|' '  ' | cut -c1-160; }

# check_catalog EXPECTED_JSON WANT_PASSWORDS -> "ok" or a reason
check_catalog() {
  local got
  got=$(psql_admin -F' ' -c "
    SELECT (SELECT count(*) FROM pg_roles WHERE rolname ~ '^u[0-9]{6}\$' AND rolcanlogin),
           (SELECT count(*) FROM pg_roles WHERE rolname ~ '^u[0-9]{6}\$' AND rolcreatedb),
           (SELECT count(*) FROM pg_roles WHERE rolname IN ('app_rw','app_ro','app_admin') AND NOT rolcanlogin),
           (SELECT count(*) FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member
             WHERE m.rolname ~ '^u[0-9]{6}\$'),
           (SELECT count(*) FROM pg_authid WHERE rolname ~ '^u[0-9]{6}\$'
             AND rolpassword LIKE 'SCRAM-SHA-256\$4096:%')")
  python3 - "$1" "$2" "$got" <<'PY'
import json, sys
e = json.loads(sys.argv[1]); pw = int(sys.argv[2])
login, createdb, groups, members, scram = map(int, sys.argv[3].split())
want = dict(login=e["login"], createdb=e["createdb"], groups=3, memberships=e["memberships"],
            scram=e["login"] if pw else 0)
got = dict(login=login, createdb=createdb, groups=groups, memberships=members, scram=scram)
bad = ["%s=%d/%d" % (k, got[k], want[k]) for k in want if got[k] != want[k]]
print("ok" if not bad else "CATALOG:" + ",".join(bad))
PY
}

pg_version=$("$pgbin/postgres" --version)
git_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" diff --name-only HEAD -- src Cargo.toml Cargo.lock 2>/dev/null | tr '\n' ' ')
[[ -z $dirty ]] || git_rev="$git_rev+uncommitted changes in ${dirty% }"
echo "bench: pgroster $("$bin" --version 2>/dev/null | awk '{print $2}') ($git_rev), $pg_version, N=${ns[*]}, reps=$reps, cap=${cap}s"

for n in "${ns[@]}"; do
  cfg=$work/cfg-$n capped_apply=0 failed_applies=0
  for ((rep = 1; rep <= reps; rep++)); do
    start_cluster
    rm -rf "$cfg"
    expected=$(python3 "$here/gen_config.py" "$n" "$cfg" --port "$port")
    # (a) first apply
    measure "$n" "$rep" apply /dev/null -- "$bin" -c "$cfg" apply --auto-approve
    if ((M_RC == 124 || M_RC == 137)); then
      record "CAPPED_AT_${cap}s"
      echo "    apply did not finish within ${cap}s: no plan, no further repetitions, no generated-password run for N=$n"
      capped=1 capped_apply=1
    elif ((M_RC != 0)); then
      record "RC$M_RC: $(reason "$work/apply-$n-$rep.err")"; fail_detail "apply rc $M_RC" "$work/apply-$n-$rep.err"; capped=1
      failed_applies=$((failed_applies + 1))
    else
      ok=$(check_catalog "$expected" 0); record "$ok"; capped=0
    fi
    # (b) no-change plan: must exit 0
    if ((!capped)); then
      measure "$n" "$rep" plan "$work/plan-$n-$rep.out" -- "$bin" -c "$cfg" plan --detailed-exitcode
      if ((M_RC == 0)); then record ok
      else
        record "NOT_CLEAN_rc$M_RC: $(reason "$work/plan-$n-$rep.err")"; fail_detail "no-change plan exited $M_RC" "$work/plan-$n-$rep.err"
        head -20 "$work/plan-$n-$rep.out" | sed 's/^/      /'
      fi
    fi
    # (c) validate
    measure "$n" "$rep" validate /dev/null -- "$bin" -c "$cfg" validate
    if ((M_RC == 0)); then record ok
    elif ((M_RC == 124 || M_RC == 137)); then record "CAPPED_AT_${cap}s"
    else record "RC$M_RC: $(reason "$work/validate-$n-$rep.err")"; fail_detail "validate rc $M_RC" "$work/validate-$n-$rep.err"; fi
    stop_cluster
    if ((capped_apply)); then break; fi
  done
  if ((capped_apply)); then continue; fi
  if ((failed_applies == reps)); then
    echo "    every apply failed for N=$n: no generated-password run"
    continue
  fi

  # (d) generated passwords, once per N
  start_cluster
  cfgpw=$work/cfgpw-$n
  rm -rf "$cfgpw" "$work/credentials-$n.json"
  expected=$(python3 "$here/gen_config.py" "$n" "$cfgpw" --port "$port" --passwords generated)
  measure "$n" 1 apply_pw /dev/null -- "$bin" -c "$cfgpw" apply --auto-approve --credentials-out "$work/credentials-$n.json"
  if ((M_RC == 124 || M_RC == 137)); then record "CAPPED_AT_${cap}s"
    echo "    apply with generated passwords did not finish within ${cap}s"
  elif ((M_RC != 0)); then record "RC$M_RC: $(reason "$work/apply_pw-$n-1.err")"; fail_detail "apply (generated passwords) rc $M_RC" "$work/apply_pw-$n-1.err"
  else
    ok=$(check_catalog "$expected" 1)
    creds=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d if isinstance(d,list) else d.get("credentials",d); print(len(d))' "$work/credentials-$n.json" 2>/dev/null || echo "?")
    [[ $ok == ok && $creds != "$n" ]] && ok="CREDENTIALS:$creds/$n"
    record "$ok"
  fi
  rm -f "$work/credentials-$n.json"
  stop_cluster
done

mkdir -p "$(dirname "$out_md")"
python3 "$here/summarize.py" "$raw" --binary "pgroster $("$bin" --version | awk '{print $2}') ($git_rev)" \
  --postgres "$pg_version" --reps "$reps" --cap "$cap" >"$out_md"
cp "$raw" "${out_md%.md}.tsv"
echo
cat "$out_md"
echo "bench: table written to $out_md (raw: ${out_md%.md}.tsv)"
if grep -q CAPPED "$raw"; then echo "bench: some commands hit the ${cap}s cap (reported as capped in the table)" >&2; fi
if ((failures)); then echo "bench: $failures check(s) FAILED (see above)" >&2; exit 1; fi
