#!/usr/bin/env bash
# test_watchdog.sh ARK CASE — `ark watchdog` with real processes.
#   notify     a fake NOTIFY_SOCKET (abstract, then a path) sees READY=1,
#              STATUS= lines and periodic WATCHDOG=1; the keep-alives stop
#              while the main loop is stuck (SIGSTOP) and resume after;
#              SIGTERM brings STOPPING=1, exit 0, nothing left behind.
#   reattach   kill -9 the watchdog: the agents carry on; a new watchdog takes
#              over the segment and the same processes, restarts one that then
#              dies, reopens logs on SIGHUP, and stops cleanly with a journal
#              holding every sequence number once.
#   crashloop  an agent that dies at start every time: the back-off grows,
#              then the watchdog gives up with a non-zero exit and leaves no
#              process and no segment behind.
#   systemd    --agents systemd: the agents are started on their own (as the
#              ark-agent@ units are) and wait for the segment; the watchdog
#              reports READY once they run, watches them, leaves restarting
#              to systemd and adopts the replacement, and stops them all.
#   storm      kill -9 a random agent every 200 ms for 30 s (ARK_TEST_SCALE
#              shortens it): every kill is recovered, nothing is lost or
#              doubled, no order executed twice (ark perf recovery's audit).
set -uo pipefail
ark=$1 case=$2
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL ($case): $*"; exit 1; }
work=$(mktemp -d /tmp/ark-watchdog-XXXXXX)
inst="wd$$"
export ARK_DATA_DIR=$work/data ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_LOG_DIR ARK_WAIT ARK_RUN_DIR NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
receiver=""
cleanup() {
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null
  for f in "$ARK_DATA_DIR"/run/watchdog.pid; do [ -f "$f" ] && kill -CONT "$(head -n1 "$f")" 2>/dev/null; done
  pkill -KILL -f -- "--instance $inst( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst"
  rm -rf "$work"
}
trap cleanup EXIT
scale=${ARK_TEST_SCALE:-1}

leftovers() { pgrep -f -- "--instance $inst( |$)" || true; }
wait_gone() {   # wait_gone PID SECONDS
  local t=0; while kill -0 "$1" 2>/dev/null && [ $t -lt $(( $2 * 10 )) ]; do sleep 0.1; t=$((t+1)); done
  ! kill -0 "$1" 2>/dev/null
}
wait_file() {   # wait_file PATH SECONDS
  local t=0; while [ ! -s "$1" ] && [ $t -lt $(( $2 * 10 )) ]; do sleep 0.1; t=$((t+1)); done
  [ -s "$1" ]
}
. "$(dirname "$0")/../lib.sh"   # wait_for
count_of() { grep -c "$1" "$2" 2>/dev/null || true; }
journaled() { "$ark" journal verify --dir "$ARK_DATA_DIR/journal" 2>/dev/null | grep -o "[0-9]* records" | awk '{print $1}'; }

