#!/usr/bin/env bash
# Runs pgroster as ../shared/bench/fleet/run.sh's PGROSTER_BIN would, and appends to $CPU_LOG
# (default /tmp/pgroster-cpu.log) its wall and CPU seconds and the whole machine's busy and idle
# CPU seconds meanwhile (/proc/stat), to tell what pgroster costs from what the servers and the
# proxy sharing the machine cost. PGROSTER_BIN picks the binary; EXTRA_ARGS is appended.
#
#   DELAY_MS=10 ../shared/bench/fleet/run.sh bench/cpu_wrap.sh 200 1 20 50
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${PGROSTER_BIN:-$here/../target/release/pgroster}
log=${CPU_LOG:-/tmp/pgroster-cpu.log}
busy_idle() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
read -r busy1 idle1 < <(busy_idle)
# shellcheck disable=SC2086 # EXTRA_ARGS is a list of words
/usr/bin/time -a -o "$log" -f "%e s wall, pgroster %U+%S s cpu, %M KiB :: $*" "$bin" "$@" ${EXTRA_ARGS:-}
rc=$?
read -r busy2 idle2 < <(busy_idle)
hz=$(getconf CLK_TCK)
awk -v b=$((busy2 - busy1)) -v i=$((idle2 - idle1)) -v hz="$hz" \
  'BEGIN { printf "   machine: %.2f s cpu busy, %.2f s idle (%d%% busy)\n", b / hz, i / hz, 100 * b / (b + i) }' >>"$log"
exit $rc
