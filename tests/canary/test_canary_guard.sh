#!/usr/bin/env bash
# test_canary_guard.sh ARK — canaries that cannot loosen the gate (issue 22,
# point 3), end to end through `ark start --canary` on an instance of its
# own fed by the synthetic source (with injected violations):
#   looser   a canary whose rules raise max_order_quantity and empty
#            restricted_symbols is refused at start, the loosened rules
#            named; with --canary-allow-looser it starts and is rolled back
#            as soon as its HRM lets an injected violation through (long
#            check interval: the denial tripwire cannot be what fired), the
#            per-lane injected outcomes in `ark canary status` and the
#            metrics; it cannot be promoted
#   promote  a clean canary (its env file, its binary and tighter rules)
#            passes; then, one at a time, a line appended to its env file
#            (WATCHDOG_QUARANTINE_ENABLED=false), a byte appended to its
#            binary and an edit of its rules file each make `ark canary
#            promote` refuse, the stable env file and binary untouched; with
#            all three as they ran, promote writes exactly those bytes and
#            records their SHA-256 (canary_runs, canary_last)
set -uo pipefail
ark=$(readlink -f "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/ark-cguard-XXXXXX)
inst="cguard$$"
fail() { echo "FAIL: $*"; for f in "$ARK_DATA_DIR"/logs/watchdog.out "$ARK_DATA_DIR"/logs/watchdog.log; do [ -f "$f" ] && tail -12 "$f"; done; exit 1; }
. "$root/tests/lib.sh"   # forget_instance
cleanup() { "$ark" stop --instance "$inst" --timeout 20 >/dev/null 2>&1; forget_instance; }
trap cleanup EXIT
command -v sqlite3 >/dev/null && command -v sha256sum >/dev/null || fail "sqlite3 and sha256sum are needed"
export ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_PORT=0 ARK_FEED_PORT=0
unset ARK_STATE_DB ARK_LOG_DIR REDIS_URL JWT_SECRET ALPHA_VANTAGE_API_KEY ARK_BROKER ARK_RUN_DIR ARK_ENV ARK_ENV_FILE \
  SLO_P95_LATENCY_MS ARK_CANARY_PERCENT ARK_CANARY_WINDOW ARK_CANARY_CHECK_INTERVAL ARK_CANARY_ENV_FILE ARK_CANARY_BIN \
  ARK_GRAVEYARD_RULES ARK_CANARY_RULES_SHA256

canary_json() { "$ark" canary status --json 2>/dev/null; }
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
wait_state() {
  local t=0 state
  while :; do
    state=$(canary_json | grep -o '"state":"[a-z_]*"' | head -1 | cut -d'"' -f4)
    for want in $1; do [ "$state" = "$want" ] && return 0; done
    [ $t -ge $(($2 * 10)) ] && fail "the canary never reached '$1' (state '$state'): $(canary_json)"
    sleep 0.2; t=$((t + 2))
  done
}
stop_instance() {
  "$ark" stop --timeout 30 >/dev/null || fail "$1: ark stop failed"
  ! pgrep -f -- "--instance $inst( |$)" >/dev/null || fail "$1: processes left"
}
rules_with() {   # rules_with OUT SED-EXPRESSION...
  local out=$1; shift
  sed "$@" "$root/deploy/graveyard.rules" > "$out"; chmod 0444 "$out"
}

# ---- looser: refused without the operator's word; rolled back at once with it ----
export ARK_DATA_DIR=$work/loose
mkdir -p "$ARK_DATA_DIR"
rules_with "$work/loose.rules" -e 's/^max_order_quantity = .*/max_order_quantity = 20000 node/' \
  -e 's/^restricted_symbols = .*/restricted_symbols = none node/'
printf 'ARK_GRAVEYARD_RULES=%s\n' "$work/loose.rules" > "$work/loose.env"; chmod 600 "$work/loose.env"
out=$("$ark" start --skip-synth --synthetic 300 --canary --canary-percent 50 --canary-window 120s \
  --canary-check-interval 60s --canary-env "$work/loose.env" 2>&1); rc=$?
[ $rc -ne 0 ] || fail "a looser canary started without --canary-allow-looser: $out"
all="$out $(cat "$ARK_DATA_DIR"/logs/watchdog.out 2>/dev/null)"
grep -q "looser than the stable rules" <<<"$all" && grep -q "max_order_quantity 10000 -> 20000" <<<"$all" &&
  grep -q "restricted_symbols without ZVZZT" <<<"$all" && grep -q -- "--canary-allow-looser" <<<"$all" ||
  fail "the refusal does not name the loosened rules: $all"
! pgrep -f -- "--instance $inst( |$)" >/dev/null || fail "a refused start left processes running"
echo "looser refused: ok"
out=$("$ark" start --skip-synth --synthetic 300 --canary --canary-percent 50 --canary-window 120s \
  --canary-check-interval 60s --canary-env "$work/loose.env" --canary-allow-looser 2>&1) ||
  fail "ark start --canary --canary-allow-looser: $out"
grep -q "its rules are LOOSER than stable's" "$ARK_DATA_DIR/logs/watchdog.log" || fail "watchdog.log does not say LOOSER"
wait_state "rolled_back" 150
js=$(canary_json)
reason=$(field "$js" 'd["reason"]')
[[ "$reason" == "the canary lane's HRM allowed an injected "*" violation"* ]] || fail "looser: reason '$reason'"
[ "$(field "$js" 'd["checks"]')" = 0 ] || fail "looser: rolled back at a check, not at once: $js"
[ "$(field "$js" 'd["lanes"]["canary"]["injected"]["allowed"]')" -ge 1 ] &&
  [ "$(field "$js" 'd["lanes"]["stable"]["injected"]["allowed"]')" = 0 ] || fail "looser: injected outcomes per lane: $js"
port=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["metrics"]["port"])' < <("$ark" status --json))
m=$(curl -s "http://127.0.0.1:$port/metrics")
grep -q '^ark_lane_injected_total{lane="canary",outcome="allowed"} [1-9]' <<<"$m" &&
  grep -q '^ark_lane_injected_total{lane="stable",outcome="allowed"} 0' <<<"$m" || fail "looser: metrics: $(grep injected <<<"$m")"