case $case in
notify)
  for address in "@ark-notify-$$" "$work/notify.sock"; do
    log=$work/notify.$RANDOM.log
    python3 "$here/notify_receiver.py" "$address" "$log" & receiver=$!
    wait_file "$log" 10 || fail "the fake notify socket did not start"
    NOTIFY_SOCKET=$address WATCHDOG_USEC=400000 "$ark" watchdog --synthetic 200 --no-feed > "$work/wd.out" 2>&1 & wd=$!
    t=0; until grep -q "READY=1" "$log" || [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
    grep -q "READY=1" "$log" || fail "no READY=1 on $address: $(cat "$work/wd.out")"
    grep -q "STATUS=5/5 agents running" "$log" || fail "no STATUS line with the agents: $(cat "$log")"
    # keep-alives keep coming (how often is the watchdog's clock: not judged here)
    keepalives() { [ "$(count_of "WATCHDOG=1" "$log")" -ge 3 ]; }
    wait_for 60 "fewer than 3 WATCHDOG=1 with WATCHDOG_USEC=400000" keepalives
    if [ "${address:0:1}" = "@" ]; then
      # A stuck main loop sends no keep-alive (systemd would restart it):
      # once the receiver has logged what was on its way, the count stays.
      kill -STOP $wd
      settled() { local a b; a=$(count_of "WATCHDOG=1" "$log"); sleep 1; b=$(count_of "WATCHDOG=1" "$log"); [ "$a" = "$b" ]; }
      wait_for 60 "keep-alives went on with the watchdog stopped" settled
      after=$(count_of "WATCHDOG=1" "$log")
      kill -CONT $wd
      resumed() { [ "$(count_of "WATCHDOG=1" "$log")" -gt "$after" ]; }
      wait_for 60 "WATCHDOG=1 did not resume" resumed
    fi
    kill -TERM $wd
    wait $wd; rc=$?
    [ $rc -eq 0 ] || fail "ark watchdog exited $rc after SIGTERM: $(cat "$work/wd.out")"
    grep -q "STOPPING=1" "$log" || fail "no STOPPING=1"
    kill $receiver; wait $receiver 2>/dev/null; receiver=""
    [ -z "$(leftovers)" ] || fail "processes left: $(leftovers)"
    [ ! -e "/dev/shm/ark-$inst" ] || fail "segment left behind"
  done
  # Without NOTIFY_SOCKET nothing is sent and nothing fails; a bad one is
  # not fatal either (systemd is optional).
  NOTIFY_SOCKET=relative/path "$ark" watchdog --synthetic 100 --no-feed > "$work/wd.out" 2>&1 & wd=$!
  wait_file "$ARK_DATA_DIR/run/source0.pid" 120 || fail "watchdog with a bad NOTIFY_SOCKET did not start"
  # Two stop signals at once still stop it (the second one: at once).
  kill -TERM $wd; kill -INT $wd
  wait_gone $wd 120 || fail "two stop signals at once did not stop the watchdog"
  wait $wd || fail "exit status with a bad NOTIFY_SOCKET"
  [ -z "$(leftovers)" ] || fail "processes left: $(leftovers)"
  ;;
reattach)
  "$ark" watchdog --synthetic 1000 --feed-port 0 > "$work/wd1.out" 2>&1 & wd=$!
  wait_file "$ARK_DATA_DIR/run/source0.pid" 120 || fail "the first watchdog did not start: $(cat "$work/wd1.out")"
  some_journaled() { [ "$(journaled)" -gt 100 ] 2>/dev/null; }
  wait_for 120 "nothing journaled" some_journaled
  declare -A pid
  for a in kyle joey hrm kenny aletheia; do pid[$a]=$(head -n1 "$ARK_DATA_DIR/run/$a.pid"); done
  kill -9 $wd; wait $wd 2>/dev/null
  before=$(journaled)
  more_journaled() { [ "$(journaled)" -gt "$before" ] 2>/dev/null; }
  wait_for 120 "the pipeline stopped with its watchdog ($before records)" more_journaled
  for a in kyle joey hrm kenny aletheia; do kill -0 "${pid[$a]}" || fail "$a died with the watchdog"; done
  "$ark" watchdog --synthetic 1000 --feed-port 0 > "$work/wd2.out" 2>&1 & wd=$!
  t=0; until grep -q "taken over" "$work/wd2.out" || [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
  grep -q "taken over" "$work/wd2.out" || fail "the second watchdog did not take over: $(cat "$work/wd2.out")"
  for a in kyle joey hrm kenny aletheia; do
    [ "$(head -n1 "$ARK_DATA_DIR/run/$a.pid")" = "${pid[$a]}" ] || fail "$a was replaced instead of adopted"
    grep -q "watching $a pid=${pid[$a]}" "$ARK_DATA_DIR/logs/watchdog.log" || fail "no adoption of $a in watchdog.log"
  done
  # A second watchdog while this one lives is refused.
  out=$("$ark" watchdog --synthetic 10 --no-feed 2>&1); rc=$?
  [ $rc -ne 0 ] && grep -q "already running" <<<"$out" || fail "a second live watchdog was not refused: rc=$rc $out"
  # The new watchdog supervises what it adopted.
  kill -9 "${pid[hrm]}"
  t=0; until [ "$(head -n1 "$ARK_DATA_DIR/run/hrm.pid" 2>/dev/null)" != "${pid[hrm]}" ] && [ -s "$ARK_DATA_DIR/run/hrm.pid" ] || [ $t -gt 1200 ]; do sleep 0.1; t=$((t+1)); done
  newhrm=$(head -n1 "$ARK_DATA_DIR/run/hrm.pid")
  [ "$newhrm" != "${pid[hrm]}" ] && kill -0 "$newhrm" || fail "the adopted HRM was not restarted"
  # ... and the pipeline flows through the restarted HRM.
  before=$(journaled)
  wait_for 120 "nothing journaled after HRM's restart ($before records)" more_journaled
  # logrotate: move the logs away, SIGHUP, and the next lines land in new files.
  mv "$ARK_DATA_DIR/logs/watchdog.log" "$ARK_DATA_DIR/logs/watchdog.log.1"
  mv "$ARK_DATA_DIR/logs/kyle.log" "$ARK_DATA_DIR/logs/kyle.log.1"
  kill -HUP $wd "${pid[kyle]}"
  reopened() { [ -e "$ARK_DATA_DIR/logs/watchdog.log" ] && [ -e "$ARK_DATA_DIR/logs/kyle.log" ]; }
  wait_for 120 "the logs were not reopened after SIGHUP" reopened
  kill -0 $wd && kill -0 "${pid[kyle]}" || fail "SIGHUP stopped a process"
  before=$(journaled)
  kill -TERM $wd; wait $wd; rc=$?
  [ $rc -eq 0 ] || fail "ark watchdog exited $rc after SIGTERM: $(cat "$work/wd2.out")"
  grep -q "stopped" "$ARK_DATA_DIR/logs/watchdog.log" || fail "watchdog.log was not reopened after SIGHUP"
  grep -q "kyle stopped" "$ARK_DATA_DIR/logs/kyle.log" || fail "kyle.log was not reopened after SIGHUP"
  ! grep -q "stopped" "$ARK_DATA_DIR/logs/watchdog.log.1" || fail "lines went on into the rotated watchdog.log.1"
  [ "$(stat -c %a "$ARK_DATA_DIR/logs/kyle.log")" = 600 ] || fail "reopened log is not 0600"
  [ -z "$(leftovers)" ] || fail "processes left: $(leftovers)"
  out=$("$ark" journal verify --dir "$ARK_DATA_DIR/journal" 2>&1) || fail "journal verify: $out"
  grep -q "without gaps" <<<"$out" || fail "journal: $out"
  records=$(journaled)
  [ "$records" -ge "$before" ] || fail "journal holds $records records, fewer than the $before seen before the stop"
  ;;
crashloop)
  # joey.log is a directory: Joey cannot open its log and exits at once, every time.
  mkdir -p "$ARK_DATA_DIR/logs/joey.log"
  start=$(date +%s)
  timeout 600 "$ark" watchdog --synthetic 100 --no-feed > "$work/wd.out" 2>&1; rc=$?
  elapsed=$(( $(date +%s) - start ))
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "the watchdog did not give up (rc=$rc): $(cat "$work/wd.out")"
  grep -q "died before handling anything" "$work/wd.out" || fail "no crash-loop message: $(cat "$work/wd.out")"
  # Back-off grew: the restarts of joey were scheduled further and further apart.
  delays=$(grep "agent died name=joey" "$ARK_DATA_DIR/logs/watchdog.log" | grep -o "restart_in_ms=[0-9]*" | cut -d= -f2 | tr '\n' ' ')
  # (the first death is restarted at once; each later one waits about twice
  # as long as the one before, +-20 % jitter)
  awk -v d="$delays" 'BEGIN { n = split(d, v, " "); if (n < 4) exit 1;
      for (i = 3; i <= n; i++) if (v[i] < 1.3 * v[i-1]) exit 1;
      exit !(v[n] >= 300) }' || fail "back-off did not grow: $delays"
  echo "gave up after $elapsed s"
  none_left() { [ -z "$(leftovers)" ]; }
  wait_for 60 "processes left: $(leftovers)" none_left
  [ ! -e "/dev/shm/ark-$inst" ] || fail "segment left behind"
  ;;
