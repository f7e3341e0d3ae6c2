#!/usr/bin/env bash
# test_hostile_stream.sh ARK — the hostile-stream test: a seeded generator of
# adversarial ticks (hostile_stream.py) sends through the ingest API and the
# TCP feed into a running pipeline with tight limits, beside the synthetic
# source and its injected violations. Then:
#   - every API answer was what the generator predicted (a refusal names the
#     signal's index and field), and the feed refused exactly the ticks it
#     predicted, by reason (its counters, in its log);
#   - the run is OK: no clean intent denied, no injected violation allowed,
#     every tick that was accepted journaled;
#   - `ark audit` finds nothing in the journal.
# Bounded: ARK_HOSTILE_SECONDS (default 8 s, scaled by ARK_TEST_SCALE) of
# hostile traffic; set it higher to run longer. ARK_HOSTILE_SEED picks the
# stream (default 1; the test prints it).
set -uo pipefail
ark=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/ark-hostile-XXXXXX)
inst="hs$$"
run=""
fail() { echo "FAIL: $*"; for f in run.json run.err; do [ -f "$work/$f" ] && tail -5 "$work/$f"; done; exit 1; }
. "$here/../lib.sh"
cleanup() { stop_run; forget_instance; }
trap cleanup EXIT
command -v python3 >/dev/null || fail "python3 is not installed"
scale=${ARK_TEST_SCALE:-1}
seconds=${ARK_HOSTILE_SECONDS:-$(awk -v s="$scale" 'BEGIN { t = int(8 * s); print (t < 3 ? 3 : t) }')}
seed=${ARK_HOSTILE_SEED:-1}
echo "hostile stream: seed $seed, $seconds s"
export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false API_PORT=0
export JWT_SECRET="hostile-test-secret-$$-0123456789abcdefghij"
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_LOG_DIR ARK_WAIT REDIS_URL JWT_ISSUER JWT_AUDIENCE API_ENABLED \
  API_TLS_CERT API_TLS_KEY ARK_TICK_MIN_PRICE ARK_TICK_MAX_PRICE ARK_TICK_MAX_SIZE ARK_TICK_MAX_SKEW ARK_TICK_MAX_AGE

# Tight limits: every rule binds somewhere in the synthetic stream.
cat > "$work/tight.rules" <<'EOF'
version = 1
trading_state = ACTIVE node
max_order_quantity = 500 node
max_order_notional = 100000 node
price_collar = 2% node
reference_max_age = 5s node
restricted_symbols = ZVZZT, ZWZZT, ZXZZT node
restricted_patterns = *.OTC, TEST* node
order_rate = 100/1s global
order_rate_per_symbol = 10/1s node
duplicate_window = 500ms node
max_position = 2000 node
max_gross_exposure = 5000000 global
daily_loss_limit = 2000000 global
trading_day_reset = 00:00 UTC
EOF
"$ark" graveyard install --rules "$work/tight.rules" >/dev/null || fail "installing the tight rules"

# The synthetic source runs past the hostile traffic: its finale (the daily
# loss, which ends trading for the day) must come after the last hostile tick.
"$ark" run --rate 500 --duration $((seconds + 12)) --seed "$seed" --feed --feed-port 0 --json \
  > "$work/run.json" 2> "$work/run.err" & run=$!
t=0; until grep -q "api listening on port" "$work/run.err" && grep -q "tcp feed listening on port" "$work/run.err" ||
  [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
api_port=$(grep -o "api listening on port [0-9]*" "$work/run.err" | grep -o '[0-9]*$')
feed_port=$(grep -o "tcp feed listening on port [0-9]*" "$work/run.err" | grep -o '[0-9]*$')
[ -n "$api_port" ] && [ -n "$feed_port" ] || fail "the API or the feed did not start: $(cat "$work/run.err")"
token=$("$ark" token --sub hostile) || fail "ark token"

python3 "$here/hostile_stream.py" --api "http://127.0.0.1:$api_port" --token "$token" --feed "$feed_port" \
  --seed "$seed" --seconds "$seconds" > "$work/sent.json" || fail "API answers differ from the predictions: $(cat "$work/sent.json")"
wait "$run"; rc=$?; run=""
sent=$(cat "$work/sent.json")
echo "sent: $sent"

python3 - "$work/run.json" "$work/sent.json" "$ARK_DATA_DIR/logs/source1.log" <<'PY' || fail "the run or the feed's refusals"
import json, re, sys
run = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
sent = json.load(open(sys.argv[2]))
problems = []
for key in ("clean_denied", "injected_allowed", "errors", "trace_breaks", "ticks_refused"):
    if run[key] != 0:
        problems.append("%s = %s" % (key, run[key]))
if not run["ok"]:
    problems.append("the run is not OK")
if run["events"] != run["ticks"]:
    problems.append("ticks %d, events %d" % (run["ticks"], run["events"]))
if sent["api"]["accepted"] == 0 or sent["feed"]["accepted"] == 0 or sent["feed"]["refused"] == 0 or sent["api"]["refused"] == 0:
    problems.append("the stream did not exercise both transports both ways: %s" % sent)
log = open(sys.argv[3]).read()
m = re.search(r"stopped ticks=(\d+) bad=(\d+) bad_by_reason=(\S+)", log)
if not m:
    problems.append("no feed summary in its log")
else:
    ticks, bad = int(m.group(1)), int(m.group(2))
    by = {} if m.group(3) == "none" else dict((k, int(v)) for k, v in (p.split(":") for p in m.group(3).split(",")))
    if ticks != sent["feed"]["accepted"] or bad != sent["feed"]["refused"]:
        problems.append("feed: took %d and refused %d; predicted %d and %d" % (ticks, bad, sent["feed"]["accepted"], sent["feed"]["refused"]))
    for reason in ("price_out_of_bounds", "size_out_of_bounds", "ts_in_future", "ts_too_old"):
        if by.get(reason, 0) != sent["feed"]["by_reason"].get(reason, 0):
            problems.append("feed %s: %d, predicted %d" % (reason, by.get(reason, 0), sent["feed"]["by_reason"].get(reason, 0)))
if problems:
    print("\n".join(problems))
    sys.exit(1)
print("run: %d events, %d intents, %d denials, 0 clean denied; feed refused %d as predicted" %
      (run["events"], run["intents"], run["denials"], sent["feed"]["refused"]))
PY
[ $rc -eq 0 ] || fail "ark run exited $rc"

"$ark" audit --json > "$work/audit.json"; arc=$?
python3 - "$work/audit.json" <<'PY' || fail "ark audit: $(cat "$work/audit.json")"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["ok"] and a["findings_total"] == 0 and a["intents"] > 0 and a["denied"] > 0, a
print("audit: %d events, %d intents, nothing found" % (a["events"], a["intents"]))
PY
[ $arc -eq 0 ] || fail "ark audit exited $arc"
echo "hostile stream: OK"