stop_instance looser
out=$("$ark" canary promote --yes 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "the last canary rolled_back" <<<"$out" || fail "a rolled-back looser canary promoted (rc=$rc): $out"
echo "looser rolled back at once: ok ($reason)"

# ---- promote: only what ran ----
export ARK_DATA_DIR=$work/clean
mkdir -p "$ARK_DATA_DIR"
cp "$ark" "$work/ark-canary"
rules_with "$work/tight.rules" -e 's/^max_order_quantity = .*/max_order_quantity = 9000 node/'
printf 'ARK_JOEY_BASE_QUANTITY=12\nARK_GRAVEYARD_RULES=%s\n' "$work/tight.rules" > "$work/clean.env"; chmod 600 "$work/clean.env"
printf '# the stable configuration\nARK_JOURNAL_SYNC=none\nARK_JOEY_BASE_QUANTITY=10\n' > "$work/stable.env"; chmod 600 "$work/stable.env"
out=$("$ark" start --env-file "$work/stable.env" --skip-synth --synthetic 300 --canary --canary-percent 30 \
  --canary-window 6s --canary-check-interval 1s --canary-env "$work/clean.env" --canary-bin "$work/ark-canary" 2>&1) ||
  fail "ark start --canary (clean): $out"
wait_state "passed" 120
stop_instance clean
raw=$(sqlite3 "$ARK_DATA_DIR/ark_state.db" "SELECT value FROM metadata WHERE key = 'canary_last'")
env_sha=$(sha256sum "$work/clean.env" | cut -d' ' -f1)
bin_sha=$(sha256sum "$work/ark-canary" | cut -d' ' -f1)
rules_sha=$(sha256sum "$work/tight.rules" | cut -d' ' -f1)
grep -qx "env_sha256=$env_sha" <<<"$raw" && grep -qx "bin_sha256=$bin_sha" <<<"$raw" && grep -qx "rules_sha256=$rules_sha" <<<"$raw" ||
  fail "the canary's record lacks the hashes of what it ran: $raw"
cp "$work/stable.env" "$work/stable.env.orig"
echo "old binary" > "$work/installed-ark"; chmod 755 "$work/installed-ark"
promote() { "$ark" canary promote --env-file "$work/stable.env" --install-bin "$work/installed-ark" --yes 2>&1; }
untouched() {
  cmp -s "$work/stable.env" "$work/stable.env.orig" && [ "$(cat "$work/installed-ark")" = "old binary" ] ||
    fail "$1: a refused promote changed the stable env file or binary"
}
# an env line appended after the run
cp "$work/clean.env" "$work/clean.env.orig"
echo "WATCHDOG_QUARANTINE_ENABLED=false" >> "$work/clean.env"
out=$(promote); rc=$?
[ $rc -eq 1 ] && grep -q "the canary's env file $work/clean.env changed since the canary ran" <<<"$out" ||
  fail "promote of an edited env file (rc=$rc): $out"
untouched "env file"
cp "$work/clean.env.orig" "$work/clean.env"
# a byte appended to the binary
cp "$work/ark-canary" "$work/ark-canary.orig"
printf 'x' >> "$work/ark-canary"
out=$(promote); rc=$?
[ $rc -eq 1 ] && grep -q "the canary's binary .* changed since the canary ran" <<<"$out" || fail "promote of a changed binary (rc=$rc): $out"
untouched "binary"
cp "$work/ark-canary.orig" "$work/ark-canary"
# the rules edited
chmod 0644 "$work/tight.rules"; cp "$work/tight.rules" "$work/tight.rules.orig"
sed -i 's/^max_order_quantity = .*/max_order_quantity = 90000 node/' "$work/tight.rules"
out=$(promote); rc=$?
[ $rc -eq 1 ] && grep -q "the canary's rules .* changed since the canary ran" <<<"$out" || fail "promote of edited rules (rc=$rc): $out"
untouched "rules"
cp "$work/tight.rules.orig" "$work/tight.rules"
# as it ran: promoted, the hashes recorded
out=$(promote) || fail "promote as it ran: $out"
grep -qx "ARK_JOEY_BASE_QUANTITY='12'" "$work/stable.env" && ! grep -q WATCHDOG_QUARANTINE_ENABLED "$work/stable.env" ||
  fail "promote: the stable env file is $(cat "$work/stable.env")"
cmp -s "$work/installed-ark" "$work/ark-canary" || fail "promote: the binary installed is not the canary's"
raw=$(sqlite3 "$ARK_DATA_DIR/ark_state.db" "SELECT value FROM metadata WHERE key = 'canary_last'")
grep -qx "outcome=promoted" <<<"$raw" && grep -qx "promoted_env_sha256=$env_sha" <<<"$raw" &&
  grep -qx "promoted_bin_sha256=$bin_sha" <<<"$raw" && grep -qx "promoted_rules_sha256=$rules_sha" <<<"$raw" ||
  fail "promote did not record what it promoted: $raw"
detail=$(sqlite3 "$ARK_DATA_DIR/ark_state.db" "SELECT detail FROM canary_runs WHERE outcome = 'promoted'")
grep -qx "promoted_env_sha256=$env_sha" <<<"$detail" || fail "canary_runs lacks the promoted hashes: $detail"
echo "canary guard: ok"
