#!/usr/bin/env bash
# test_runbooks.sh ARK README — every command of README's Runbooks section,
# run as written against a live instance (ark watchdog with a synthetic
# source, the metrics server and the API; Kenny slowed by the paper venue's
# latency so that the watchdog quarantines it, as in the runbook), with only
# the addresses, the log directory and the synthetic loop's duration put to
# this test's — and each command's effect checked: what it must print or
# change, not only that it ran. A runbook command this test has no check for
# fails it (add the check with the command).
#
# Left out, each covered elsewhere: ./deploy/start_production.sh and
# `ark start` (tests/ops/test_start.sh), `ark rollback`
# (tests/ops/test_rollback.sh), systemctl, chown and git lines. The env file
# commands run in a copy of the repository's deploy/ in the test's directory.
set -uo pipefail
ark=$(readlink -f "$1") readme=$2
repo=$(cd "$(dirname "$readme")" && pwd)
work=$(mktemp -d /tmp/ark-runbooks-XXXXXX)
inst="rb$$" wd="" redis=""
fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
  [ -n "$wd" ] && kill -TERM "$wd" 2>/dev/null && wait "$wd" 2>/dev/null
  [ -n "$redis" ] && kill "$redis" 2>/dev/null && wait "$redis" 2>/dev/null
  pkill -KILL -f -- "--instance ($inst|synth-check)( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst" "/dev/shm/ark-synth-check"; rm -rf "$work"
}
trap cleanup EXIT
for tool in jq ss curl redis-server redis-cli openssl python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (quickstart.sh installs it)"
done
. "$(dirname "$0")/../lib.sh"   # wait_for, free_port
mport=$(free_port) aport=$(free_port) rport=$(free_port)
export ARK_DATA_DIR=$work/data ARK_LOG_DIR=$work/log ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none
export METRICS_PORT=$mport API_PORT=$aport JWT_SECRET=$(openssl rand -hex 32)
unset ARK_STATE_DB REDIS_URL ALPHA_VANTAGE_API_KEY ARK_BROKER ARK_RUN_DIR ARK_ENV ARK_ENV_FILE ARK_BACKUP_DIR
mkdir -p "$work/log" "$work/site"
cp -r "$repo/deploy" "$work/site/deploy"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no > "$work/redis.out" 2>&1 & redis=$!
wait_for 30 "redis-server did not start" redis-cli -p "$rport" ping
# Kenny slowed: 3 ms an order against a 1 ms bound, so the watchdog
# quarantines it and the quarantine runbook has something to act on.
ARK_PAPER_LATENCY_US=3000 WATCHDOG_MAX_LATENCY_MS=1 \
  "$ark" watchdog --no-feed --synthetic 200 > "$work/watchdog.out" 2>&1 & wd=$!
up() { curl -sf "http://127.0.0.1:$mport/healthz" >/dev/null && "$ark" trace 1 >/dev/null 2>&1; }
wait_for 120 "the instance did not come up: $(tail -5 "$work/watchdog.out")" up
quarantined() { grep -q "agent quarantined name=kenny" "$work/log/watchdog.log" 2>/dev/null; }
wait_for 120 "the watchdog never quarantined the slowed Kenny" quarantined

