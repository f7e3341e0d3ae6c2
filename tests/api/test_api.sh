#!/usr/bin/env bash
# test_api.sh ARK — the ingest API on a running pipeline (real processes,
# loopback, free ports): the JWT attack set (each 401), malformed, truncated,
# nested, oversized and wrongly typed bodies (400/413 with a message), wrong
# content type (415), scope (403), method (405), path (404); accepted signals
# traced through all five agents (GET /v1/traces/{id}); release by admin;
# then a load over HTTP/1.1 keep-alive and HTTP/2 (h2load, TLS+ALPN, a
# fixed number of requests) after which the server is alive, and the
# signals the client saw accepted (each 202, by its request's size) are
# exactly the API's trace ids in the journal, counted from the journal's
# records — not from the server's counter or ark run's own verdict.
set -uo pipefail
ark=$1
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; [ -f "$work/run.out" ] && tail -5 "$work/run.out"; exit 1; }
work=$(mktemp -d /tmp/ark-api-XXXXXX)
inst="api$$"
run=""
. "$here/../lib.sh"
cleanup() { stop_run; forget_instance; }
trap cleanup EXIT
for tool in h2load curl openssl python3; do   # a missing tool fails, never skips
  command -v "$tool" >/dev/null || fail "$tool is not installed (quickstart.sh installs it)"
done
scale=${ARK_TEST_SCALE:-1}
# Requests in each load: a count, not a duration, so that every response
# is seen and the tally below is exact.
singles=$(awk -v s="$scale" 'BEGIN { n = int(20000 * s); print (n < 2000 ? 2000 : n) }')
batches=$(awk -v s="$scale" 'BEGIN { n = int(2000 * s); print (n < 200 ? 200 : n) }')
accepted=0   # signals the server answered 202 for, as the client counts them
api_ids=""   # the trace ids it gave for the requests made one by one
export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false API_PORT=0
export JWT_SECRET="api-test-secret-$$-0123456789abcdefghij"
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_LOG_DIR ARK_WAIT REDIS_URL JWT_ISSUER JWT_AUDIENCE API_ENABLED
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null ||
  fail "openssl could not make a test certificate"
export API_TLS_CERT=$work/cert.pem API_TLS_KEY=$work/key.pem
# HTTP/2 is opt-in (h2o 2.2.5 has no Rapid Reset defence): this test loads it too.
export API_HTTP2=true

