#!/usr/bin/env bash
# test_alpaca.sh ARK — Kenny with ARK_BROKER=alpaca against a fake Alpaca
# (tests/alpaca/fake_alpaca.py) that answers as the documentation says:
#   config     bad settings, wrong keys (401) and an account that cannot
#              trade stop Kenny at start with a clear message, nothing sent
#   answers    every kind of answer in one run (fill, accepted then polled to
#              filled, 403, 422, 422 "client_order_id must be unique", 500
#              with and without the order placed, a dropped connection, a
#              timeout, 429): no order POSTed twice except after Alpaca's
#              404, nothing POSTed after a 429 before its reset, every fill
#              the fake made is in the Mutable Core once, positions agree
#   power      a small buying power: HRM denies the buys beyond it
#   kill       kill -9 Kenny while orders are in flight, twice: the new Kenny
#              looks them up; every order the fake holds is recorded once,
#              and positions agree with the fake's fills
# Keys never appear in a log.
set -uo pipefail
ark=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/ark-alpaca-XXXXXX)
inst="alp$$"
server=""
fail() {
  echo "FAIL: $*"
  for f in "$ARK_DATA_DIR"/logs/kenny.log "$ARK_DATA_DIR"/logs/hrm.log; do [ -f "$f" ] && tail -15 "$f"; done
  [ -f "$work/req.log" ] && tail -15 "$work/req.log"
  exit 1
}
stop_server() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=""; }
cleanup() {
  stop_server
  pkill -KILL -f -- "--instance $inst( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst"
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
key="PKTEST$$KEY" secret="SECRET$$VALUE"

# start_server PLAN [ACCOUNT_STATUS [BUYING_POWER]]: a fresh fake, its log and a fresh data dir.
start_server() {
  stop_server
  rm -rf "$work/port" "$work/req.log" "$work/data"
  python3 "$here/fake_alpaca.py" "$work/port" "$work/req.log" "$key" "$secret" "$@" & server=$!
  local t=0; until [ -s "$work/port" ] || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
  port=$(cat "$work/port")
  [ -n "$port" ] || fail "the fake Alpaca did not start"
  export ALPACA_BASE_URL=http://127.0.0.1:$port
}

export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_LOG_DIR REDIS_URL JWT_SECRET ALPHA_VANTAGE_API_KEY ARK_RUN_DIR
export ARK_BROKER=alpaca ALPACA_API_KEY=$key ALPACA_SECRET_KEY=$secret
export ALPACA_TIMEOUT_MS=1000 ALPACA_POLL_MS=200 ALPACA_MAX_CONNECTIONS=16 ARK_JOEY_WARMUP=30
db() { sqlite3 -batch "$ARK_DATA_DIR/ark_state.db" "$@"; }
no_keys_in_logs() { ! grep -rqF -e "$key" -e "$secret" "$ARK_DATA_DIR/logs" || fail "a key appears in a log"; }

# ---- config: nothing starts, nothing is sent ----
start_server fill
out=$(ARK_BROKER=bogus "$ark" run --duration 1 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "ARK_BROKER: expected paper or alpaca" "$ARK_DATA_DIR/logs/kenny.log" || fail "ARK_BROKER=bogus: rc=$rc $out"
out=$(env -u ALPACA_SECRET_KEY "$ark" run --duration 1 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "ALPACA_SECRET_KEY is required" "$ARK_DATA_DIR/logs/kenny.log" || fail "no secret: rc=$rc $out"
out=$(ALPACA_SECRET_KEY=wrong$$ "$ark" run --duration 2 2>&1); rc=$?
[ $rc -ne 0 ] || fail "wrong keys: the run passed"
grep -q "GET /v2/account answered 401 (request is not authorized): check ALPACA_API_KEY and ALPACA_SECRET_KEY" \
  "$ARK_DATA_DIR/logs/kenny.log" || fail "wrong keys: no clear message"
! grep -rq "wrong$$" "$ARK_DATA_DIR/logs" || fail "the wrong secret appears in a log"
grep -q "configuration error" <<<"$out" || fail "wrong keys: ark run did not say Kenny stopped on its configuration: $out"
start_server fill ACCOUNT_CLOSED
out=$("$ark" run --duration 2 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "the account's status is ACCOUNT_CLOSED, not ACTIVE: execution stopped" "$ARK_DATA_DIR/logs/kenny.log" ||
  fail "closed account: rc=$rc"
! grep -q "POST" "$work/req.log" || fail "an order went to a closed account"
echo "config: ok"

# ---- answers: every kind in one run ----
start_server "fill,accept,reject403,reject422,dup,err500,lost500,drop,slow,rate429,fill,fill"
# (the synthetic source's first intents come some 700 ticks in)
FAKE_SLOW_S=2 "$ark" run --rate 200 --duration 8 > "$work/run.out" 2>&1
grep -q "^summary:" "$work/run.out" || fail "the run did not finish: $(tail -5 "$work/run.out")"
grep -q "breaks 0" "$work/run.out" && grep -q "trace breaks 0" "$work/run.out" || fail "trace breaks"
curl -s "$ALPACA_BASE_URL/_orders" > "$work/orders.json" || fail "cannot read the fake's orders"
db -separator ' ' "SELECT printf('%016x', trace_id), status FROM orders" > "$work/core_orders"
db -separator ' ' "SELECT printf('%016x', trace_id), qty, price, venue FROM fills" > "$work/core_fills"
db -separator ' ' "SELECT symbol, qty FROM positions" > "$work/core_positions"
python3 - "$work/req.log" "$work/orders.json" "$work/core_orders" "$work/core_fills" "$work/core_positions" <<'PY' || fail "answers"
import collections, json, sys
req = [l.split() for l in open(sys.argv[1])]
fake = {o["coid"]: o for o in json.load(open(sys.argv[2]))}
core = dict(l.split() for l in open(sys.argv[3]))
fills = {l.split()[0]: l.split()[1:] for l in open(sys.argv[4])}
positions = {l.split()[0]: float(l.split()[1]) for l in open(sys.argv[5])}
by = collections.defaultdict(list)
for t, method, what, coid, status, beh in req:
    if coid != "-":
        by[coid].append((float(t), method, status, beh))
seen = collections.Counter()
errors = []
for coid, rs in by.items():
    beh = next((r[3] for r in rs if r[3] != "-"), "-")
    seen[beh] += 1
    posts = [r for r in rs if r[1] == "POST" and r[2] != "EARLY"]
    statuses = [r[2] for r in posts]
    lookups = [r[2] for r in rs if r[1] == "GET"]
    if beh == "lost500":
        # POSTed again only after Alpaca said (404) it has no such order.
        if len(posts) > 1 and not (statuses[0] == "500" and "404" in lookups and
                                   [r[1] for r in rs].index("GET") < [i for i, r in enumerate(rs) if r[1] == "POST"][1]):
            errors.append("%s (lost500) re-POSTed without a 404 first: %s" % (coid, rs))
    elif beh == "rate429" and statuses[:1] == ["429"]:
        if len(posts) > 1 and posts[1][0] < posts[0][0] + 1.5:
            errors.append("%s re-POSTed %.2f s after its 429" % (coid, posts[1][0] - posts[0][0]))
    elif len(posts) > 1:
        errors.append("%s (%s) POSTed %d times: %s" % (coid, beh, len(posts), statuses))
    if beh in ("err500", "drop", "slow", "dup") and core.get(coid[-16:]) not in (None, "submitted") and "200" not in lookups:
        errors.append("%s (%s) recorded %s without a lookup" % (coid, beh, core.get(coid[-16:])))
    # (a lookup that finds nothing may precede a POST that never left: libcurl will not resend it)
    if beh in ("reject403", "reject422") and ("200" in lookups or core.get(coid, "rejected") != "rejected"):
        errors.append("%s (%s): lookups %s, core %s" % (coid, beh, lookups, core.get(coid[-16:])))
# Nothing POSTed after the 429 and before its reset (one already under way may arrive just after).
t429 = [float(r[0]) for r in req if r[4] == "429"]
if not t429:
    errors.append("the fake never answered 429")
else:
    early = [r for r in req if r[4] == "EARLY" and float(r[0]) > t429[0] + 0.3]
    if early:
        errors.append("%d POSTs before the rate limit's reset: %s" % (len(early), early[:3]))
for beh in ("fill", "accept", "reject403", "reject422", "dup", "err500", "lost500", "drop", "slow", "rate429"):
    if not seen[beh]:
        errors.append("no order met behaviour %s" % beh)
# Every order the fake holds is recorded: filled with the fake's quantity
# (once), or still open ("accepted"), or of unknown fate at the very end.
unknown = 0
for coid, o in fake.items():
    st = core.get(coid[-16:])
    if st == "submitted":
        unknown += 1
    elif o["status"] == "filled":
        if st != "filled" or coid[-16:] not in fills or abs(float(fills[coid[-16:]][0]) - float(o["filled_qty"])) > 1e-9 or fills[coid[-16:]][2] != "alpaca":
            errors.append("%s filled at the fake (%s) but core says %s, fill %s" % (coid, o["behaviour"], st, fills.get(coid[-16:])))
    elif st not in ("accepted", "filled"):
        errors.append("%s is %s at the fake, %s in the core" % (coid, o["status"], st))
if unknown > 3:
    errors.append("%d orders of unknown fate" % unknown)
accepted = [c for c, o in fake.items() if o["behaviour"] == "accept" and o["status"] == "filled"]
if not accepted:
    errors.append("no accepted order was polled to filled")
# Kenny's positions are the fake's fills, each applied once.
net = collections.Counter()
for o in fake.values():
    if core.get(o["coid"][-16:]) != "submitted":
        net[o["symbol"]] += float(o["filled_qty"]) * (1 if o["side"] == "buy" else -1)
for sym, q in net.items():
    if abs(positions.get(sym, 0) - q) > 1e-6:
        errors.append("position %s: core %s, fake fills %s" % (sym, positions.get(sym), q))
if errors:
    print("\n".join(errors[:20]))
    sys.exit(1)
print("answers: %d orders, %s" % (len(by), dict(seen)))
PY
# ark trace shows the broker's later word on a submitted order.
seq=$(db "SELECT seq FROM orders WHERE status = 'filled' LIMIT 1")
out=$("$ark" trace "$seq") || fail "ark trace $seq: $out"
grep -q "execution: submitted to the broker; the broker since: filled, " <<<"$out" || fail "ark trace: $out"
"$ark" trace "$seq" --json | grep -q '"execution":{"status":"submitted",.*"broker":{"status":"filled"' || fail "ark trace --json"
kenny=$ARK_DATA_DIR/logs/kenny.log
grep -q "rejected .* http=403 answer=forbidden" "$kenny" && grep -q "broker said: insufficient buying power (code 40310000)" "$kenny" ||
  fail "no 403 in kenny.log"
grep -q "answer=unprocessable" "$kenny" || fail "no 422 in kenny.log"
grep -q "alpaca rate limit (429): holding every request" "$kenny" || fail "no 429 in kenny.log"
grep -q "server_error (internal server error) after a POST; looking it up" "$kenny" || fail "no 5xx lookup in kenny.log"
grep -q "network (no answer) after a POST; looking it up" "$kenny" || fail "no dropped connection in kenny.log"
no_keys_in_logs
echo "answers: ok"

# ---- power: HRM keeps buys within the account's buying power ----
start_server fill ACTIVE 2500
"$ark" run --rate 300 --duration 6 > "$work/run.out" 2>&1
grep -q "^summary:" "$work/run.out" || fail "the power run did not finish"
grep -q "intent beyond the broker's buying power" "$ARK_DATA_DIR/logs/hrm.log" || fail "no buy was denied for buying power"
curl -s "$ALPACA_BASE_URL/_orders" > "$work/orders.json"
python3 - "$work/orders.json" <<'PY' || fail "buys beyond the buying power reached the broker"
import json, sys
buys = [float(o["qty"]) * float(o["limit_price"]) for o in json.load(open(sys.argv[1])) if o["side"] == "buy"]
spent = sum(buys)
if not buys:
    sys.exit("no buy reached the broker")
if spent > 2500 + 1e-6:
    sys.exit("buys worth %.2f with a buying power of 2500" % spent)
print("power: buys worth %.2f within 2500" % spent)
PY
denied=$(db "SELECT count(*) FROM hrm_denials WHERE reason = 'max_notional' AND rule = '0'")
[ "$denied" -ge 1 ] || fail "no broker-limit denial in the Mutable Core"
echo "power: ok ($denied denied)"

# ---- kill: Kenny killed with orders in flight ----
start_server hold
# Orders held 0.3 s each, 32 at a time: the fake keeps up with the intents.
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FAKE_HOLD_S=0.3 ALPACA_MAX_CONNECTIONS=32 METRICS_SERVER_ENABLED=true METRICS_PORT=$mport \
  "$ark" run --rate 150 --duration 10 > "$work/run.out" 2>&1 & run=$!
t=0; until grep -q POST "$work/req.log" 2>/dev/null || [ $t -gt 150 ]; do sleep 0.1; t=$((t+1)); done
killed=""
for k in 1 2; do
  sleep 1
  # the one running now (after the first kill, its replacement)
  t=0; while pid=$(head -n1 "$ARK_DATA_DIR/run/kenny.pid" 2>/dev/null); [ "$pid" = "$killed" ] && [ $t -lt 50 ]; do sleep 0.1; t=$((t+1)); done
  [ -n "$pid" ] && [ "$pid" != "$killed" ] && kill -9 "$pid" 2>/dev/null || fail "no Kenny to kill"
  killed=$pid
done
# The broker's metrics, while it runs.
metrics=$(curl -s "http://127.0.0.1:$mport/metrics")
grep -q '^ark_broker_orders_total{stage="posted"} [1-9]' <<<"$metrics" &&
  grep -q '^ark_broker_answers_total{answer="order"} [1-9]' <<<"$metrics" &&
  grep -q '^ark_broker_buying_power 1e+09$\|^ark_broker_buying_power 1000000000$' <<<"$metrics" &&
  grep -q '^ark_broker_execution_stopped 0$' <<<"$metrics" || fail "broker metrics: $(grep ark_broker <<<"$metrics")"
wait $run
grep -q "^summary:" "$work/run.out" || fail "the kill run did not finish: $(tail -5 "$work/run.out")"
grep -q "restarts [2-9]" "$work/run.out" || fail "Kenny was not restarted twice: $(grep restarts "$work/run.out")"
grep -q "alpaca: after a restart: [1-9][0-9]* orders to look up before any resend" "$ARK_DATA_DIR/logs/kenny.log" ||
  fail "no order was in flight at a kill (nothing looked up)"
curl -s "$ALPACA_BASE_URL/_orders" > "$work/orders.json"
db -separator ' ' "SELECT printf('%016x', trace_id), status FROM orders" > "$work/core_orders"
db -separator ' ' "SELECT printf('%016x', trace_id), qty FROM fills" > "$work/core_fills"
db -separator ' ' "SELECT symbol, qty FROM positions" > "$work/core_positions"
python3 - "$work/req.log" "$work/orders.json" "$work/core_orders" "$work/core_fills" "$work/core_positions" <<'PY' || fail "kill"
import collections, json, sys
req = [l.split() for l in open(sys.argv[1])]
fake = {o["coid"]: o for o in json.load(open(sys.argv[2]))}
core = dict(l.split() for l in open(sys.argv[3]))
fills = collections.Counter(l.split()[0] for l in open(sys.argv[4]))
positions = {l.split()[0]: float(l.split()[1]) for l in open(sys.argv[5])}
errors = []
# A resend meets Alpaca's 422 and is looked up; the fake never holds two.
resent = [r[3] for r in req if r[1] == "POST" and r[4] == "422"]
for coid in resent:
    if not any(r[1] == "GET" and r[3] == coid and r[4] == "200" for r in req):
        errors.append("%s resent (422) but never looked up" % coid)
net = collections.Counter()
for coid, o in fake.items():
    if core.get(coid[-16:]) != "filled" or fills[coid[-16:]] != 1:
        errors.append("%s filled at the fake; core %s, %d fill rows" % (coid, core.get(coid[-16:]), fills[coid[-16:]]))
    net[o["symbol"]] += float(o["filled_qty"]) * (1 if o["side"] == "buy" else -1)
for sym, q in net.items():
    if abs(positions.get(sym, 0) - q) > 1e-6:
        errors.append("position %s: core %s, fake fills %s" % (sym, positions.get(sym), q))
if len(fake) < 10:
    errors.append("only %d orders" % len(fake))
if errors:
    print("\n".join(errors[:20]))
    sys.exit(1)
print("kill: %d orders, %d resends refused and looked up, positions agree" % (len(fake), len(resent)))
PY
no_keys_in_logs
echo "alpaca: ok"