# ---- the effect of each command ----
# check CMD RC OUT: fails unless the command (as README writes it) did what
# the runbook says it does.
metric() { grep -E "^$1 " <<<"$2" | awk '{print $2}'; }
check() {
  local cmd=$1 rc=$2 out=$3
  case "$cmd" in
    "cp deploy/.env.production.template .env.production && chmod 600 .env.production")
      [ "$rc" = 0 ] && cmp -s "$work/site/deploy/.env.production.template" "$work/site/.env.production" &&
        [ "$(stat -c %a "$work/site/.env.production")" = 600 ] || fail "the env file was not made from the template, mode 600" ;;
    "ark config validate --env-file .env.production")
      # As copied: every placeholder secret is named and the configuration refused.
      [ "$rc" = 1 ] && grep -q "INVALID" <<<"$out" || fail "the template validated (rc=$rc): $out"
      for v in SESSION_SECRET JWT_SECRET ALPACA_API_KEY ALPACA_SECRET_KEY ALPHA_VANTAGE_API_KEY; do
        grep -q "$v is a placeholder" <<<"$out" || fail "validate did not name the placeholder $v: $out"
      done
      # Filled in, as the runbook's next step says: valid.
      sed -i -e "s/^SESSION_SECRET=.*/SESSION_SECRET=$(openssl rand -hex 32)/" \
        -e "s/^JWT_SECRET=.*/JWT_SECRET=$(openssl rand -hex 32)/" \
        -e "s/^ALPHA_VANTAGE_API_KEY=.*/ALPHA_VANTAGE_API_KEY=Q7W2E9R4T1Y8U3I6/" \
        -e "s/^ALPACA_API_KEY=.*/ALPACA_API_KEY=PKA1B2C3D4E5F6G7H8J9/" \
        -e "s/^ALPACA_SECRET_KEY=.*/ALPACA_SECRET_KEY=$(openssl rand -hex 20)/" \
        -e "s|^REDIS_URL=.*|REDIS_URL=redis://127.0.0.1:$rport/0|" "$work/site/.env.production"
      out=$(cd "$work/site" && prod_env "$ark" config validate --env-file .env.production 2>&1) ||
        fail "the filled-in env file did not validate: $out"
      grep -q "Production configuration is VALID" <<<"$out" || fail "filled-in env file: $out" ;;
    "ark status")
      [ "$rc" = 0 ] && grep -q "instance $inst - running" <<<"$out" || fail "ark status: $out"
      for a in Kyle Joey HRM Kenny Aletheia; do
        grep -Eq "^$a +running" <<<"$out" || fail "ark status: $a is not shown running: $out"
      done ;;
    "curl -s http://127.0.0.1:9090/metrics/json | jq '.histograms.ark_pass_latency_ms'"|\
    "curl -s http://127.0.0.1:9090/metrics/json | jq '.histograms.hrm_eval_ms'")
      jq -e '.count > 0 and (.p95 | type == "number") and (.p99 | type == "number")' <<<"$out" >/dev/null ||
        fail "$cmd: no histogram with counts and quantiles: $out" ;;
    "curl -s http://127.0.0.1:9090/metrics | grep '_process_ms_bucket{le=\"+Inf\"}'")
      for a in kyle joey hrm kenny aletheia; do
        [ "$(metric "${a}_process_ms_bucket\\{le=\"\\+Inf\"\\}" "$out")" -gt 0 ] 2>/dev/null ||
          fail "no +Inf bucket counting $a's events: $out"
      done ;;
    "curl -s http://127.0.0.1:9090/metrics | grep '^queue_depth'")
      for r in kyle joey hrm kenny aletheia source0; do
        grep -Eq "^queue_depth\\{ring=\"$r\"\\} [0-9]+$" <<<"$out" || fail "no queue depth of ring $r: $out"
      done ;;
    "ark trace 1")
      [ "$rc" = 0 ] && grep -q "trace 0000-000000000001" <<<"$out" && grep -q "missing: none" <<<"$out" &&
        grep -q "Kyle ✓ Joey ✓ HRM ✓ Kenny ✓ Aletheia ✓" <<<"$out" || fail "ark trace 1: $out" ;;
    "curl -s http://127.0.0.1:9090/slos | jq '.violations'")
      jq -e 'type == "array"' <<<"$out" >/dev/null || fail "/slos violations is not a list: $out" ;;
    "curl -s http://127.0.0.1:9090/metrics | grep -E '^(watchdog_quarantines_total|ark_trace_breaks_total|ark_errors_total)'")
      [ "$(metric ark_trace_breaks_total "$out")" = 0 ] || fail "trace breaks: $out"
      for a in kyle joey hrm kenny aletheia; do
        [ -n "$(metric "ark_errors_total\\{agent=\"$a\"\\}" "$out")" ] || fail "no error count for $a: $out"
      done
      [ "$(metric 'watchdog_quarantines_total\{agent="kenny"\}' "$out")" -ge 1 ] || fail "Kenny's quarantine not counted: $out" ;;
    "curl -s http://127.0.0.1:9090/metrics | grep watchdog_quarantines_total")
      # Per agent, not one global count: none counts more than the
      # watchdog logged for that agent (HRM may be quarantined too when this
      # machine is loaded enough to make one of its batches take 1 ms).
      [ "$(metric 'watchdog_quarantines_total\{agent="kenny"\}' "$out")" -ge 1 ] || fail "quarantine counts: $out"
      for a in kyle joey hrm kenny aletheia; do
        logged=$(grep -c "agent quarantined name=$a " "$work/log/watchdog.log")
        [ "$(metric "watchdog_quarantines_total\\{agent=\"$a\"\\}" "$out")" -le "$logged" ] ||
          fail "quarantine count of $a above the $logged quarantines watchdog.log shows: $out"
      done ;;
    "ark graveyard check")
      local sha; sha=$(sha256sum "$ARK_DATA_DIR/graveyard.rules" | cut -d' ' -f1)
      [ "$rc" = 0 ] && grep -Eq "^sha256 +$sha" <<<"$out" || fail "ark graveyard check does not show the installed file's hash $sha: $out" ;;
    "grep -i drift /var/log/ark/hrm.log")
      [ "$rc" = 0 ] && grep -q "drift=0" <<<"$out" && ! grep -q "ETHICS DRIFT" <<<"$out" ||
        fail "HRM's log does not show its drift state as none: $out" ;;
    "grep -i quarantin /var/log/ark/watchdog.log")
      [ "$rc" = 0 ] && grep -q "agent quarantined name=kenny" <<<"$out" && grep -q "WATCHDOG_MAX_LATENCY_MS" <<<"$out" ||
        fail "the watchdog's log does not show Kenny's quarantine and why: $out" ;;
    "ark release kenny")
      [ "$rc" = 0 ] && grep -q "released Kenny" <<<"$out" || fail "ark release kenny (rc=$rc): $out"
      released() { grep -q "agent released by operator name=kenny" "$work/log/watchdog.log"; }
      wait_for 60 "the watchdog did not record the release" released ;;
    "tail -n 20 /var/log/ark/metrics_server.log")
      grep -q "metrics_server serving bind=127.0.0.1 port=$mport" <<<"$out" || fail "the metrics server's log: $out" ;;
    "ark config validate")
      [ "$rc" = 0 ] && grep -q "Configuration is VALID" <<<"$out" || fail "ark config validate (rc=$rc): $out" ;;
    "ss -ltnp 'sport = :9090'")
      grep -Eq "LISTEN .* 127\\.0\\.0\\.1:$mport " <<<"$out" || fail "ss does not show the metrics port listening: $out" ;;
    "ark canary status")
      [ "$rc" = 1 ] && grep -q "no canary" <<<"$out" || fail "ark canary status without a canary (rc=$rc): $out" ;;
    "curl -s http://127.0.0.1:9090/metrics | grep -E '^ark_(canary|lane)_'")
      [ "$(metric 'ark_canary_state\{state="none"\}' "$out")" = 1 ] &&
        [ "$(metric 'ark_lane_events_total\{lane="stable"\}' "$out")" -gt 0 ] &&
        [ "$(metric 'ark_lane_events_total\{lane="canary"\}' "$out")" = 0 ] || fail "canary and lane metrics: $out" ;;
    "grep canary /var/log/ark/watchdog.log")
      [ "$rc" = 1 ] && [ -z "$out" ] || fail "the watchdog logged a canary nobody started: $out" ;;
    "ark synth --duration 60 --violations 0.02 --debug --instance synth-check")
      [ "$rc" = 0 ] && grep -q "Synthetic validation PASSED ✓" <<<"$out" || fail "ark synth (rc=$rc): $out" ;;
    "ark broker status")
      [ "$rc" = 0 ] && grep -q "broker of instance $inst: executing" <<<"$out" || fail "ark broker status (rc=$rc): $out" ;;
    'grep "BROKER ANOMALY" /var/log/ark/kenny.log')
      [ "$rc" = 1 ] && [ -z "$out" ] || fail "kenny.log shows a broker anomaly nobody caused: $out" ;;
    "curl -s http://127.0.0.1:9090/metrics | grep ark_broker_anomalies_total")
      for k in overfill price symbol side; do
        [ "$(metric "ark_broker_anomalies_total\\{kind=\"$k\"\\}" "$out")" = 0 ] || fail "no zero anomaly count of kind $k: $out"
      done ;;
    'ark broker resume --reason "venue checked: order ark-... reconciled"')
      [ "$rc" = 1 ] && grep -q "execution was not stopped" <<<"$out" || fail "ark broker resume with nothing stopped (rc=$rc): $out" ;;
    *) fail "no check for the runbook command: $cmd (add one to tests/deploy/test_runbooks.sh)" ;;
  esac
}
# A production env file names /var paths; the environment wins over it, so
# these keep the test inside its own directory.
prod_env() {
  env -u JWT_SECRET -u ARK_INSTANCE ARK_STATE_DB="$work/prod/ark_state.db" ARK_DATA_DIR="$work/prod" ARK_LOG_DIR="$work/prod/log" \
    ARK_BACKUP_DIR="$work/prod/backups" ARK_RUN_DIR="$work/prod/run" METRICS_PORT="$(free_port)" \
    API_PORT="$(free_port)" ARK_FEED_PORT="$(free_port)" "$@"
}

