#!/usr/bin/env bash
# test_start.sh ARK ARK_FAULTS — `ark start` end to end with short durations
# (validate, watchdog and agents, health checks, synthetic loop, status; then
# ark stop leaves nothing), deploy/start_production.sh on an env file, and
# failing steps — a bad configuration, a port in use, Redis down, a synthetic
# loop that fails after everything started — each stopping start-up with its
# reason and nothing left running.
set -uo pipefail
ark=$(readlink -f "$1") faults=$(readlink -f "$2")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/ark-start-XXXXXX)
inst="start$$" holder=""
fail() { echo "FAIL: $*"; for f in "$ARK_DATA_DIR"/logs/watchdog.out; do [ -f "$f" ] && tail -5 "$f"; done; exit 1; }
cleanup() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null
  "$ark" stop --instance "$inst" --timeout 20 >/dev/null 2>&1
  pkill -KILL -f -- "--instance $inst(-synth)?( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst" "/dev/shm/ark-$inst-synth"; rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib.sh"   # free_port
nothing_left() {
  ! pgrep -f -- "--instance $inst( |-synth|$)" >/dev/null || fail "$1: processes left: $(pgrep -af -- "--instance $inst")"
  [ ! -e "/dev/shm/ark-$inst" ] || fail "$1: the segment is left"
}
export ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_PORT=0 ARK_FEED_PORT=0
unset ARK_STATE_DB ARK_LOG_DIR REDIS_URL JWT_SECRET ALPHA_VANTAGE_API_KEY ARK_BROKER ARK_RUN_DIR ARK_ENV ARK_ENV_FILE

# Success, end to end.
export ARK_DATA_DIR=$work/ok
out=$("$ark" start --synth-duration 5 --synth-rate 200 2>&1); rc=$?
[ $rc -eq 0 ] || fail "ark start failed (rc=$rc): $out"
for want in "==> 1/5 validating the configuration" "==> 2/5 starting the watchdog" "==> 3/5 health checks" \
  "/healthz: 200" "/slos: 200" "==> 4/5 the synthetic validation loop" "Synthetic validation PASSED ✓" "==> 5/5 status" \
  "ARK status - instance $inst - running" "ARK is running (instance $inst"; do
  grep -qF -- "$want" <<<"$out" || fail "ark start's output lacks '$want':
$out"
done
"$ark" status >/dev/null || fail "not running after ark start"
out=$("$ark" start --skip-synth 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "instance '$inst' is already running" <<<"$out" || fail "a second start (rc=$rc): $out"
out=$("$ark" stop); rc=$?
[ $rc -eq 0 ] && grep -q "instance '$inst' stopped" <<<"$out" || fail "ark stop (rc=$rc): $out"
nothing_left "after ark stop"
echo "start/stop: ok"

# deploy/start_production.sh: the production env file, here with real secrets.
mkdir -p "$work/prod"
cat > "$work/prod/.env.production" <<ENV
ARK_ENV=prod
ARK_INSTANCE=$inst
ARK_DATA_DIR=$work/prod/lib
ARK_STATE_DB=$work/prod/lib/ark_state.db
ARK_LOG_DIR=$work/prod/log
ARK_BACKUP_DIR=$work/prod/backups
ARK_RUN_DIR=$work/prod/run
REDIS_URL=redis://127.0.0.1:$(free_port)/0
METRICS_PORT=0
SESSION_SECRET=$(openssl rand -hex 32)
JWT_SECRET=$(openssl rand -hex 32)
ALPACA_API_KEY=PK$(openssl rand -hex 9 | tr a-f A-F)
ALPACA_SECRET_KEY=$(openssl rand -hex 20)
ALPHA_VANTAGE_API_KEY=$(openssl rand -hex 8 | tr a-f A-F)
ENV
chmod 600 "$work/prod/.env.production"
# Redis is down: start-up stops at the validation, nothing starts.
out=$(cd "$work/prod" && env -u ARK_DATA_DIR -u ARK_INSTANCE ARK="$ark" "$root/deploy/start_production.sh" --synth-duration 5 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "✗ Redis: no answer from redis://127.0.0.1:" <<<"$out" && grep -q "INVALID; nothing was started" <<<"$out" ||
  fail "Redis down (rc=$rc): $out"
nothing_left "Redis down"
echo "redis down: ok"

# A bad configuration (a placeholder secret in production).
printf 'ARK_ENV=prod\nJWT_SECRET=changeme\n' > "$work/bad.env"; chmod 600 "$work/bad.env"
export ARK_DATA_DIR=$work/bad
out=$("$ark" start --env-file "$work/bad.env" --skip-synth 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "✗ Security: JWT_SECRET is a placeholder" <<<"$out" && grep -q "nothing was started" <<<"$out" ||
  fail "bad configuration (rc=$rc): $out"
nothing_left "bad configuration"
echo "bad config: ok"

# A port in use.
mport=$(free_port)
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(60)' "$mport" & holder=$!
t=0; until (exec 3<>/dev/tcp/127.0.0.1/$mport) 2>/dev/null || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
export ARK_DATA_DIR=$work/port
out=$(METRICS_PORT=$mport "$ark" start --skip-synth 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "✗ Ports: 127.0.0.1:$mport (METRICS_PORT) is in use by another process" <<<"$out" ||
  fail "port in use (rc=$rc): $out"
kill "$holder"; holder=""
nothing_left "port in use"
echo "port in use: ok"

# A step after the start fails (the synthetic loop, with HRM letting a rule
# through in the fault-injection build): what was started is stopped.
export ARK_DATA_DIR=$work/late
out=$(ARK_FAULT_ALLOW_RULE=max_quantity "$faults" start --synth-duration 6 --synth-rate 200 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "✗ violations denied" <<<"$out" && grep -q "the synthetic validation loop failed" <<<"$out" &&
  grep -q "stopping the watchdog" <<<"$out" || fail "a failing synthetic loop (rc=$rc): $out"
nothing_left "failing synthetic loop"
echo "start: ok"