systemd)
  log=$work/notify.log
  python3 "$here/notify_receiver.py" "@ark-notify-$$" "$log" & receiver=$!
  wait_file "$log" 10 || fail "the fake notify socket did not start"
  declare -A apid
  for a in kyle joey hrm kenny aletheia; do
    "$ark" agent $a --instance "$inst" --wait-segment 60 > "$work/$a.out" 2>&1 & apid[$a]=$!
  done
  NOTIFY_SOCKET="@ark-notify-$$" "$ark" watchdog --agents systemd --synthetic 500 --no-feed > "$work/wd.out" 2>&1 & wd=$!
  t=0; until grep -q "READY=1" "$log" || [ $t -gt 600 ]; do sleep 0.1; t=$((t+1)); done
  grep -q "READY=1" "$log" || fail "no READY=1 with systemd agents: $(cat "$work/wd.out")"
  for a in kyle joey hrm kenny aletheia; do
    grep -q "watching $a pid=${apid[$a]} (started by systemd)" "$ARK_DATA_DIR/logs/watchdog.log" || fail "$a not watched"
  done
  some_journaled() { [ "$(journaled)" -gt 100 ] 2>/dev/null; }
  wait_for 120 "nothing journaled with systemd agents" some_journaled
  kill -9 "${apid[joey]}"; wait "${apid[joey]}" 2>/dev/null
  t=0; until grep -q "name=joey.*systemd restarts it" "$ARK_DATA_DIR/logs/watchdog.log" || [ $t -gt 1200 ]; do sleep 0.1; t=$((t+1)); done
  grep -q "name=joey.*systemd restarts it" "$ARK_DATA_DIR/logs/watchdog.log" || fail "joey's death was not seen"
  ! pgrep -f -- "agent joey --instance $inst( |$)" >/dev/null || fail "the watchdog started joey itself"
  "$ark" agent joey --instance "$inst" --wait-segment 60 > "$work/joey2.out" 2>&1 & newjoey=$!
  t=0; until grep -q "watching joey pid=$newjoey" "$ARK_DATA_DIR/logs/watchdog.log" || [ $t -gt 1200 ]; do sleep 0.1; t=$((t+1)); done
  grep -q "watching joey pid=$newjoey" "$ARK_DATA_DIR/logs/watchdog.log" || fail "the replacement joey was not adopted"
  before=$(journaled)
  more_journaled() { [ "$(journaled)" -gt "$before" ] 2>/dev/null; }
  wait_for 120 "nothing went through the adopted joey" more_journaled
  kill -TERM $wd; wait $wd; rc=$?
  [ $rc -eq 0 ] || fail "ark watchdog exited $rc: $(cat "$work/wd.out")"
  for p in "${apid[kyle]}" "${apid[hrm]}" "${apid[kenny]}" "${apid[aletheia]}" $newjoey; do
    wait "$p"; rc=$?; [ $rc -eq 0 ] || fail "an agent exited $rc at the stop (systemd would restart it as failed)"
  done
  [ -z "$(leftovers)" ] || fail "processes left: $(leftovers)"
  out=$("$ark" journal verify --dir "$ARK_DATA_DIR/journal" 2>&1) || fail "journal verify: $out"
  ;;
storm)
  kills=$(awk -v s="$scale" 'BEGIN { k = int(150 * s); print (k < 10 ? 10 : k) }')
  out=$("$ark" perf recovery --kills "$kills" --interval 200 --rate 2000 --json 2>&1); rc=$?
  echo "$out"
  [ $rc -eq 0 ] || fail "ark perf recovery failed (rc=$rc)"
  grep -q '"events_lost":0,' <<<"$out" && grep -q '"events_duplicated":0' <<<"$out" || fail "events lost or duplicated"
  grep -q '"timeouts":0,' <<<"$out" || fail "a killed agent was never replaced (2 minutes)"
  grep -q '"orders_executed_twice":0' <<<"$out" || fail "an order was executed twice"
  grep -q "\"kills\":$kills," <<<"$out" || fail "not every kill was made"
  ;;
*) fail "unknown case" ;;
esac
echo "watchdog $case: ok"
