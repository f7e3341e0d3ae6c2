#!/usr/bin/env bash
# test_corrupt_core.sh ARK — a corrupt Mutable Core stops the instance at
# once, with exit 2 and SQLite's own words, never a restart loop:
#   - truncated before the start: `ark run` refuses before any process
#     starts (exit 2, "malformed", the file named), and leaves no segment;
#   - corrupted under a running instance (the watchdog held with SIGSTOP,
#     Aletheia killed, the database truncated and its WAL removed, the
#     watchdog let go): the restarted Aletheia finds it corrupt and exits 2,
#     the watchdog does not restart it, and `ark run` ends with exit 2 well
#     before its 30 s drain would have.
set -uo pipefail
ark=$1
work=$(mktemp -d /tmp/ark-corrupt-XXXXXX)
inst="cc$$"
run=""
fail() { echo "FAIL: $*"; [ -f "$work/run.out" ] && tail -5 "$work/run.out"; exit 1; }
. "$(dirname "$0")/../lib.sh"   # forget_instance
cleanup() {
  [ -n "$run" ] && kill -CONT "$run" 2>/dev/null && kill -KILL "$run" 2>/dev/null
  forget_instance
}
trap cleanup EXIT
export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_GRAVEYARD_SHA256 ARK_LOG_DIR JWT_SECRET REDIS_URL ALPHA_VANTAGE_API_KEY
db=$ARK_DATA_DIR/ark_state.db
logs=$ARK_DATA_DIR/logs

"$ark" run --rate 1000 --duration 1 --quiet > /dev/null 2>&1 || fail "the first run"
size=$(stat -c %s "$db")
truncate -s $((size / 2)) "$db"
start=$(date +%s%N)
out=$(timeout 120 "$ark" run --rate 1000 --duration 5 --quiet 2>&1); rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 2 ] || fail "truncated core: exit $rc: $out"
grep -q "malformed" <<<"$out" && grep -q "$db" <<<"$out" || fail "the refusal does not quote SQLite and name the file: $out"
[ ! -e "/dev/shm/ark-$inst" ] || fail "a refused start left a segment"
echo "truncated before the start: refused in $elapsed_ms ms"

# Under a running instance.
rm -rf "$ARK_DATA_DIR"
"$ark" run --rate 1000 --duration 300 > "$work/run.out" 2>&1 & run=$!
t=0; until grep -q "mutable core ready" "$logs/aletheia.log" 2>/dev/null || [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
grep -q "mutable core ready" "$logs/aletheia.log" || fail "Aletheia never opened the Mutable Core"
kill -STOP "$run"
pid=$(pgrep -f -- "agent aletheia --instance $inst( |$)" | head -1)
[ -n "$pid" ] || fail "no Aletheia process"
kill -KILL "$pid"
t=0; while kill -0 "$pid" 2>/dev/null && [ $t -lt 100 ]; do sleep 0.05; t=$((t+1)); done
size=$(stat -c %s "$db")
truncate -s $((size / 2)) "$db"
rm -f "$db-wal" "$db-shm"
start=$(date +%s%N)
kill -CONT "$run"
wait "$run"; rc=$?; run=""
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 2 ] || fail "corrupted under the instance: ark run exited $rc"
grep -q "the mutable core is corrupt" "$logs/aletheia.log" || fail "Aletheia did not say the core is corrupt: $(tail -3 "$logs/aletheia.log")"
grep -q "aletheia stopped with a configuration error" "$logs/watchdog.log" || fail "the watchdog's log: $(tail -5 "$logs/watchdog.log")"
starts=$(grep -c "starting pid=" "$logs/aletheia.log")
[ "$starts" -le 3 ] || fail "Aletheia started $starts times: a restart loop"
[ $elapsed_ms -lt 25000 ] || fail "ark run took $elapsed_ms ms to stop (the drain timeout is 30 s)"
echo "corrupted under the instance: stopped in $elapsed_ms ms, exit 2, Aletheia started $starts times"
echo "corrupt core: OK"
