#!/usr/bin/env bash
# test_cli.sh ARK — the `ark` command line: help for every command, clear
# errors and exit status 2 for bad input, and `ark run` moving events
# between two processes and leaving nothing behind.
set -uo pipefail
ark=$1
fail() { echo "FAIL: $*"; exit 1; }

"$ark" --help | grep -q "usage: ark <command>" || fail "ark --help"
for cmd in $("$ark" --help | awk '/^commands:/{on=1;next} on && /^  [a-z]/ {print $1}'); do
  "$ark" "$cmd" --help >/dev/null || fail "ark $cmd --help exits non-zero"
  [ -n "$("$ark" "$cmd" --help)" ] || fail "ark $cmd --help prints nothing"
done
"$ark" perf ring --help | grep -q -- "--cpus" || fail "ark perf ring --help"

out=$("$ark" nosuch 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unknown command 'nosuch'" <<<"$out" || fail "unknown command: rc=$rc $out"
out=$("$ark" run --duration abc 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--duration" <<<"$out" && grep -q "abc" <<<"$out" || fail "bad --duration: rc=$rc $out"
out=$("$ark" run --capacity 1000 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "power of two" <<<"$out" || fail "bad --capacity: rc=$rc $out"
out=$(ARK_WAIT=turbo "$ark" run 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "ARK_WAIT" <<<"$out" && grep -q "turbo" <<<"$out" || fail "bad ARK_WAIT: rc=$rc $out"
out=$("$ark" perf ring --cpus 0 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "two CPUs" <<<"$out" || fail "bad --cpus: rc=$rc $out"

instance="clitest-$$"
for wait in adaptive block; do
  out=$(ARK_WAIT=$wait "$ark" run --duration 0.5 --instance "$instance" 2>&1); rc=$?
  [ $rc -eq 0 ] || fail "ark run ($wait) exited $rc: $out"
  grep -q "result: OK" <<<"$out" || fail "ark run ($wait) did not report OK: $out"
  grep -Eq "errors 0, lost 0" <<<"$out" || fail "ark run ($wait) lost events: $out"
done
out=$("$ark" run --duration 0.5 --rate 2000 --instance "$instance" 2>&1) || fail "paced run: $out"
sent=$(sed -n 's/^summary: sent \([0-9]*\),.*/\1/p' <<<"$out")
[ "$sent" -ge 500 ] && [ "$sent" -le 1500 ] || fail "paced run at 2000/s for 0.5 s sent $sent"
[ ! -e "/dev/shm/ark-$instance" ] || fail "segment left behind"

# Ctrl-C: both children stop, the segment is removed, nothing keeps running.
"$ark" run --duration 60 --instance "$instance" >/dev/null 2>&1 &
pid=$!
sleep 1
kill -INT $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "ark run still running 5 s after SIGINT"
wait $pid; rc=$?
[ $rc -eq 0 ] || fail "interrupted run exited $rc"
[ ! -e "/dev/shm/ark-$instance" ] || fail "segment left behind after SIGINT"
pgrep -f "instance $instance" >/dev/null && fail "processes left behind after SIGINT"
echo "cli tests passed"
