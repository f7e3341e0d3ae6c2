#!/usr/bin/env bash
# test_state_corrupt.sh ARK ARK_FAULTS — a non-finite value in HRM's state
# latches a trading state of its own, seen everywhere, until an operator acts.
# ark-faults poisons HRM's state (ARK_FAULT_POISON_SEQ: NaN in the sum of
# positions x marks) at one event of a running instance:
#   - HRM latches state_corrupt: hrm.log says STATE CORRUPT, `ark status`
#     shows TRADING HALTED (state_corrupt), --json too, /slos carries it,
#     /healthz is unhealthy with the reason, the metrics say
#     ark_trading_halt{cause="state_corrupt"} 1, and every intent after it is
#     denied state_corrupt;
#   - `ark release hrm` recomputes and releases it: trading resumes (intents
#     allowed again), the release is in watchdog.log;
#   - `ark run` with the same fault ends FAILED naming state_corrupt.
set -uo pipefail
ark=$1 faults=$2
work=$(mktemp -d /tmp/ark-corrupt-state-XXXXXX)
inst="scor$$"
wd=""
fail() { echo "FAIL: $*"; [ -f "$work/wd.out" ] && tail -5 "$work/wd.out"; exit 1; }
. "$(dirname "$0")/../lib.sh"   # forget_instance
cleanup() {
  [ -n "$wd" ] && kill -KILL "$wd" 2>/dev/null
  forget_instance
}
trap cleanup EXIT
export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_PORT=0 METRICS_SERVER_ENABLED=true
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_GRAVEYARD_SHA256 ARK_LOG_DIR JWT_SECRET REDIS_URL ALPHA_VANTAGE_API_KEY \
  METRICS_TLS_CERT METRICS_TLS_KEY METRICS_BASIC_AUTH_FILE METRICS_BIND
logs=$ARK_DATA_DIR/logs
status_json() { "$ark" status --json 2>/dev/null; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

ARK_FAULT_POISON_SEQ=3000 "$faults" watchdog --no-feed --synthetic 1000 > "$work/wd.out" 2>&1 & wd=$!
t=0; until [ "$(status_json | field 'd["trading"]["halt_cause"]' 2>/dev/null)" = state_corrupt ] || [ $t -gt 600 ]; do
  sleep 0.1; t=$((t+1)); done
s=$(status_json)
[ "$(field 'd["trading"]["halt_cause"]' <<<"$s")" = state_corrupt ] || fail "no state_corrupt in ark status: $s"
[ "$(field 'd["trading"]["state"]' <<<"$s")" = HALTED ] || fail "the trading state is not HALTED: $s"
grep -q "position_mark_sum" <<<"$(field 'd["trading"]["detail"]' <<<"$s")" || fail "the detail does not name the value: $s"
"$ark" status | grep "^TRADING    HALTED (state_corrupt: position_mark_sum" >/dev/null || fail "ark status: $("$ark" status | grep TRADING)"
grep -q "STATE CORRUPT: a non-finite value in HRM's state" "$logs/hrm.log" || fail "hrm.log: $(tail -3 "$logs/hrm.log")"
port=$(field 'd["metrics"]["port"]' <<<"$s")
[ "$port" -gt 0 ] || fail "no metrics server: $s"
t=0; until curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_trading_halt{cause="state_corrupt"} 1' >/dev/null || [ $t -gt 600 ]; do
  sleep 0.1; t=$((t+1)); done
curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_trading_halt{cause="state_corrupt"} 1' >/dev/null || fail "metrics: $(curl -s "http://127.0.0.1:$port/metrics" | grep ark_trading)"
curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_trading_state{state="HALTED"} 1' >/dev/null ||
  fail "ark_trading_state: $(curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_trading'); hrm.log: $(tail -5 "$logs/hrm.log"); watchdog.log: $(tail -5 "$logs/watchdog.log")"
curl -s "http://127.0.0.1:$port/slos" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["trading"]["halt_cause"]=="state_corrupt" and d["trading"]["state"]=="HALTED", d["trading"]' ||
  fail "/slos: $(curl -s "http://127.0.0.1:$port/slos")"
code=$(curl -s -o "$work/health" -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$code" = 503 ] && grep -q "state_corrupt" "$work/health" || fail "/healthz: $code $(cat "$work/health")"
denied=$(curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_denials_total{rule="state_corrupt"}' | awk '{print $2}')
t=0; until [ "$(curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_denials_total{rule="state_corrupt"}' | awk '{print $2}')" != "$denied" ] || [ $t -gt 600 ]; do
  sleep 0.1; t=$((t+1)); done
[ "$(curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_denials_total{rule="state_corrupt"}' | awk '{print $2}')" != "${denied:-0}" ] ||
  fail "intents are not being denied state_corrupt"

# The operator acts.
out=$("$ark" release hrm 2>&1) || fail "ark release hrm: $out"
grep -q "released: the state is finite again" <<<"$out" || fail "release said: $out"
t=0; until [ "$(status_json | field 'd["trading"]["halt_cause"]')" = none ] || [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
[ "$(status_json | field 'd["trading"]["state"]')" = ACTIVE ] || fail "not ACTIVE after the release: $(status_json)"
grep -q "HRM state_corrupt released by operator" "$logs/watchdog.log" || fail "the release is not in watchdog.log"
after=$(curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_denials_total{rule="state_corrupt"}' | awk '{print $2}')
allowed=$(curl -s "http://127.0.0.1:$port/metrics" | grep '^operations_total{status="allowed"}' | awk '{print $2}')
t=0; until [ "$(curl -s "http://127.0.0.1:$port/metrics" | grep '^operations_total{status="allowed"}' | awk '{print $2}')" != "$allowed" ] ||
  [ $t -gt 200 ]; do sleep 0.1; t=$((t+1)); done
[ "$(curl -s "http://127.0.0.1:$port/metrics" | grep '^operations_total{status="allowed"}' | awk '{print $2}')" != "$allowed" ] ||
  fail "no intent allowed after the release"
[ "$(curl -s "http://127.0.0.1:$port/metrics" | grep '^ark_denials_total{rule="state_corrupt"}' | awk '{print $2}')" = "$after" ] ||
  fail "intents still denied state_corrupt after the release"
out=$("$ark" release hrm 2>&1); rc=$?
[ $rc -eq 1 ] || fail "a second release: exit $rc $out"
kill -TERM "$wd"; wait "$wd"; wd=""

# ark run says FAILED, naming it.
out=$(ARK_DATA_DIR=$work/data2 ARK_FAULT_POISON_SEQ=2000 "$faults" run --rate 2000 --duration 3 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "^result: FAILED" <<<"$out" && grep -q "failure: HRM's state held a non-finite value" <<<"$out" ||
  fail "ark run with a corrupt state: exit $rc: $(tail -5 <<<"$out")"
echo "state corrupt: OK"
