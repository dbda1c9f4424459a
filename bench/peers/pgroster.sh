#!/usr/bin/env bash
# pgroster as a peer in ../shared/bench/peers (run.sh's tools/NAME.sh contract; see tools/template.sh).
# Install (not committed there): from the pgroster repo,
#   cargo build --release && install -D target/release/pgroster /tmp/pgroster-peer/bin/pgroster
#   cp bench/peers/pgroster.sh /work/shared/bench/peers/tools/pgroster.sh
#   cd /work/shared/bench/peers && ./run.sh -s roles -x "ldap2pg pgroster" -r 3 1000 10000
#
#   tools/pgroster.sh PHASE DIR
#
# PHASE   apply     pgroster -c CFG apply --auto-approve
#         nochange  pgroster -c CFG plan --detailed-exitcode   (rc 2 = changes: passed on, so run.sh flags it)
#         driftdry  pgroster -c CFG plan                       (reads only; rc 0 with or without changes)
#         startup   pgroster --version
# CFG     DIR/pgroster.cfg/, converted from DIR/desired.json ONCE and cached (keyed on desired.json's
#         size and mtime, PGHOST/PGPORT/PGDATABASE and this script's CONVERT_VERSION): registry.toml
#         with one entry (env `bench`, database $PGDATABASE on $PGHOST:$PGPORT), no admin_*_env
#         settings, so the connection uses libpq's PGUSER (trust auth); ignore_roles = pg_*, postgres
#         and desired.json's unmanaged_roles; roles.yaml with every role, `password: none` (the other
#         tools set no passwords), targets ["bench/*"]. The conversion (python3) runs inside the first
#         timed apply of each N only; its cost is printed to stderr as "pgroster.sh: converted ...".
#         The audit log (CFG/pgroster-audit.db) is removed before each apply, so every repetition
#         starts with an empty one, as it starts with a fresh cluster.
# CHANGE  one line per change line of pgroster's text plan (apply prints its plan first): every
#         indented `+`/`~`/`-` line under a role, i.e. each attribute of a new role, each attribute
#         change, each membership grant/revoke, each setting and each marker comment; a role line
#         with no such lines (a drop) counts once. After gen.py's drift every drifted role has exactly
#         one change line (a CREATEDB flip or a missing membership).
# Grants  desired.json's grants (scenario `acl`) become the role's `grants`: `on: schema` as
#         `on: schemas` with its names; `on: tables` as `on: tables, schemas: [s]` when the names
#         are every table of schema s that desired.json lists (as ldap2pg's
#         __select_on_all_tables__, no `future`: the scenario has no default privileges), else
#         `on: table` with the names. Any other grant shape is refused (rc 1), never half applied.
# Note    pgroster writes a COMMENT ON ROLE marker ("managed by pgroster") on every role it manages;
#         the peers' fingerprint.sql does not compare comments, so this extra write is not compared.
set -euo pipefail
phase=${1:?usage: $0 apply|nochange|driftdry|startup DIR} dir=${2:?usage: $0 PHASE DIR}
PGROSTER=${PGROSTER:-/tmp/pgroster-peer/bin/pgroster}
export NO_COLOR=1
CONVERT_VERSION=2

if [[ $phase == startup ]]; then exec "$PGROSTER" --version; fi

