#!/usr/bin/env bash
# The whole test suite N times in a row while a busy loop keeps every core busy:
# proof that the tests wait for signals, not for a machine that happens to be idle.
#
# usage: scripts/stress_suite.sh [N] [pytest args...]      (default: 5 runs of `tests`)
#   STRESS_CPUS=2       busy workers (default: the number of cores)
#   TSMETRICS_TEST_DATABASE_URL, TSMETRICS_REQUIRE_SERVICES (default 1) as for `./dev test`
# Each run's log and a summary (summary.json) go to bench/out/stress-<time>/.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
shift || true
[ $# -gt 0 ] || set -- tests
python=${PYTHON:-.venv/bin/python}
cpus=${STRESS_CPUS:-$(nproc)}
export PYTHONPATH=$PWD
export TSMETRICS_TEST_DATABASE_URL=${TSMETRICS_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
export TSMETRICS_REQUIRE_SERVICES=${TSMETRICS_REQUIRE_SERVICES:-1}
out=bench/out/stress-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

busy=()
stop_busy() {
  for pid in "${busy[@]}"; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  busy=()
}
trap stop_busy EXIT
if command -v stress-ng >/dev/null; then
  load="stress-ng --cpu $cpus"
  stress-ng --cpu "$cpus" --quiet &
  busy+=($!)
else
  load="$cpus Python busy loops"
  for _ in $(seq "$cpus"); do
    "$python" -c 'while True: pass' &
    busy+=($!)
  done
fi
echo "load: $load; $runs run(s) of: pytest $*; logs in $out"

failed=0
results=()
for run in $(seq "$runs"); do
  log=$out/run-$run.log
  began=$(date +%s.%N)
  "$python" -m pytest -q -p no:cacheprovider "$@" >"$log" 2>&1
  status=$?
  seconds=$(awk "BEGIN { print $(date +%s.%N) - $began }")
  outcome=$(grep -E '^[=]* ?[0-9]+ (passed|failed|error)' "$log" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')
  [ "$status" -eq 0 ] || failed=$((failed + 1))
  printf 'run %d: exit %d in %.0f s (%s), load average %s\n' "$run" "$status" "$seconds" \
    "${outcome:-no summary}" "$(cut -d' ' -f1-3 /proc/loadavg)"
  [ "$status" -eq 0 ] || grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/    /'
  results+=("{\"run\": $run, \"exit\": $status, \"seconds\": $seconds, \"outcome\": \"$outcome\"}")
done
stop_busy

(IFS=,; printf '{"load": "%s", "args": "%s", "runs": [%s]}\n' "$load" "$*" "${results[*]}") \
  >"$out/summary.json"
echo "summary: $((runs - failed)) of $runs runs passed under $load (details: $out/summary.json)"
[ "$failed" -eq 0 ]
