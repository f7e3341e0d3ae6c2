#!/usr/bin/env bash
# test_cli.sh ARK — the `ark` command line: help for every command, clear
# errors and exit status 2 for bad input, `ark run` end to end (summary,
# exit status, paced rate, `ark trace` on its journal), and Ctrl-C leaving no
# process and no segment behind.
set -uo pipefail
ark=$1
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d /tmp/ark-cli-XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export ARK_DATA_DIR=$work/data ARK_INSTANCE="clitest$$" ARK_JOURNAL_SYNC=none METRICS_PORT=0
unset ARK_STATE_DB ARK_GRAVEYARD_RULES ARK_LOG_DIR ARK_WAIT

"$ark" --help | grep "usage: ark <command>" >/dev/null || fail "ark --help"
for cmd in $("$ark" --help | awk '/^commands:/{on=1;next} on && /^  [a-z]/ {print $1}'); do
  "$ark" "$cmd" --help >/dev/null || fail "ark $cmd --help exits non-zero"
  [ -n "$("$ark" "$cmd" --help)" ] || fail "ark $cmd --help prints nothing"
done
"$ark" perf ring --help | grep -- "--cpus" >/dev/null || fail "ark perf ring --help"

out=$("$ark" nosuch 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unknown command 'nosuch'" <<<"$out" || fail "unknown command: rc=$rc $out"
out=$("$ark" run --duration abc 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--duration" <<<"$out" && grep -q "abc" <<<"$out" || fail "bad --duration: rc=$rc $out"
out=$("$ark" run --violations 2 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--violations" <<<"$out" || fail "bad --violations: rc=$rc $out"
out=$(ARK_WAIT=turbo "$ark" run 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "ARK_WAIT" <<<"$out" && grep -q "turbo" <<<"$out" || fail "bad ARK_WAIT: rc=$rc $out"
out=$(ARK_CPU_JOEY=99 "$ark" run 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "ARK_CPU_JOEY" <<<"$out" || fail "bad ARK_CPU_JOEY: rc=$rc $out"
# ark watchdog runs the same pre-flight check before it creates anything.
out=$(ARK_CPU_KENNY=99999 timeout 60 "$ark" watchdog 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "ARK_CPU_KENNY" <<<"$out" || fail "ark watchdog, bad ARK_CPU_KENNY: rc=$rc $out"
out=$(ARK_WAIT=turbo timeout 60 "$ark" watchdog 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "turbo" <<<"$out" || fail "ark watchdog, bad ARK_WAIT: rc=$rc $out"
[ ! -e "/dev/shm/ark-$ARK_INSTANCE" ] || fail "ark watchdog created its segment despite a bad setting"
# The canary lane trades on a simulated broker only (the registry says which):
# refused from this environment and from the canary's env file.
printf 'ARK_CANARY_PERCENT=10\n' > "$work/canary.env" && chmod 600 "$work/canary.env"
out=$(ARK_BROKER=alpaca timeout 60 "$ark" watchdog --canary-env "$work/canary.env" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "ARK_BROKER=alpaca: the canary lane trades on a simulated broker only" <<<"$out" ||
  fail "ark watchdog, canary on alpaca: rc=$rc $out"
printf 'ARK_BROKER=alpaca\n' > "$work/canary.env"
out=$(timeout 60 "$ark" watchdog --canary-env "$work/canary.env" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "canary.env: ARK_BROKER=alpaca: the canary lane trades on a simulated broker only" <<<"$out" ||
  fail "ark watchdog, canary env file on alpaca: rc=$rc $out"
[ ! -e "/dev/shm/ark-$ARK_INSTANCE" ] || fail "ark watchdog created its segment for a canary on alpaca"
# Options are parsed the one way: an unknown one is named, exit 2.
out=$("$ark" status --bogus 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unknown option '--bogus'" <<<"$out" || fail "ark status --bogus: rc=$rc $out"
out=$("$ark" status --interval 0.01 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--interval" <<<"$out" && grep -q "0.01" <<<"$out" || fail "ark status --interval 0.01: rc=$rc $out"
out=$("$ark" stop --timeout 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--timeout" <<<"$out" || fail "ark stop --timeout (no value): rc=$rc $out"
out=$(ARK_JOURNAL_SYNC=sometimes "$ark" run 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "ARK_JOURNAL_SYNC" <<<"$out" || fail "bad ARK_JOURNAL_SYNC: rc=$rc $out"
out=$("$ark" perf ring --cpus 0 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "two CPUs" <<<"$out" || fail "bad --cpus: rc=$rc $out"
out=$("$ark" trace not-a-trace 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "not a trace id" <<<"$out" || fail "bad trace id: rc=$rc $out"

# The main job on its defaults (shortened), then a paced run.
out=$("$ark" run --duration 1 2>&1); rc=$?
[ $rc -eq 0 ] || fail "ark run exited $rc: $out"
grep -q "^result: OK" <<<"$out" || fail "ark run did not report OK: $out"
grep -q "trace breaks 0" <<<"$out" || fail "ark run reported trace breaks: $out"
out=$("$ark" run --duration 1 --rate 2000 --json --quiet 2>&1) || fail "paced run: $out"
ticks=$(sed -n 's/.*"ticks":\([0-9]*\).*/\1/p' <<<"$out")
# A paced source sends rate x duration ticks whatever the machine's load
# (late ticks go out at once); how evenly is a matter for ark perf.
[ "$ticks" = 2000 ] || fail "paced run at 2000/s for 1 s published $ticks ticks, not 2000: $out"
[ ! -e "/dev/shm/ark-$ARK_INSTANCE" ] || fail "segment left behind"

# ark trace on an event of that run: complete, all five agents.
out=$("$ark" trace 1500 --json) || fail "ark trace 1500: $out"
grep -q '"complete":true' <<<"$out" && grep -q '"missing_agents":\[\]' <<<"$out" || fail "trace 1500: $out"
out=$("$ark" trace 1500) || fail "ark trace 1500 (text)"
grep -q "missing: none" <<<"$out" || fail "trace text: $out"
out=$("$ark" trace 99999999 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "no record of trace" <<<"$out" || fail "missing trace: rc=$rc $out"
"$ark" journal verify >/dev/null || fail "journal verify after the runs"

# Ctrl-C: the source stops, the pipeline drains, nothing keeps running.
"$ark" run --duration 3600 --rate 5000 >"$work/interrupted.out" 2>&1 &
pid=$!
# generous deadlines: a drain under a sanitizer on a loaded machine is slow
for _ in $(seq 1200); do grep -q "events/s" "$work/interrupted.out" 2>/dev/null && break; sleep 0.1; done
grep -q "events/s" "$work/interrupted.out" || fail "the run never reported progress: $(cat "$work/interrupted.out")"
kill -INT $pid
for _ in $(seq 1200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "ark run still running 120 s after SIGINT"
wait $pid; rc=$?
[ $rc -eq 0 ] || fail "interrupted run exited $rc: $(cat "$work/interrupted.out")"
grep -q "interrupted" "$work/interrupted.out" || fail "no interruption message"
[ ! -e "/dev/shm/ark-$ARK_INSTANCE" ] || fail "segment left behind after SIGINT"
pgrep -f "instance $ARK_INSTANCE" >/dev/null && fail "processes left behind after SIGINT"
echo "cli tests passed"