# A bad JWT_SECRET is a configuration error before anything starts.
out=$(JWT_SECRET=short "$ark" run --duration 1 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "JWT_SECRET" <<<"$out" && ! grep -q "short" <<<"$out" || fail "short JWT_SECRET: rc=$rc $out"

"$ark" run --rate 200 --duration 3600 > "$work/run.out" 2>&1 & run=$!
t=0; until grep -q "api: https://" "$work/run.out" || [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
port=$(grep -o "api: https://127.0.0.1:[0-9]*" "$work/run.out" | cut -d: -f4)
[ -n "$port" ] || fail "the API did not start"
url=https://127.0.0.1:$port
c() { curl -sS --cacert "$work/cert.pem" -o "$work/body" -w '%{http_code}' "$@"; }
token=$("$ark" token --sub tester) || fail "ark token"
admin=$("$ark" token --sub ops --scope admin)
json=(-H "Content-Type: application/json")
auth=(-H "Authorization: Bearer $token")

[ "$(c "$url/healthz")" = 200 ] || fail "healthz: $(cat "$work/body")"

# The attack set: every one refused with 401 and a message.
now=$(date +%s)
while read -r name tok; do
  code=$(c -X POST "$url/v1/signals" "${json[@]}" -H "Authorization: Bearer $tok" -d '{"symbol":"AAPL","price":1,"size":1}')
  [ "$code" = 401 ] || fail "attack $name: status $code $(cat "$work/body")"
  grep -q '"error":"invalid token' "$work/body" || fail "attack $name: no message: $(cat "$work/body")"
done < <(python3 "$here/attack_tokens.py" "$JWT_SECRET" "$now")
[ "$(c -X POST "$url/v1/signals" "${json[@]}" -d '{}')" = 401 ] || fail "no token accepted"
[ "$(c -X POST "$url/v1/signals" "${json[@]}" -H "Authorization: Basic dXNlcjpwdw==" -d '{}')" = 401 ] || fail "basic auth accepted"

# Bodies.
body_case() {  # name expected-status body
  local code; code=$(c -X POST "$url/v1/signals" "${json[@]}" "${auth[@]}" --data-binary "$3")
  [ "$code" = "$2" ] || fail "body $1: status $code (expected $2): $(cat "$work/body")"
  grep -q '"error":' "$work/body" || fail "body $1: no message"
}
body_case malformed 400 '{"symbol":"AAPL","price":1,'
body_case truncated_array 400 '[{"symbol":"AAPL","price":1,"size":1},{"symbol":"MS'
body_case nested 400 '[{"symbol":{"a":{"b":[[[[1]]]]}},"price":1,"size":1}]'
body_case wrong_type 400 '{"symbol":"AAPL","price":"one","size":1}'
body_case missing_field 400 '{"symbol":"AAPL","size":1}'
body_case unknown_field 400 '{"symbol":"AAPL","price":1,"size":1,"evil":true}'
body_case not_object 400 '"AAPL"'
body_case empty 400 ''
body_case empty_array 400 '[]'
body_case trailing_comma 400 '[{"symbol":"AAPL","price":1,"size":1},]'
python3 -c 'import sys; sys.stdout.write("[" + ",".join(["{\"symbol\":\"AAPL\",\"price\":1,\"size\":1}"] * 1001) + "]")' > "$work/many.json"
body_case too_many 413 "@$work/many.json"
head -c 400000 /dev/zero | tr '\0' ' ' > "$work/huge.json"
code=$(c -X POST "$url/v1/signals" "${json[@]}" "${auth[@]}" --data-binary "@$work/huge.json")
[ "$code" = 413 ] || fail "oversized body: status $code"
grep -q "larger than" "$work/body" || fail "oversized body: $(cat "$work/body")"
code=$(c -X POST "$url/v1/signals" -H "Content-Type: text/plain" "${auth[@]}" -d '{"symbol":"AAPL","price":1,"size":1}')
[ "$code" = 415 ] || fail "wrong content type: $code"
code=$(c -X POST "$url/v1/signals" "${json[@]}" -H "Authorization: Bearer $admin" -d '{"symbol":"AAPL","price":1,"size":1}')
[ "$code" = 403 ] || fail "wrong scope: $code"
[ "$(c "$url/v1/signals" "${auth[@]}")" = 405 ] || fail "GET /v1/signals"
[ "$(c "$url/nowhere" "${auth[@]}")" = 404 ] || fail "unknown path"

# Accepted signals, traced through the five agents (a ts a minute ago: within
# ARK_TICK_MAX_AGE).
recent=$(( $(date +%s) - 60 ))000000000
code=$(c -X POST "$url/v1/signals" "${json[@]}" "${auth[@]}" \
  -d '[{"symbol":"AAPL","price":187.25,"size":100},{"symbol":"MSFT","price":402.5,"size":10,"ts":'"$recent"'}]')
[ "$code" = 202 ] || fail "valid batch: $code $(cat "$work/body")"
ids=$(grep -o '"[0-9a-f]\{4\}-[0-9a-f]\{12\}"' "$work/body" | tr -d '"')
[ "$(wc -w <<<"$ids")" = 2 ] || fail "expected two trace ids: $(cat "$work/body")"
accepted=$((accepted + 2)); api_ids="$api_ids $ids"
for id in $ids; do
  t=0; until [ "$(c "$url/v1/traces/$id" "${auth[@]}")" = 200 ] || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
  grep -q '"complete":true' "$work/body" && grep -q '"source":"api"' "$work/body" || fail "trace $id: $(cat "$work/body")"
done
[ "$(c "$url/v1/traces/not-a-trace" "${auth[@]}")" = 400 ] || fail "bad trace id"
[ "$(c "$url/v1/traces/0000-7fffffffffff" "${auth[@]}")" = 404 ] || fail "absent trace"
"$ark" trace "$(head -1 <<<"$ids")" --json | grep -q '"complete":true' || fail "ark trace of an API trace id"

# The synthetic loop's endpoint: only with synthetic:write (the signals scope
# is not enough); its fields checked one by one; injections accepted.
synth=$("$ark" token --sub synth --scope synthetic:write)
sauth=(-H "Authorization: Bearer $synth")
[ "$(c -X POST "$url/v1/synthetic" "${json[@]}" "${auth[@]}" -d '[{"symbol":"A","price":1,"size":1}]')" = 403 ] ||
  fail "/v1/synthetic with signals:write"
grep -q "synthetic:write" "$work/body" || fail "/v1/synthetic 403 message: $(cat "$work/body")"
synth_case() {  # expected-status body expected-message
  local code; code=$(c -X POST "$url/v1/synthetic" "${json[@]}" "${sauth[@]}" --data-binary "$2")
  [ "$code" = "$1" ] || fail "/v1/synthetic $2: status $code (expected $1): $(cat "$work/body")"
  [ -z "${3:-}" ] || grep "$3" >/dev/null "$work/body" || fail "/v1/synthetic $2: $(cat "$work/body") lacks '$3'"
}
synth_case 400 '{"symbol":"A","price":1,"size":1}' "expected an array"
synth_case 400 '[{"symbol":"A","price":"NaN","size":1}]' "signal 0: price must be"
synth_case 400 '[{"symbol":"A","price":1,"size":1},{"symbol":"B","price":1,"size":"x"}]' "signal 1: size must be"
synth_case 400 '[{"symbol":"A","price":1,"size":1,"kind":"nonsense"}]' "kind must name"
synth_case 400 '[{"symbol":"A","price":1,"size":1,"lane":2}]' "lane must be"
synth_case 400 '[{"symbol":"A","price":1}]' 'missing \\"size'
synth_case 400 '[{"symbol":"A","price":1,"size":1,"x":1}]' "unknown key"
synth_case 400 '[{"symbol":"A","price":1,"size":1}] []' "text after"
synth_case 202 '[{"symbol":"INJ0001","price":"nan","size":-5,"ts":0,"kind":"reference_price","lane":0,"burst":3},{"symbol":"AAPL","price":187.5,"size":1}]'
accepted=$((accepted + 2)); api_ids="$api_ids $(grep -o '"[0-9a-f]\{4\}-[0-9a-f]\{12\}"' "$work/body" | tr -d '"')"

# Release: admin only; 409 when not quarantined; 404 unknown.
[ "$(c -X POST "$url/v1/agents/kenny/release" "${auth[@]}")" = 403 ] || fail "release without admin"
[ "$(c -X POST "$url/v1/agents/kenny/release" -H "Authorization: Bearer $admin")" = 409 ] || fail "release of a free agent"
[ "$(c -X POST "$url/v1/agents/nobody/release" -H "Authorization: Bearer $admin")" = 404 ] || fail "release of nobody"

# Load: HTTP/1.1 keep-alive, then HTTP/2 (ALPN h2), single signals and batches.
echo '{"symbol":"AAPL","price":187.5,"size":100}' > "$work/one.json"
python3 -c 'import sys; sys.stdout.write("[" + ",".join(["{\"symbol\":\"SYM%d\",\"price\":%d.5,\"size\":1}" % (i % 50, 100 + i) for i in range(100)]) + "]")' > "$work/batch.json"
h2() { h2load "$@" -H "Authorization: Bearer $token" -H "Content-Type: application/json" "$url/v1/signals" 2>&1; }
out1=$(h2 --h1 -n "$singles" -c 4 -m 1 -d "$work/one.json")
out2=$(h2 -n "$batches" -c 4 -m 8 -d "$work/batch.json")
twoxx() { grep -o "status codes: [0-9]* 2xx" <<<"$1" | awk '{print $3}'; }
for out in "$out1" "$out2"; do
  # 503 (the ring full: retry) is backpressure, not failure; errors and 4xx are.
  grep -Eq "requests: ([0-9]+) total, \1 started, \1 done" <<<"$out" || fail "h2load did not finish every request: $(grep 'requests:' <<<"$out")"
  grep -q " 0 errored, 0 timeout" <<<"$out" || fail "h2load: $(grep -E 'requests:|status' <<<"$out")"
  [ "$(twoxx "$out")" -gt 0 ] || fail "no request accepted: $(grep 'status codes' <<<"$out")"
  bad=$(grep -o "status codes: .*" <<<"$out" | awk '{print $7}')   # the 4xx count
  [ "${bad:-0}" = 0 ] || fail "4xx under load: $(grep 'status codes' <<<"$out")"
done
grep -q "Application protocol: h2" <<<"$out2" || fail "the second load did not use HTTP/2: $(grep -i protocol <<<"$out2")"
accepted=$((accepted + $(twoxx "$out1") + 100 * $(twoxx "$out2")))
[ "$(c "$url/healthz")" = 200 ] || fail "the server is not alive after the load"
server_count=$(grep -o '"accepted":[0-9]*' "$work/body" | cut -d: -f2)
[ "$server_count" = "$accepted" ] || fail "the server counts $server_count accepted signals, the client saw $accepted"
kill -INT $run; wait $run; rc=$?; run=""
[ $rc -eq 0 ] || fail "ark run exited $rc after the load: $(tail -5 "$work/run.out")"
# Every accepted signal is in the journal, once: the API's trace ids (bit 47
# set, node 0) counted from the records themselves.
"$ark" journal verify --dir "$ARK_DATA_DIR/journal" >/dev/null || fail "journal verify after the run"
"$ark" journal tail --dir "$ARK_DATA_DIR/journal" --from 0 --bytes 0 --json > "$work/journal.json" || fail "ark journal tail"
grep -o '"trace_id":[0-9]*' "$work/journal.json" | cut -d: -f2 |
  awk '$1 >= 140737488355328 && $1 < 281474976710656' | sort > "$work/api_ids"
journaled=$(wc -l < "$work/api_ids")
distinct=$(sort -u "$work/api_ids" | wc -l)
[ "$journaled" = "$accepted" ] || fail "$accepted signals accepted, $journaled API events in the journal"
[ "$distinct" = "$journaled" ] || fail "an accepted signal was journaled twice ($journaled records, $distinct trace ids)"
for id in $api_ids; do   # and the ones whose ids the client holds, by id
  dec=$(( 16#${id%%-*} << 48 | 16#${id#*-} ))
  grep -qx "$dec" "$work/api_ids" || fail "trace $id accepted but not in the journal"
done
echo "api: $accepted signals accepted ($(twoxx "$out1") single, $(twoxx "$out2") batches of 100), $journaled journaled; $(grep -o 'summary: .*' "$work/run.out")"
echo "api: ok"