# The commands: every line of the bash blocks between "## Runbooks" and the next section.
awk '/^## Runbooks/{on=1; next} on && /^## /{exit} on' "$readme" |
  awk '/^ *```bash/{b=1; next} /^ *```/{b=0; next} b' | sed 's/^ *//' > "$work/commands"
[ "$(wc -l < "$work/commands")" -ge 15 ] || fail "too few runbook commands found: $(cat "$work/commands")"
ran=0
while IFS= read -r cmd; do
  case "$cmd" in ''|'#'*|./deploy/start_production.sh*|*systemctl*|*chown*|git\ *|ark\ rollback*|ark\ start*) continue ;; esac
  run=${cmd//127.0.0.1:9090/127.0.0.1:$mport}
  run=${run//:9090/:$mport}
  run=${run//127.0.0.1:8000/127.0.0.1:$aport}
  run=${run//\/var\/log\/ark/$work/log}
  run=${run//ark synth --duration 60/ark synth --duration 4 --rate 50}
  run=${run//ark /$ark }
  [[ $run == "$ark"* ]] || run=${run/#ark/$ark}
  case "$cmd" in
    cp\ *) out=$(cd "$work/site" && bash -c "$run" 2>&1); rc=$? ;;
    *--env-file\ .env.production*) out=$(cd "$work/site" && prod_env bash -c "$run" 2>&1); rc=$? ;;
    *) out=$(bash -c "$run" 2>&1); rc=$? ;;
  esac
  grep -qi "unknown option\|unknown command\|command not found\|usage:" <<<"$out" && fail "runbook command misused: $cmd
$out"
  check "$cmd" "$rc" "$out"
  ran=$((ran + 1))
done < "$work/commands"
echo "runbooks: ok ($ran commands ran, each one's effect checked)"
