#!/usr/bin/env bash
# test_status.sh ARK — `ark status` on a running instance: the text dashboard
# names every agent and section; --json has the documented shape and numbers
# that agree with the run; --watch draws full-screen in a terminal (tmux,
# captured) with nothing left of escape sequences, and leaves on Ctrl-C; with
# no instance it says so and exits 1.
set -uo pipefail
ark=$1
work=$(mktemp -d /tmp/ark-status-XXXXXX)
inst="st$$" session="arkstatus$$" run=""
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/../lib.sh"   # wait_for
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null
  [ -n "$run" ] && kill -INT "$run" 2>/dev/null && wait "$run" 2>/dev/null
  pkill -KILL -f -- "--instance $inst( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst"; rm -rf "$work"
}
trap cleanup EXIT
export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false
unset ARK_STATE_DB ARK_LOG_DIR REDIS_URL JWT_SECRET ALPHA_VANTAGE_API_KEY ARK_BROKER ARK_RUN_DIR

out=$("$ark" status 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "no running ARK instance '$inst'" <<<"$out" || fail "no instance: rc=$rc $out"

# Runs until this test interrupts it; each step waits for what it needs.
"$ark" run --rate 300 --duration 3600 --quiet > "$work/run.out" 2>&1 & run=$!
flowing() {  # journaled events and a rate to show
  "$ark" status --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (d["journaled"] >= 300 and d["events_per_s"] > 0 and all(a["events"] > 0 for a in d["agents"])))'
}
wait_for 120 "the instance never showed events flowing: $(tail -3 "$work/run.out")" flowing
"$ark" backup >/dev/null 2>&1 || fail "ark backup"
out=$("$ark" status) || fail "ark status on a running instance: $out"
for want in "ARK status - instance $inst - running" "PROCESS" "Kyle " "Joey " "HRM " "Kenny " "Aletheia " "source0 (synthetic)" \
  "RINGS      source0 " "LATENCY    end to end p50" "DENIALS" "SLOS       availability" "MIRROR     off" "BROKER     paper" "BACKUP     "; do
  grep -qF -- "$want" <<<"$out" || fail "the dashboard lacks '$want':
$out"
done
! grep -q $'\033' <<<"$out" || fail "escape sequences in piped output"
"$ark" status --json > "$work/status.json" || fail "ark status --json"
python3 - "$work/status.json" <<'PY' || fail "--json shape: $(cat "$work/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
top = {"instance", "running", "uptime_s", "journaled", "events_per_s", "agents", "sources", "rings", "latency_us",
       "intents", "fills", "trace_breaks", "denials", "slos", "mirror", "broker", "last_backup",
       "metrics", "trading", "canary"}
assert set(d) == top, set(d) ^ top
# a rate, in events per second: the source sends 300/s, so never tens of
# thousands (a unit slip); how close to 300 it is depends on the machine
assert d["running"] is True and d["journaled"] > 0 and 0 < d["events_per_s"] < 10000, d["events_per_s"]
assert [a["name"] for a in d["agents"]] == ["Kyle", "Joey", "HRM", "Kenny", "Aletheia"]
for a in d["agents"]:
    assert set(a) == {"name", "state", "pid", "cpu", "alive", "events", "events_per_s", "errors", "restarts",
                      "quarantined", "heartbeat_age_ms", "hangs", "p50_us", "p95_us", "p99_us"}, a
    assert a["state"] == "running" and a["alive"] and a["pid"] > 0 and a["events"] > 0 and a["p95_us"] >= a["p50_us"] >= 0
assert len(d["sources"]) == 1 and d["sources"][0]["state"] == "running"
assert [r["name"] for r in d["rings"]] == ["source0", "kyle", "joey", "hrm", "kenny", "aletheia"]
assert all(r["capacity"] == 4096 and 0 <= r["depth"] <= 4096 for r in d["rings"])
assert set(d["latency_us"]) == {"p50", "p95", "p99"} and d["latency_us"]["p99"] >= d["latency_us"]["p50"] > 0
assert d["denials"]["total"] == sum(d["denials"]["by_rule"].values()) and "max_quantity" in d["denials"]["by_rule"]
assert [s["name"] for s in d["slos"]] == ["availability", "pass_latency_p95", "hrm_eval_p95", "ethics_drift"]
assert all(set(s) == {"name", "state", "met", "value", "unit", "objective", "target", "error_budget_remaining",
                      "window_seconds"} for s in d["slos"])
assert d["mirror"] == {"attached": False, "lag_events": None}
assert d["broker"]["name"] == "paper"
assert d["last_backup"] is not None and d["last_backup"]["path"].endswith(".db") and d["last_backup"]["age_s"] < 60
PY

# --watch in a terminal: full-screen, redrawn, no garbage, Ctrl-C leaves.
command -v tmux >/dev/null || fail "tmux is not installed (quickstart.sh installs it)"
tmux new-session -d -s "$session" -x 160 -y 40 \
  "env ARK_DATA_DIR=$ARK_DATA_DIR ARK_INSTANCE=$inst $ark status --watch --interval 0.5; echo STATUS-EXITED \$?; sleep 600"
drawn() { screen1=$(tmux capture-pane -p -t "$session") && grep -qF "(refreshing; Ctrl-C to leave)" <<<"$screen1"; }
wait_for 60 "--watch never drew its view: $(tmux capture-pane -p -t "$session")" drawn
refreshed() { screen2=$(tmux capture-pane -p -t "$session") && [ "$screen2" != "$screen1" ] && grep -qF "(refreshing; Ctrl-C to leave)" <<<"$screen2"; }
wait_for 60 "the view did not refresh" refreshed
for want in "ARK status - instance $inst - running" "PROCESS" "Aletheia " "SLOS" "(refreshing; Ctrl-C to leave)"; do
  grep -qF -- "$want" <<<"$screen2" || fail "the full-screen view lacks '$want':
$screen2"
done
[ "$(grep -c "ARK status - instance" <<<"$screen2")" = 1 ] || fail "the view was not redrawn in place:
$screen2"
! grep -q $'\033\|\[K\|\[H\|\[?' <<<"$screen2" || fail "escape sequences visible:
$screen2"
[ "$(head -1 <<<"$screen2")" != "" ] && grep -q "^ARK status" <<<"$(head -1 <<<"$screen2")" || fail "the view does not start at the top"
tmux send-keys -t "$session" C-c
left() { after=$(tmux capture-pane -p -t "$session") && grep -q "STATUS-EXITED" <<<"$after"; }
wait_for 60 "Ctrl-C did not end --watch: $(tmux capture-pane -p -t "$session")" left
grep -q "STATUS-EXITED 0" <<<"$after" || fail "Ctrl-C did not end --watch cleanly:
$after"
! grep -q "PROCESS" <<<"$after" || fail "the alternate screen was not left"
# Piped --watch: plain snapshots.
"$ark" status --watch --interval 0.5 > "$work/watch.out" 2>&1 & watch=$!
snapshots() { [ "$(grep -c "^ARK status - instance" "$work/watch.out")" -ge 2 ]; }
wait_for 60 "piped --watch: $(head -5 "$work/watch.out")" snapshots
kill "$watch"; wait "$watch" 2>/dev/null
! grep -q $'\033' "$work/watch.out" || fail "escape sequences in piped --watch"
kill -INT "$run"; wait "$run"; run=""
out=$("$ark" status 2>&1); rc=$?
[ $rc -eq 1 ] || fail "status after the run: rc=$rc $out"
echo "status: ok"
