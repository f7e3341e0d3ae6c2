#!/usr/bin/env bash
# test_pinned_rules.sh ARK — rules edited while ARK is stopped are refused at
# every start, and the evidence stays:
#   - the first start records the installed rules' hash (graveyard_history
#     "first start");
#   - the rules file made writable, a limit raised, made 0444 again:
#     `ark run` with ARK_GRAVEYARD_SHA256=<approved> exits 2 naming both
#     hashes and the file; without it too (the Mutable Core's record); so do
#     `ark watchdog` and an HRM process started by hand; the recorded hash and
#     the history are untouched; `ark graveyard check` says MISMATCH (exit 1);
#   - `ark graveyard install` of other rules without --approve is refused;
#     with --approve it records who, when and the previous hash, logs it, and
#     the next start runs the new rules; the old pin now refuses.
set -uo pipefail
ark=$1
work=$(mktemp -d /tmp/ark-pinned-XXXXXX)
inst="pin$$"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/../lib.sh"   # forget_instance
cleanup() {
  chmod -R u+w "$work" 2>/dev/null   # the test made parts read-only
  forget_instance
}
trap cleanup EXIT
export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_GRAVEYARD_SHA256 ARK_LOG_DIR JWT_SECRET REDIS_URL ALPHA_VANTAGE_API_KEY
db=$ARK_DATA_DIR/ark_state.db
rules=$ARK_DATA_DIR/graveyard.rules
q() { sqlite3 "$db" "$1"; }

out=$("$ark" run --rate 1000 --duration 1 --quiet 2>&1) || fail "first run: $out"
approved=$(sha256sum "$rules" | cut -d' ' -f1)
[ "$(q "SELECT value FROM metadata WHERE key='graveyard_hash'")" = "$approved" ] || fail "the first start did not record the rules"
[ "$(q "SELECT count(*) FROM graveyard_history WHERE approved_by='first start' AND new_hash='$approved'")" = 1 ] ||
  fail "no first-start row in graveyard_history: $(q 'SELECT * FROM graveyard_history')"
"$ark" graveyard check > "$work/check" || fail "check of the approved rules: $(cat "$work/check")"
grep -q "approved (the Mutable Core's record): match" "$work/check" || fail "check does not compare with the record"

# Edited while stopped: writable, a limit raised, read-only again.
chmod u+w "$rules"
sed -i 's/^max_order_quantity *=.*/max_order_quantity = 999999 node/' "$rules"
chmod 0444 "$rules"
edited=$(sha256sum "$rules" | cut -d' ' -f1)
[ "$edited" != "$approved" ] || fail "the edit did not change the file"

start=$(date +%s)
out=$(ARK_GRAVEYARD_SHA256=$approved "$ark" run --rate 1000 --duration 1 --quiet 2>&1); rc=$?
[ $rc -eq 2 ] || fail "pinned by env: exit $rc: $out"
grep -q "$approved" <<<"$out" && grep -q "$edited" <<<"$out" && grep -q "$rules" <<<"$out" ||
  fail "the refusal does not name both hashes and the file: $out"
out=$("$ark" run --rate 1000 --duration 1 --quiet 2>&1); rc=$?
[ $rc -eq 2 ] || fail "pinned by the record: exit $rc: $out"
grep -q "records $approved" <<<"$out" && grep -q "$edited" <<<"$out" || fail "the record's refusal: $out"
out=$(timeout 60 "$ark" watchdog --no-feed --synthetic 100 2>&1); rc=$?
[ $rc -eq 2 ] || fail "ark watchdog: exit $rc: $out"
grep -q "$edited" <<<"$out" || fail "ark watchdog's refusal: $out"
[ ! -e "/dev/shm/ark-$inst" ] || fail "a refused start left a segment"
echo "refused in $(( $(date +%s) - start )) s"
[ "$(q "SELECT value FROM metadata WHERE key='graveyard_hash'")" = "$approved" ] || fail "the recorded hash was overwritten"
[ "$(q "SELECT count(*) FROM graveyard_history")" = 1 ] || fail "the history changed"
"$ark" graveyard check > "$work/check" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "next start would refuse" "$work/check" || fail "check of the edited rules: exit $rc $(cat "$work/check")"

# An HRM started by hand against a running instance is held to its own pins
# (here: a pin no file matches) before it touches a ring.
chmod u+w "$rules"; sed -i 's/^max_order_quantity *=.*/max_order_quantity = 10000 node/' "$rules"; chmod 0444 "$rules"
[ "$(sha256sum "$rules" | cut -d' ' -f1)" = "$approved" ] || fail "could not restore the approved file"
before=$(wc -l < "$ARK_DATA_DIR/logs/hrm.log")
"$ark" watchdog --no-feed --synthetic 200 > "$work/wd.out" 2>&1 & wd=$!
t=0; until tail -n +$((before + 1)) "$ARK_DATA_DIR/logs/hrm.log" | grep " running " >/dev/null || [ $t -gt 300 ]; do sleep 0.1; t=$((t+1)); done
out=$(ARK_GRAVEYARD_SHA256=$(printf '0%.0s' $(seq 64)) timeout 30 "$ark" agent hrm --instance "$inst" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "ARK_GRAVEYARD_SHA256 pins" <<<"$out" || fail "a mis-pinned HRM started: exit $rc: $out"
kill -TERM $wd; wait $wd; rc=$?
[ $rc -eq 0 ] || fail "the watchdog stopped with $rc: $(tail -3 "$work/wd.out")"

# Other rules: refused without --approve; approved with it.
cp "$rules" "$work/new.rules"; chmod u+w "$work/new.rules"
sed -i 's/^max_order_quantity *=.*/max_order_quantity = 20000 node/' "$work/new.rules"
newhash=$(sha256sum "$work/new.rules" | cut -d' ' -f1)
out=$("$ark" graveyard install --rules "$work/new.rules" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "differs from the approved rules" <<<"$out" || fail "install without --approve: exit $rc $out"
[ "$(sha256sum "$rules" | cut -d' ' -f1)" = "$approved" ] || fail "a refused install changed the installed file"
out=$("$ark" graveyard install --rules "$work/new.rules" --approve --by alice --note "raise the quantity cap" 2>&1) ||
  fail "install --approve: $out"
grep -q "approved by alice" <<<"$out" || fail "install --approve says: $out"
[ "$(q "SELECT value FROM metadata WHERE key='graveyard_hash'")" = "$newhash" ] || fail "the approval was not recorded"
row=$(q "SELECT approved_by || '|' || previous_hash || '|' || new_hash || '|' || note FROM graveyard_history ORDER BY id DESC LIMIT 1")
[[ "$row" == "alice (uid "*"|$approved|$newhash|raise the quantity cap" ]] || fail "history row: $row"
grep -q "graveyard rules approved by=\"alice" "$ARK_DATA_DIR/logs/watchdog.log" || fail "the approval is not in watchdog.log"
"$ark" graveyard history --json | python3 -c 'import json,sys; h=json.load(sys.stdin); assert len(h)==2 and h[1]["approved_by"].startswith("alice"), h' ||
  fail "graveyard history"
out=$("$ark" run --rate 1000 --duration 1 --quiet 2>&1) || fail "run after the approval: $out"
out=$(ARK_GRAVEYARD_SHA256=$approved "$ark" run --rate 1000 --duration 1 --quiet 2>&1); rc=$?
[ $rc -eq 2 ] || fail "the old pin still starts: $rc $out"
echo "pinned rules: OK"