cfg=$dir/pgroster.cfg
stamp="$CONVERT_VERSION $(stat -c '%s %Y' "$dir/desired.json") ${PGHOST:-127.0.0.1} ${PGPORT:-5432} ${PGDATABASE:-postgres}"
if [[ ! -f $cfg/.stamp || $(<"$cfg/.stamp") != "$stamp" ]]; then
  t0=$(date +%s%N)
  rm -rf "$cfg"
  mkdir -p "$cfg"
  # /usr/bin/python3 when present: a pyenv shim in PATH costs ~0.4 s of start-up
  py=python3; [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
  "$py" - "$dir/desired.json" "$cfg" "${PGHOST:-127.0.0.1}" "${PGPORT:-5432}" "${PGDATABASE:-postgres}" <<'PY'
import json, sys
src, cfg, host, port, database = sys.argv[1:6]
state = json.load(open(src))
q = json.dumps  # JSON strings are valid TOML basic strings and YAML double-quoted scalars
tables_by_schema = {}
for t in state.get("tables", []):
    schema, _, name = t.partition(".")
    tables_by_schema.setdefault(schema, set()).add(t)
grants_of = {}
for g in state.get("grants", []):
    if g["on"] == "schema":
        grant = "{ on: schemas, names: [%s], privileges: [%s] }" % (q(g["name"]), q(g["privilege"]))
    elif g["on"] == "tables":
        names = set(g["names"])
        schemas = {n.partition(".")[0] for n in names}
        if len(schemas) == 1 and names == tables_by_schema.get(next(iter(schemas))):
            grant = "{ on: tables, schemas: [%s], privileges: [%s] }" % (q(next(iter(schemas))), q(g["privilege"]))
        else:
            grant = "{ on: table, names: [%s], privileges: [%s] }" % (
                ", ".join(q(n) for n in sorted(names)), q(g["privilege"]))
    else:
        sys.exit("pgroster.sh: a grant on %r is not translated; refusing rather than half applying" % g["on"])
    grants_of.setdefault(g["role"], []).append(grant)  # JSON strings are valid TOML basic strings and YAML double-quoted scalars
ignore = ["pg_*", "postgres"] + [r for r in state.get("unmanaged_roles", []) if r not in ("pg_*", "postgres")]
with open(cfg + "/registry.toml", "w") as f:
    f.write("[settings]\nignore_roles = [%s]\n\n[[databases]]\nenv = \"bench\"\nname = %s\nhost = %s\nport = %d\n"
            % (", ".join(q(r) for r in ignore), q(database), q(host), int(port)))
out = ["roles:"]
for r in state["roles"]:
    out.append("  - name: %s" % q(r["name"]))
    if r.get("login"):
        out.append("    login: true")
    if r.get("createdb"):
        out.append("    createdb: true")
    if r.get("member_of"):
        out.append("    member_of: [%s]" % ", ".join(q(g) for g in r["member_of"]))
    out.append("    password: none")
    out.append('    targets: ["bench/*"]')
    if r["name"] in grants_of:
        out.append("    grants:")
        out.extend("      - " + g for g in grants_of[r["name"]])
with open(cfg + "/roles.yaml", "w") as f:
    f.write("\n".join(out) + "\n")
PY
  printf '%s' "$stamp" >"$cfg/.stamp"
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" -v d="$dir" 'BEGIN{printf "pgroster.sh: converted %s/desired.json in %.3f s (cached for the next phases)\n", d, (b-a)/1e9}' >&2
fi

# One CHANGE line per change line of the text plan (see the header).
changes() {
  awk '/^  [-+~] role /{ if (role != "" && !n) print "CHANGE " role; role = $0; sub(/^ +/, "", role); n = 0; next }
       /^      [-+~] /{ line = $0; sub(/^ +/, "", line); print "CHANGE " role ": " line; n++; next }
       /^[^ ]/{ if (role != "" && !n) print "CHANGE " role; role = "" }
       END{ if (role != "" && !n) print "CHANGE " role }'
}

run() { # prints pgroster's output, then the CHANGE lines; returns pgroster's exit code
  local rc=0
  "$PGROSTER" -c "$cfg" "$@" >"$cfg/last-output.txt" || rc=$?
  cat "$cfg/last-output.txt"
  changes <"$cfg/last-output.txt"
  return "$rc"
}

case $phase in
  apply)
    rm -f "$cfg/pgroster-audit.db" "$cfg/pgroster-audit.db-wal" "$cfg/pgroster-audit.db-shm"
    run apply --auto-approve ;;
  nochange)
    run plan --detailed-exitcode ;;   # 0 = nothing to do; 2 (changes) is passed on for run.sh to flag
  driftdry)
    run plan ;;                       # exits 0 whether or not it found changes
  *)
    echo "usage: $0 apply|nochange|driftdry|startup DIR" >&2; exit 2 ;;
esac
