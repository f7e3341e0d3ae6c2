#!/usr/bin/env bash
# test_runbooks.sh ARK README — every command of README's Runbooks section,
# run as written against a live instance (ark watchdog with a synthetic
# source, the metrics server and the API), with only the addresses, the log
# directory and the synthetic loop's duration put to this test's. Commands
# that change the machine (copying the template, starting services, chown,
# the rollback, which tests/ops/test_rollback.sh covers,
# git) are left out; each other one must run (grep's "no match" is an answer,
# a usage error or a missing command is not).
set -uo pipefail
ark=$(readlink -f "$1") readme=$2
work=$(mktemp -d /tmp/ark-runbooks-XXXXXX)
inst="rb$$" wd=""
fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
  [ -n "$wd" ] && kill -TERM "$wd" 2>/dev/null && wait "$wd" 2>/dev/null
  pkill -KILL -f -- "--instance ($inst|synth-check)( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst" "/dev/shm/ark-synth-check"; rm -rf "$work"
}
trap cleanup EXIT
command -v jq >/dev/null || fail "jq is not installed"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mport=$(free_port) aport=$(free_port)
export ARK_DATA_DIR=$work/data ARK_LOG_DIR=$work/log ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none
export METRICS_PORT=$mport API_PORT=$aport JWT_SECRET=$(openssl rand -hex 32)
unset ARK_STATE_DB REDIS_URL ALPHA_VANTAGE_API_KEY ARK_BROKER ARK_RUN_DIR ARK_ENV ARK_ENV_FILE
mkdir -p "$work/log"
"$ark" watchdog --no-feed --synthetic 50 > "$work/watchdog.out" 2>&1 & wd=$!
t=0; until curl -sf "http://127.0.0.1:$mport/healthz" >/dev/null && "$ark" trace 1 >/dev/null 2>&1 || [ $t -gt 150 ]; do
  sleep 0.2; t=$((t+1)); done
[ $t -le 150 ] || fail "the instance did not come up: $(tail -5 "$work/watchdog.out")"

# The commands: every line of the bash blocks between "## Runbooks" and the next section.
awk '/^## Runbooks/{on=1; next} on && /^## /{exit} on' "$readme" |
  awk '/^ *```bash/{b=1; next} /^ *```/{b=0; next} b' | sed 's/^ *//' > "$work/commands"
[ "$(wc -l < "$work/commands")" -ge 15 ] || fail "too few runbook commands found: $(cat "$work/commands")"
ran=0
while IFS= read -r cmd; do
  case "$cmd" in ''|'#'*|cp\ *|./deploy/start_production.sh*|*systemctl*|*chown*|git\ *|ark\ rollback*|ark\ start*) continue ;; esac
  run=${cmd//127.0.0.1:9090/127.0.0.1:$mport}
  run=${run//:9090/:$mport}
  run=${run//127.0.0.1:8000/127.0.0.1:$aport}
  run=${run//\/var\/log\/ark/$work/log}
  run=${run//ark synth --duration 60/ark synth --duration 4 --rate 50}
  run=${run//ark config validate --env-file .env.production/ark config validate}
  run=${run//ark /$ark }
  [[ $run == "$ark"* ]] || run=${run/#ark/$ark}
  out=$(bash -c "$run" 2>&1); rc=$?
  if [ $rc -ne 0 ] && ! { [ $rc -eq 1 ] && [[ $cmd == *grep* || $cmd == "ark config validate"* || $cmd == "ark release"* || $cmd == "ark canary status"* ||
    $cmd == "ark broker resume"* ]]; }; then
    fail "runbook command failed (rc=$rc): $cmd
  ran: $run
$out"
  fi
  grep -qi "unknown option\|unknown command\|command not found\|usage:" <<<"$out" && fail "runbook command misused: $cmd
$out"
  ran=$((ran + 1))
done < "$work/commands"
# Some answers, checked: the histograms and SLOs the runbooks read exist.
curl -s "http://127.0.0.1:$mport/metrics/json" | jq -e '.histograms.ark_pass_latency_ms.count > 0' >/dev/null || fail "no ark_pass_latency_ms"
curl -s "http://127.0.0.1:$mport/slos" | jq -e '.violations | type == "array" or type == "number"' >/dev/null || fail "/slos has no violations"
curl -s "http://127.0.0.1:$mport/metrics/json" | jq -e '.histograms.hrm_eval_ms' >/dev/null || fail "no hrm_eval_ms"
echo "runbooks: ok ($ran commands ran)"
