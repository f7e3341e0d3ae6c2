#!/usr/bin/env bash
# test_segments.sh ARK HELPER — nobody else's segment, no unverified pid
# (issue 15, point 1 and 2), with real processes and a second local user.
#
#   plant     another user runs an instance, then it dies and they make its
#             segment world-writable: root's `ark watchdog` and `ark run` for
#             that instance refuse it (naming its owner and mode), adopt
#             nothing, and leave the file exactly as it was; while its
#             creator lives the refusal is the same.
#   pid       a stale segment of ours names an unrelated root process (with
#             its real start time) as Kyle and as the metrics server: `ark
#             run` replaces the segment and leaves that process alive (the log
#             says why), `ark watchdog` refuses to take the instance over, and
#             `ark stop` does not signal it.
#   window    a process the watchdog forked waits until the watchdog records
#             it, and leaves without touching the segment when its watchdog
#             is gone first.
#
# The plant case needs a second user: it is created here (useradd, as root)
# and removed after; when users cannot be created the case is skipped with
# the reason printed (exit 77), never silently.
set -uo pipefail
ark=$1 helper=$2 case=$3
fail() { echo "FAIL ($case): $*"; exit 1; }
work=$(mktemp -d /tmp/ark-sec-segments-XXXXXX)
chmod 711 "$work"
inst="sec$$"
user=""
victim=""
group=""
export ARK_DATA_DIR=$work/root ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false ARK_INSTANCE=$inst
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_LOG_DIR ARK_WAIT ARK_RUN_DIR REDIS_URL JWT_SECRET NOTIFY_SOCKET ARK_SUPERVISED_BY
cleanup() {
  [ -n "$group" ] && kill -KILL -- "-$group" 2>/dev/null
  [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null
  # Only what this test made: its own instances' segments.
  for s in /dev/shm/ark-"$inst" /dev/shm/ark-"$inst"b /dev/shm/ark-"$inst"c /dev/shm/ark-"$inst"w; do rm -f "$s"; done
  [ -n "$user" ] && userdel "$user" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
wait_for() {   # wait_for SECONDS COMMAND...: poll a condition, never a bare sleep
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do [ "$(date +%s)" -ge "$deadline" ] && return 1; sleep 0.05; done
}
alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

case $case in
plant)
  user="arksec$$"
  if ! useradd --system --no-create-home --shell /usr/sbin/nologin "$user" 2>"$work/useradd.err"; then
    user=""
    echo "SKIP: cannot create a second local user ($(tr '\n' ' ' < "$work/useradd.err")): the planted-segment case needs one"
    exit 77
  fi
  uid=$(id -u "$user")
  # The attacker's own copy of ark and their own data, rules and logs.
  mkdir -p "$work/attacker"
  cp "$ark" "$work/attacker/ark"
  chmod 755 "$work/attacker/ark"
  chown -R "$user" "$work/attacker"
  as_attacker() { setpriv --reuid="$uid" --regid="$(id -g "$user")" --clear-groups -- "$@"; }
  setsid env ARK_DATA_DIR="$work/attacker/data" ARK_INSTANCE="$inst" \
    setpriv --reuid="$uid" --regid="$(id -g "$user")" --clear-groups -- \
    "$work/attacker/ark" watchdog --instance "$inst" --synthetic 20 --no-feed > "$work/attacker.out" 2>&1 &
  group=$!
  wait_for 60 test -s "$work/attacker/data/run/kyle.pid" || fail "the other user's instance did not start: $(cat "$work/attacker.out")"
  [ "$(stat -c %u "/dev/shm/ark-$inst")" = "$uid" ] || fail "the segment is not the other user's"
  before=$(stat -c '%i %u %a' "/dev/shm/ark-$inst")

  # 1. Its creator alive: refused, with whose it is.
  out=$(timeout 60 "$ark" watchdog --instance "$inst" --synthetic 20 --no-feed 2>&1); rc=$?
  [ $rc -ne 0 ] || fail "root's watchdog started on another user's live segment: $out"
  grep -q "belongs to uid $uid ($user)" <<<"$out" || fail "the refusal does not name the owner: $out"
  [ "$(stat -c '%i %u %a' "/dev/shm/ark-$inst")" = "$before" ] || fail "the other user's segment was touched"

  # 2. Its processes killed, the segment made world-writable (the attack).
  kill -KILL -- "-$group"
  wait_for 20 bash -c "! pgrep -u $uid >/dev/null" || fail "the other user's processes did not die"
  group=""
  as_attacker chmod 666 "/dev/shm/ark-$inst" || fail "the other user cannot chmod their segment"
  before=$(stat -c '%i %u %a' "/dev/shm/ark-$inst")
  for cmd in "watchdog --instance $inst --synthetic 20 --no-feed" "run --instance $inst --rate 50 --duration 1"; do
    out=$(timeout 60 "$ark" $cmd 2>&1); rc=$?
    [ $rc -ne 0 ] || fail "ark $cmd used a planted stale segment: $out"
    grep -q "belongs to uid $uid ($user) (mode 0666)" <<<"$out" || fail "ark $cmd: the refusal does not name owner and mode: $out"
    grep -q "never uses, adopts or removes" <<<"$out" || fail "ark $cmd: the refusal does not say what happens: $out"
    [ "$(stat -c '%i %u %a' "/dev/shm/ark-$inst")" = "$before" ] || fail "ark $cmd touched the planted segment"
  done
  ! grep -q "took over" "$ARK_DATA_DIR/logs/watchdog.log" 2>/dev/null || fail "root's watchdog took the planted segment over"
  # Tools refuse to read it too.
  out=$("$ark" status --instance "$inst" 2>&1)
  ! grep -q "kyle.*running" <<<"$out" || fail "ark status read a planted segment: $out"
  echo "plant: refused while alive and when stale (0666); nothing adopted, the file untouched"
  ;;

pid)
  # An unrelated root process: it must survive everything below.
  sleep 600 & victim=$!
  vt=$("$helper" ticks "$victim")
  [ "$vt" -gt 0 ] || fail "no start time for the victim"
  # a. ark run over a stale segment of ours that names it.
  "$helper" orphan "${inst}b" >/dev/null || fail "could not make a stale segment"
  "$helper" plant "${inst}b" "$victim" || fail "could not plant the pid"
  out=$(timeout 120 "$ark" run --instance "${inst}b" --rate 50 --duration 1 2>&1); rc=$?
  [ $rc -eq 0 ] || fail "ark run over a stale segment: rc=$rc $out"
  alive "$victim" || fail "ark run killed the unrelated process a stale segment named"
  grep -q "left alone pid $victim" "$ARK_DATA_DIR/logs/watchdog.log" || fail "the log does not say pid $victim was left alone"
  grep -q "executes .*sleep.*, not this ark" "$ARK_DATA_DIR/logs/watchdog.log" || fail "the log does not say why: $(grep "left alone" "$ARK_DATA_DIR/logs/watchdog.log")"
  # b. ark watchdog would adopt it: refused instead.
  "$helper" orphan "${inst}c" >/dev/null && "$helper" plant "${inst}c" "$victim" || fail "could not plant again"
  out=$(timeout 60 "$ark" watchdog --instance "${inst}c" --synthetic 20 --no-feed 2>&1); rc=$?
  [ $rc -ne 0 ] || fail "ark watchdog adopted a process that is not ours: $out"
  grep -q "cannot take over kyle: pid $victim executes" <<<"$out" || fail "the refusal does not say why: $out"
  alive "$victim" || fail "ark watchdog killed the unrelated process"
  # c. ark stop signals nothing it cannot verify.
  out=$(timeout 60 "$ark" stop --instance "${inst}c" --timeout 2 2>&1)
  alive "$victim" || fail "ark stop killed the unrelated process: $out"
  grep -q "left alone" <<<"$out" || fail "ark stop does not say what it left alone: $out"
  rm -f "/dev/shm/ark-${inst}c"
  echo "pid: pid $victim (sleep, root) named by stale segments survived ark run, ark watchdog and ark stop"
  ;;

