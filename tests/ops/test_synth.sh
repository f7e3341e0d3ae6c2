#!/usr/bin/env bash
# test_synth.sh ARK ARK_FAULTS — `ark synth`, the synthetic validation loop:
# passes on a healthy pipeline (signals mirrored into a real redis-server and
# all found there), and fails naming the criterion when HRM lets one rule
# kind through (the fault-injection build), when latency is injected past the
# SLO (the paper venue's simulated latency), and when an entry disappears from
# the mirrored stream; refuses to run beside a live instance of the same name.
set -uo pipefail
ark=$1 faults=$2
work=$(mktemp -d /tmp/ark-synth-XXXXXX)
inst="sy$$" redis="" run=""
fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
  [ -n "$run" ] && kill -INT "$run" 2>/dev/null && wait "$run" 2>/dev/null
  [ -n "$redis" ] && kill "$redis" 2>/dev/null
  pkill -KILL -f -- "--instance $inst( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst"; rm -rf "$work"
}
trap cleanup EXIT
command -v redis-server >/dev/null || fail "redis-server is not installed"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --save "" >/dev/null 2>&1 & redis=$!
t=0; until redis-cli -p "$port" PING 2>/dev/null | grep PONG >/dev/null || [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
export ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false
unset ARK_STATE_DB ARK_LOG_DIR REDIS_URL JWT_SECRET ALPHA_VANTAGE_API_KEY ARK_BROKER ARK_RUN_DIR SLO_P95_LATENCY_MS
# (the synthetic stream's first intents come ~700 signals in: 200 Hz for 6 s)
args=(--duration 6 --rate 200 --violations 0.02 --seed 7)

export ARK_DATA_DIR=$work/healthy
out=$("$ark" synth "${args[@]}" --redis-url "redis://127.0.0.1:$port/0" --json); rc=$?
[ $rc -eq 0 ] || fail "healthy run failed (rc=$rc): $out"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
names = [c["name"] for c in d["criteria"]]
assert names == ["throughput", "zero errors", "p95 latency", "violations denied", "no clean signal denied",
                 "traces complete", "audit clean", "mirror complete"], names
assert d["passed"] and all(c["ok"] for c in d["criteria"]), d
# the figures are reported; the verdict on them is the throughput criterion above
assert d["signals"] == 1200 and d["measured_hz"] > 0, d
' "$out" || fail "healthy --json: $out"
[ "$(redis-cli -p "$port" XLEN ark:events)" = 1200 ] || fail "the stream does not hold the run's 1200 events"
echo "healthy: ok"

# Text output: a progress line, the criteria, the verdict.
export ARK_DATA_DIR=$work/text
out=$("$ark" synth --duration 2 --rate 50 --violations 0); rc=$?
[ $rc -eq 0 ] && grep -q "^✓ throughput: " <<<"$out" && grep -q "signals .* journaled" <<<"$out" &&
  grep -q "Synthetic validation PASSED ✓" <<<"$out" || fail "text output (rc=$rc): $out"

# One rule kind let through (the fault-injection build).
export ARK_DATA_DIR=$work/fault
out=$(ARK_FAULT_ALLOW_RULE=max_quantity "$faults" synth "${args[@]}"); rc=$?
[ $rc -eq 1 ] && grep -q "^✗ violations denied: .* [1-9][0-9]* allowed" <<<"$out" &&
  grep -q "Synthetic validation FAILED ✗" <<<"$out" || fail "a rule let through was not caught (rc=$rc): $out"
echo "rule let through: ok"

# The sanitizer suites (ARK_TEST_SCALE < 1) leave out the API and latency
# runs: the same loop, other settings; the plain suite runs them.
quick=$(awk -v s="${ARK_TEST_SCALE:-1}" 'BEGIN { print (s < 1) ? 1 : 0 }')
if [ "$quick" = 0 ]; then
# Through the ingest API (--api-url): the same signals, injections and all,
# POSTed with a token minted for the run; the same criteria hold.
export ARK_DATA_DIR=$work/api
aport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$("$ark" synth "${args[@]}" --api-url "http://127.0.0.1:$aport"); rc=$?
[ $rc -eq 0 ] && grep -q "through the API at http://127.0.0.1:$aport" <<<"$out" &&
  grep -q "^✓ violations denied: [1-9][0-9]* injected: [1-9][0-9]* denied with their reason, 0 for another, 0 allowed" <<<"$out" &&
  grep -q "^✓ traces complete: 1200 of 1200 signals" <<<"$out" || fail "the run through the API (rc=$rc): $out"
grep -q "finished ticks=1200 .*through_api=1" "$work/api/synth-$inst/logs/source0.log" &&
  grep -q "stopped accepted=1200 " "$work/api/synth-$inst/logs/api.log" || fail "the signals did not go through the API: $(tail -3 "$work/api/synth-$inst/logs/source0.log")"
out=$("$ark" synth "${args[@]}" --api-url "ftp://nowhere" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--api-url: expected http://HOST:PORT" <<<"$out" || fail "a bad --api-url (rc=$rc): $out"
echo "through the API: ok"

# Latency past the SLO: the paper venue takes 20 ms per order, the SLO is 5 ms.
export ARK_DATA_DIR=$work/slow
out=$(ARK_PAPER_LATENCY_US=20000 SLO_P95_LATENCY_MS=5 "$ark" synth "${args[@]}"); rc=$?
[ $rc -eq 1 ] && grep -q "^✗ p95 latency: p95 [0-9.]* ms (SLO 5 ms)" <<<"$out" || fail "latency past the SLO was not caught (rc=$rc): $out"
echo "latency: ok"
fi

# An entry missing from the mirrored stream.
redis-cli -p "$port" DEL ark:events >/dev/null
export ARK_DATA_DIR=$work/drop
( t=0; until [ "$(redis-cli -p "$port" XLEN ark:events 2>/dev/null)" -ge 600 ] 2>/dev/null || [ $t -gt 2400 ]; do sleep 0.05; t=$((t+1)); done
  redis-cli -p "$port" XDEL ark:events 500-0 >/dev/null ) & dropper=$!
out=$("$ark" synth "${args[@]}" --redis-url "redis://127.0.0.1:$port/0"); rc=$?
wait "$dropper"
[ $rc -eq 1 ] && grep -q "^✗ mirror complete: 1199 of 1200 events in stream ark:events" <<<"$out" ||
  fail "a missing stream entry was not caught (rc=$rc): $out"
echo "mirror: ok"

# Not beside a live instance of the same name.
export ARK_DATA_DIR=$work/live
"$ark" run --rate 100 --duration 3600 --quiet >/dev/null 2>&1 & run=$!
t=0; until "$ark" status >/dev/null 2>&1 || [ $t -gt 1200 ]; do sleep 0.1; t=$((t+1)); done
"$ark" status >/dev/null 2>&1 || fail "the live instance never came up"
out=$("$ark" synth --duration 1 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "instance '$inst' is running" <<<"$out" || fail "ran beside a live instance (rc=$rc): $out"
out=$(ARK_DATA_DIR=$work/other "$ark" synth --duration 1 --violations 0.4 --instance "other$$" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "violations 0.4 is too many for these rules" <<<"$out" || fail "too many violations (rc=$rc): $out"
rm -f "/dev/shm/ark-other$$"
echo "synth: ok"
