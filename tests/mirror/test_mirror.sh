#!/usr/bin/env bash
# test_mirror.sh ARK — the Redis stream mirror against a real redis-server
# (Debian's, started here on a free loopback port):
#   - N events give exactly N stream entries, IDs 1-0 .. N-0 in order;
#   - Redis killed in the middle of a run and brought back: the stream ends
#     complete, without gaps or duplicates, the pipeline went on while Redis
#     was gone (many rings' worth of events), and mirror_lag_events showed
#     the lag and its catching up;
#   - a password in REDIS_URL authenticates and never appears in a log;
#   - a malformed REDIS_URL is a configuration error naming it; without
#     REDIS_URL the mirror is off and says so once.
set -uo pipefail
ark=$1
fail() {
  echo "FAIL: $*"
  for f in "${ARK_DATA_DIR:-/nonexistent}"/logs/{mirror,watchdog}.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}
command -v redis-server >/dev/null || fail "redis-server is not installed (Debian package redis-server)"
work=$(mktemp -d /tmp/ark-mirror-XXXXXX)
redis_pid=""
cleanup() {
  [ -n "$redis_pid" ] && { kill -9 "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
  pkill -KILL -f -- "--instance mirror$$"'( |$)' 2>/dev/null
  rm -f "/dev/shm/ark-mirror$$"
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib.sh"   # free_port, wait_for
port=$(free_port)
start_redis() {   # start_redis [extra redis-server args]
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --appendonly yes --appendfsync always \
    --save '' --logfile "$work/redis.log" "$@" & redis_pid=$!
  local t=0; until redis-cli -p "$port" "${@:+--no-auth-warning}" ${auth:+-a "$auth"} PING 2>/dev/null | grep PONG >/dev/null || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
  redis-cli -p "$port" ${auth:+--no-auth-warning -a "$auth"} PING | grep PONG >/dev/null || fail "redis-server did not start"
}
auth=""
rcli() { redis-cli -p "$port" ${auth:+--no-auth-warning -a "$auth"} "$@"; }
export ARK_DATA_DIR=$work/data ARK_INSTANCE="mirror$$" ARK_JOURNAL_SYNC=none METRICS_PORT=0
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_LOG_DIR ARK_WAIT ARK_MIRROR_STREAM ARK_MIRROR_PER_TOPIC

# 1. N events, N entries.
start_redis
out=$(REDIS_URL="redis://127.0.0.1:$port/0" "$ark" run --duration 2 --rate 3000 --quiet 2>&1) || fail "ark run: $out"
n=$(grep -o "^summary: [0-9]* ticks" <<<"$out" | awk '{print $2}')
[ "$(rcli XLEN ark:events)" = "$n" ] || fail "$n events but $(rcli XLEN ark:events) entries"
[ "$(rcli XRANGE ark:events - + COUNT 1 | head -1)" = "1-0" ] || fail "the first entry is not 1-0"
[ "$(rcli XREVRANGE ark:events + - COUNT 1 | head -1)" = "$n-0" ] || fail "the last entry is not $n-0"
rcli XRANGE ark:events - + COUNT 1 | grep "trace_id" >/dev/null || fail "entries lack their fields"
grep -q "connected; stream ark:events resumes at seq 1" "$ARK_DATA_DIR/logs/mirror.log" || fail "mirror.log: $(cat "$ARK_DATA_DIR/logs/mirror.log")"

# Per-topic streams: fills, denials and signals hold every event between them.
rm -rf "$ARK_DATA_DIR"
out=$(ARK_MIRROR_PER_TOPIC=true REDIS_URL="redis://127.0.0.1:$port/1" "$ark" run --duration 1 --rate 2000 --quiet 2>&1) ||
  fail "ark run with per-topic streams: $out"
n=$(grep -o "^summary: [0-9]* ticks" <<<"$out" | awk '{print $2}')
total=0
for topic in fills denials signals; do total=$((total + $(rcli -n 1 XLEN "ark:events:$topic"))); done
[ "$total" = "$n" ] || fail "per topic: $total entries for $n events"
[ "$(rcli -n 1 XLEN ark:events:denials)" -gt 0 ] || fail "per topic: no denials stream"

# 2. Redis gone in the middle of a run, then back. The pipeline does not wait
# for Redis: while it is gone the journal takes many times the mirror ring's
# 4096 events (were Aletheia held by the mirror, it would stop within one
# ring). Each step waits for what it needs to see, never a fixed time; how
# fast the pipeline runs meanwhile is `ark perf`'s business.
rcli DEL ark:events >/dev/null
rm -rf "$ARK_DATA_DIR"
REDIS_URL="redis://127.0.0.1:$port/0" "$ark" run --duration 3600 --rate 2000 > "$work/run.out" 2>&1 & run=$!
wait_for 120 "no metrics server: $(cat "$work/run.out")" grep -q "metrics: http" "$work/run.out"
mport=$(grep -o "127.0.0.1:[0-9]*/metrics" "$work/run.out" | head -1 | cut -d: -f2 | cut -d/ -f1)
[ -n "$mport" ] || fail "no metrics port: $(cat "$work/run.out")"
metric() { curl -fsS "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
streamed() { [ "$(rcli XLEN ark:events 2>/dev/null || echo 0)" -ge 2000 ]; }
wait_for 120 "the mirror never wrote 2000 entries" streamed
kill -9 $redis_pid; wait $redis_pid 2>/dev/null; redis_pid=""
at_down=$(metric 'ark_events_total{agent="aletheia"}')
[ -n "$at_down" ] || fail "no ark_events_total for Aletheia"
went_on() { local now; now=$(metric 'ark_events_total{agent="aletheia"}'); [ "${now:-0}" -ge $((at_down + 5 * 4096)) ]; }
wait_for 180 "the pipeline stopped with Redis gone: journaled $at_down then $(metric 'ark_events_total{agent="aletheia"}')" went_on
lagging() { awk -v l="$(metric mirror_lag_events)" 'BEGIN { exit !(l > 4096) }'; }
wait_for 60 "mirror_lag_events was $(metric mirror_lag_events) with Redis gone" lagging
start_redis
caught_up() { awk -v l="$(metric mirror_lag_events)" 'BEGIN { exit !(l < 4096) }'; }
wait_for 180 "the mirror did not catch up once Redis was back (lag $(metric mirror_lag_events))" caught_up
kill -INT $run; wait $run; rc=$?
[ $rc -eq 0 ] || fail "ark run exited $rc: $(tail -5 "$work/run.out")"
n=$(grep -o "^summary: [0-9]* ticks" "$work/run.out" | awk '{print $2}')
[ "$(rcli XLEN ark:events)" = "$n" ] || fail "$n events but $(rcli XLEN ark:events) entries after the outage"
[ "$(rcli XRANGE ark:events - + COUNT 1 | head -1)" = "1-0" ] || fail "the first entry is not 1-0"
[ "$(rcli XREVRANGE ark:events + - COUNT 1 | head -1)" = "$n-0" ] || fail "the last entry is not $n-0"
grep -q "reconnecting" "$ARK_DATA_DIR/logs/mirror.log" || fail "the mirror did not notice Redis going"

# 3. A password.
kill -9 $redis_pid; wait $redis_pid 2>/dev/null
rm -rf "$work/appendonlydir" "$work"/appendonly*.aof
secret="s3cr3t-$$-pw"
auth=$secret start_redis --requirepass "$secret"
auth=$secret
rm -rf "$ARK_DATA_DIR"
out=$(REDIS_URL="redis://:$secret@127.0.0.1:$port/2" "$ark" run --duration 1 --rate 1000 --quiet 2>&1) || fail "ark run with a password: $out"
n=$(grep -o "^summary: [0-9]* ticks" <<<"$out" | awk '{print $2}')
[ "$(rcli -n 2 XLEN ark:events)" = "$n" ] || fail "with a password and db 2: $(rcli -n 2 XLEN ark:events) entries for $n"
rm -rf "$ARK_DATA_DIR"
REDIS_URL="redis://:wrong-password@127.0.0.1:$port/0" "$ark" run --duration 1 --rate 500 --quiet >/dev/null 2>&1 ||
  fail "a wrong Redis password must not stop the pipeline"
grep -q "AUTH refused" "$ARK_DATA_DIR/logs/mirror.log" || fail "no AUTH refused in mirror.log"
! grep -rq -e "$secret" -e "wrong-password" "$ARK_DATA_DIR/logs" || fail "a password appears in a log"

# 4. Bad URL, no URL.
out=$(REDIS_URL="redis://localhost:notaport/0" "$ark" run --duration 1 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "REDIS_URL" <<<"$out" && grep -q "port" <<<"$out" || fail "bad REDIS_URL: rc=$rc $out"
out=$(REDIS_URL="redis://:hunter2@host:6379/x" "$ark" run --duration 1 2>&1); rc=$?
[ $rc -eq 2 ] && ! grep -q hunter2 <<<"$out" || fail "bad REDIS_URL with a password: rc=$rc $out"
rm -rf "$ARK_DATA_DIR"
out=$(env -u REDIS_URL "$ark" run --duration 1 --quiet 2>&1) || fail "ark run without REDIS_URL: $out"
[ "$(grep -c "mirror is off" "$ARK_DATA_DIR/logs/watchdog.log")" = 1 ] || fail "the mirror did not say once that it is off"
echo "mirror: ok"
