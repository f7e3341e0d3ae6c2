#!/usr/bin/env bash
# test_poisoned_batch.sh ARK — the issue's first reproduction, through the
# ingest API of a running pipeline. One batch builds a long position in PX
# and a short in PA, then PA jumps so the day has lost 420k against a 250k
# daily_loss_limit; the next intent (PB) must be denied daily_loss.
#   control   the batch as it is: PB denied daily_loss
#   poisoned  two more PX prints in it, 1e308 then 550 (before the fix they
#             made equity inf, then NaN, and PB was allowed and filled):
#             through /v1/synthetic (injections may carry absurd values) PB
#             is still denied daily_loss, HRM's state stays finite (no
#             state_corrupt), and the daily_loss denials count in the
#             metrics; through /v1/signals the 1e308 print is refused with
#             400 naming the signal and its field, and nothing of the batch
#             is taken.
set -uo pipefail
ark=$1
work=$(mktemp -d /tmp/ark-poisoned-XXXXXX)
inst="poi$$"
run=""
fail() { echo "FAIL: $*"; [ -f "$work/run.out" ] && tail -5 "$work/run.out"; exit 1; }
. "$(dirname "$0")/../lib.sh"
cleanup() { stop_run; forget_instance; }
trap cleanup EXIT
export ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false API_PORT=0
export JWT_SECRET="poisoned-test-secret-$$-0123456789abcdefghij"
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_GRAVEYARD_SHA256 ARK_LOG_DIR REDIS_URL JWT_ISSUER JWT_AUDIENCE API_ENABLED \
  API_TLS_CERT API_TLS_KEY ALPHA_VANTAGE_API_KEY

# One batch: PX long 2000 @ 500, PA short 4200 @ 100, PA marked 150 then
# 200 (-420k), [PX 1e308, PX 550], then PB's intent: the daily-loss case.
batch() {  # $1: "" or the poison
  local now; now=$(date +%s%N)
  local t=$((now - 2000000000))
  printf '[{"symbol":"PX","price":500,"size":2000,"ts":%d,"kind":"daily_loss","lane":1,"burst":1},' $((t + 1))
  printf '{"symbol":"PA","price":100,"size":-4200,"ts":%d,"kind":"daily_loss","lane":1,"burst":1},' $((t + 2))
  printf '{"symbol":"PA","price":150,"size":0,"ts":%d,"kind":"daily_loss","lane":1,"burst":1},' $((t + 3))
  printf '{"symbol":"PA","price":200,"size":0,"ts":%d,"kind":"daily_loss","lane":1,"burst":1},' $((t + 4))
  [ -n "$1" ] && printf '{"symbol":"PX","price":1e308,"size":0,"ts":%d,"kind":"daily_loss","lane":1,"burst":1},' $((t + 5)) &&
    printf '{"symbol":"PX","price":550,"size":0,"ts":%d,"kind":"daily_loss","lane":1,"burst":1},' $((t + 6))
  printf '{"symbol":"PB","price":10,"size":10,"ts":%d,"kind":"daily_loss","lane":0,"burst":1}]' $((t + 7))
}

for variant in control poisoned; do
  export ARK_DATA_DIR=$work/$variant
  "$ark" run --rate 10 --duration 3600 --violations 0 > "$work/run.out" 2>&1 & run=$!
  t=0; until grep -q "api: http://" "$work/run.out" || [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
  port=$(grep -o "api: http://127.0.0.1:[0-9]*" "$work/run.out" | cut -d: -f4)
  [ -n "$port" ] || fail "$variant: the API did not start"
  url=http://127.0.0.1:$port
  c() { curl -sS -o "$work/body" -w "%{http_code}" "$@"; }
  synth=$("$ark" token --sub poison --scope synthetic:write)
  signals=$("$ark" token --sub poison)
  if [ $variant = poisoned ]; then
    # Through /v1/signals the absurd print is refused, naming it; nothing is taken.
    body=$(batch poison | sed -e 's/,"kind":"daily_loss","lane":[01],"burst":1//g' -e 's/"size":-/"size":/g')
    code=$(c -X POST "$url/v1/signals" -H "Content-Type: application/json" -H "Authorization: Bearer $signals" -d "$body")
    [ "$code" = 400 ] && grep -q 'signal 4: price: price_out_of_bounds' "$work/body" ||
      fail "/v1/signals with 1e308: $code $(cat "$work/body")"
  fi
  code=$(c -X POST "$url/v1/synthetic" -H "Content-Type: application/json" -H "Authorization: Bearer $synth" \
    -d "$(batch "$([ $variant = poisoned ] && echo poison)")")
  [ "$code" = 202 ] || fail "$variant: /v1/synthetic: $code $(cat "$work/body")"
  pb=$(grep -o '"[0-9a-f]\{4\}-[0-9a-f]\{12\}"' "$work/body" | tail -1 | tr -d '"')
  t=0; until "$ark" trace "$pb" --json > "$work/pb.json" 2>/dev/null || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
  grep -q '"decision":"deny"' "$work/pb.json" && grep -q '"reason":"daily_loss"' "$work/pb.json" ||
    fail "$variant: PB was not denied daily_loss: $(cat "$work/pb.json")"
  s=$("$ark" status --json)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); t=d["trading"]; assert t["halt_cause"]=="daily_loss" and t["state"]=="ACTIVE", t; assert d["denials"]["by_rule"]["daily_loss"]>=1 and d["denials"]["by_rule"]["state_corrupt"]==0, d["denials"]' "$s" ||
    fail "$variant: ark status: $s"
  kill -INT "$run"; wait "$run"; run=""
  echo "$variant: PB denied daily_loss"
done
echo "poisoned batch: OK"
