#!/usr/bin/env bash
# check_perf_json.sh ARK BENCH KEY... — runs `ark perf BENCH --quick --json`
# and checks that it prints one JSON object whose "headline" holds every KEY
# as a number. A smoke test of the harness, not a measurement.
set -euo pipefail
ark=$1 bench=$2
shift 2
out=$("$ark" perf "$bench" --quick --json 2>/dev/null)
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || { echo "expected one line of JSON, got:"; echo "$out"; exit 1; }
case "$out" in \{*\}) ;; *) echo "not a JSON object: $out"; exit 1 ;; esac
headline=$(printf '%s' "$out" | sed -n 's/.*"headline":{\([^}]*\)}.*/\1/p')
[ -n "$headline" ] || { echo "no headline object in: $out"; exit 1; }
for key in "$@"; do
  printf '%s' "$headline" | grep -E "\"$key\":-?[0-9][0-9.e+-]*(,|$)" >/dev/null ||
    { echo "headline lacks a number for $key: {$headline}"; exit 1; }
done
echo "ark perf $bench --json: headline has $# figures"