window)
  # A live owner that never records its child (a watchdog stuck between
  # fork and record): the child waits and leaves nothing behind.
  exec 3> >("$helper" hold "${inst}w" > "$work/hold.out")
  wait_for 20 test -s "$work/hold.out" || fail "no segment"
  owner=$(sed -n 's/.* pid \([0-9]*\)$/\1/p' "$work/hold.out")
  [ -n "$owner" ] || fail "no owner process: $(cat "$work/hold.out")"
  ot=$("$helper" ticks "$owner")
  ARK_SUPERVISED_BY="$owner:$ot" "$ark" agent kyle --instance "${inst}w" > "$work/kyle.out" 2>&1 & kyle=$!
  # Recorded: it goes on (it starts and waits for its input).
  "$helper" record "${inst}w" "$kyle"
  wait_for 30 grep -q "starting pid=$kyle" "$ARK_DATA_DIR/logs/kyle.log" || fail "a recorded child did not start: $(cat "$work/kyle.out")"
  kill -TERM "$kyle"; wait "$kyle" 2>/dev/null
  # Its watchdog gone before recording it: it leaves, the slot untouched.
  "$helper" record "${inst}w" 0
  ARK_SUPERVISED_BY="999999:12345" "$ark" agent kyle --instance "${inst}w" > "$work/kyle2.out" 2>&1; rc=$?
  [ $rc -eq 0 ] || fail "an orphaned child did not leave quietly: rc=$rc $(cat "$work/kyle2.out")"
  grep -q "never recorded it: leaving" "$ARK_DATA_DIR/logs/kyle.log" || fail "the orphaned child did not say why it left"
  [ "$("$helper" show "${inst}w")" = "kyle_pid=0 state=1" ] || fail "the orphaned child touched its slot: $("$helper" show "${inst}w")"
  exec 3>&-
  echo "window: a forked child waits for its record and leaves when its watchdog is gone first"
  ;;
*)
  fail "unknown case"
  ;;
esac
