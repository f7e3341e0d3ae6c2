#!/usr/bin/env bash
# test_alpha_vantage.sh ARK — the Alpha Vantage source against a fake server
# that replays the documented bodies (quote, delayed quote, unknown symbol,
# error message, Note and Information rate limits — all HTTP 200 —, a 503,
# a slow answer and a dropped connection): quotes reach the journal as ticks
# of source alpha_vantage; every other answer is counted and logged by kind;
# calls keep the configured spacing and pause after a rate-limit answer; the
# API key never appears in a log; the pipeline run is OK.
set -uo pipefail
ark=$1
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; for f in "$ARK_DATA_DIR"/logs/source*.log; do [ -f "$f" ] && tail -20 "$f"; done; exit 1; }
work=$(mktemp -d /tmp/ark-av-XXXXXX)
inst="av$$"
server=""
. "$here/../lib.sh"   # forget_instance
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  forget_instance
}
trap cleanup EXIT
key="AVTESTKEY$$"
python3 "$here/fake_alpha_vantage.py" "$work/port" "$work/requests.log" "$key" & server=$!
t=0; until [ -s "$work/port" ] || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
port=$(cat "$work/port")
[ -n "$port" ] || fail "the fake server did not start"
export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_LOG_DIR REDIS_URL JWT_SECRET
export ALPHA_VANTAGE_API_KEY=$key ALPHA_VANTAGE_BASE_URL=http://127.0.0.1:$port
export ALPHA_VANTAGE_SYMBOLS="AAPL,MSFT,NOPE,BADX,SLOW,DROP,FIVE" ALPHA_VANTAGE_RATE_PER_MIN=600
export ALPHA_VANTAGE_INTERVAL_S=1 ALPHA_VANTAGE_BACKOFF_S=2 ALPHA_VANTAGE_TIMEOUT_MS=1000

# Settings are checked before anything starts; the key is never echoed.
out=$(ALPHA_VANTAGE_SYMBOLS="AAPL,B@D" "$ark" run --duration 1 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "ALPHA_VANTAGE_SYMBOLS" <<<"$out" || fail "bad symbols: rc=$rc $out"
out=$(ALPHA_VANTAGE_BASE_URL="ftp://x" "$ark" run --duration 1 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "ALPHA_VANTAGE_BASE_URL" <<<"$out" || fail "bad base url: rc=$rc $out"

out=$("$ark" run --rate 20 --duration 9 2>&1); rc=$?
[ $rc -eq 0 ] || fail "ark run exited $rc: $(tail -5 <<<"$out")"
log=$(ls "$ARK_DATA_DIR"/logs/source*.log | xargs grep -l "polling base=")
stopped=$(grep "stopped calls=" "$log")
num() { grep -o " $1=[0-9]*" <<<"$stopped" | cut -d= -f2; }
for kind in quote quote_delayed unknown_symbol error_message note information http_error network; do
  [ "$(num $kind)" -ge 1 ] || fail "no $kind counted: $stopped"
done
[ "$(num not_delivered)" = 0 ] || fail "quotes not delivered: $stopped"
grep -q "rate limited (note)" "$log" && grep -q "rate limited (information)" "$log" || fail "no back-off logged"
! grep -rq "$key" "$ARK_DATA_DIR/logs" || fail "the API key appears in a log"
# Quotes as ticks of source alpha_vantage, with the fake's prices.
quotes=$(( $(num quote) + $(num quote_delayed) ))
n=$(grep -o "^summary: [0-9]* ticks" <<<"$out" | awk '{print $2}')
: > "$work/events"
for seq in $(seq 1 "$n"); do "$ark" trace "$seq" --json >> "$work/events" 2>/dev/null; done
av=$(grep -c '"source":"alpha_vantage"' "$work/events")
[ "$av" = "$quotes" ] || fail "$quotes quotes but $av alpha_vantage events in the journal"
# (one grep each: with pipefail, `grep | grep -q` fails when -q stops reading early)
grep -q '"symbol":"AAPL","source":"alpha_vantage".*"market":{"price":187.25,' "$work/events" || fail "no AAPL at 187.25"
grep -q '"symbol":"MSFT","source":"alpha_vantage"' "$work/events" || fail "no delayed MSFT quote"
! grep -q '"symbol":"\(NOPE\|BADX\|SLOW\|DROP\|FIVE\)","source":"alpha_vantage"' "$work/events" || fail "a non-quote became a tick"
# Spacing: 600/min = one call per 100 ms at most. The times are the fake's
# (when each request arrived), so one call delayed on its way (a slow
# connect on a loaded machine) arrives close to the next: held to the rate
# over every five calls, and no two calls at once.
python3 - "$work/requests.log" <<'PY' || fail "calls closer than the configured rate, or no pause after a rate limit"
import sys
rows = [l.split() for l in open(sys.argv[1])]
t = [float(r[0]) for r in rows]
gaps = [b - a for a, b in zip(t, t[1:])]
if min(gaps) < 0.02:
    sys.exit("two calls %.3f s apart" % min(gaps))
for i in range(len(t) - 5):
    if t[i + 5] - t[i] < 0.45:
        sys.exit("five calls in %.3f s from call %d" % (t[i + 5] - t[i], i))
for i, r in enumerate(rows):
    if r[2] in ("note", "information") and i + 1 < len(rows) and t[i + 1] - t[i] < 1.9:
        sys.exit("only %.2f s after %s" % (t[i + 1] - t[i], r[2]))
PY
echo "alpha vantage: ok ($stopped)"
