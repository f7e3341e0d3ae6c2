#!/usr/bin/env bash
# test_relay_json.sh ARK — smoke test of `ark perf relay`:
#  1. `--quick --json` prints one JSON object whose headline holds every
#     figure the pipeline issue names, as a positive number, with every Redis
#     case measured against a redis-server the benchmark started itself;
#  2. afterwards nothing it started is left: that redis-server is gone and its
#     port closed, no stage process survives, the shm segment is unlinked;
#  3. with a redis-server that does not exist, the Redis case is reported as
#     skipped with a reason naming it, and the rings are still measured.
# Not a measurement: figures are only checked to be there and positive.
set -euo pipefail
ark=$1
# A missing redis-server fails the test (quickstart.sh installs it): the
# Redis baseline is the headline's comparison.
command -v redis-server >/dev/null || { echo "FAIL: redis-server is not installed (Debian package redis-server)"; exit 1; }
command -v redis-cli >/dev/null || { echo "FAIL: redis-cli is not installed (Debian package redis-tools)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ark-relay-test-XXXXXX")
trap 'rm -rf "$work"' EXIT
# A name of our own for the binary: every stage process carries it in its
# command line, so a survivor can be found without matching anyone else's.
me="$work/ark-relay-test-$$"
ln -s "$(readlink -f "$ark")" "$me"

fail() { echo "FAIL: $*"; [ -s "$work/err" ] && { echo "--- stderr:"; cat "$work/err"; }; exit 1; }
number() {  # number KEY JSON: the value of "KEY":<number> (first occurrence)
	{ printf '%s' "$2" | grep -Eo "\"$1\":-?[0-9][0-9.e+-]*" || true; } | head -1 | cut -d: -f2
}

# ---- 1. the headline ----
timeout --kill-after=10 200 "$me" perf relay --quick --json >"$work/out" 2>"$work/err" &
pid=$!
wait "$pid" || fail "ark perf relay --quick --json exited with status $?"
out=$(cat "$work/out")
[ "$(wc -l <"$work/out")" -eq 1 ] || fail "expected one line of JSON, got: $out"
case "$out" in \{*\}) ;; *) fail "not a JSON object: $out" ;; esac
headline=$(printf '%s' "$out" | sed -n 's/.*"headline":{\([^}]*\)}.*/\1/p')
[ -n "$headline" ] || fail "no headline object in: $out"
for key in relay_rings_eps relay_pipes_eps relay_unix_eps relay_redis_eps relay_rings_p99_us \
	   relay_redis_p99_us relay_rings_vs_redis_throughput_ratio relay_redis_vs_rings_p99_ratio; do
	value=$(number "$key" "$headline")
	[ -n "$value" ] || fail "headline lacks a number for $key: {$headline}"
	awk -v v="$value" 'BEGIN { exit !(v > 0) }' || fail "$key is $value, expected > 0"
done
for transport in rings pipes unix redis redis_count1 redis_pipelined; do
	printf '%s' "$out" | grep "{\"transport\":\"$transport\",\"measured\":true," >/dev/null ||
		fail "case $transport was not measured: $out"
done
printf '%s' "$out" | grep '"trace_breaks":[1-9]' >/dev/null && fail "a relay broke a trace: $out"

# ---- 2. nothing left behind ----
server=$(printf '%s' "$out" | grep -Eo '"redis_server":\{[^}]*\}') || fail "no redis_server member: $out"
printf '%s' "$server" | grep '"started":true' >/dev/null || fail "redis-server was not started: $server"
printf '%s' "$server" | grep '"stopped":true' >/dev/null || fail "redis-server was not stopped: $server"
redis_pid=$(number pid "$server")
redis_port=$(number port "$server")
{ [ -n "$redis_pid" ] && [ -n "$redis_port" ]; } || fail "redis_server lacks pid or port: $server"
! kill -0 "$redis_pid" 2>/dev/null || fail "redis-server pid $redis_pid still runs"
! timeout 5 redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 ||
	fail "something still answers on 127.0.0.1:$redis_port"
# shellcheck disable=SC2009
survivors=$(ps -eo pid=,args= | grep -F -- "$me" | grep -v grep || true)
[ -z "$survivors" ] || fail "stage processes survived: $survivors"
[ ! -e "/dev/shm/ark-perf-relay-$pid" ] || fail "shm segment /dev/shm/ark-perf-relay-$pid left behind"

# ---- 3. no redis-server: Redis skipped, the rest measured ----
timeout --kill-after=10 100 "$me" perf relay --quick --json --transports rings,redis \
	--redis-server "$work/no-such-redis-server" >"$work/out" 2>"$work/err" ||
	fail "a missing redis-server failed the whole benchmark"
out=$(cat "$work/out")
[ -n "$(number relay_rings_eps "$out")" ] || fail "rings not measured without Redis: $out"
printf '%s' "$out" | grep '"relay_redis_eps":null' >/dev/null || fail "relay_redis_eps should be null: $out"
printf '%s' "$out" | grep "\"skipped\":\"$work/no-such-redis-server not found" >/dev/null ||
	fail "the skip reason does not name the missing redis-server: $out"
grep -q "no-such-redis-server" "$work/err" || fail "stderr does not say why Redis was skipped"

echo "ark perf relay: headline complete, redis-server $redis_pid on port $redis_port stopped, nothing left behind"
