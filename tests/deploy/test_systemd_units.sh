#!/usr/bin/env bash
# test_systemd_units.sh ARK SOURCE_DIR — the systemd units in deploy/systemd:
# every unit file and every agent instance passes `systemd-analyze verify`
# with no output at all, `systemd-analyze security --offline=true` rates each
# service's exposure at most 2.5, and every agent instance is pinned to a CPU
# by its drop-in. The units name /usr/local/bin/ark; the copies checked here
# name the ark just built (verify requires the executable to exist).
set -uo pipefail
ark=$1 src=$2
fail() { echo "FAIL: $*"; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (Debian package systemd)"
work=$(mktemp -d /tmp/ark-units-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$src"/deploy/systemd/. "$work"/
sed -i "s#/usr/local/bin/ark#$ark#g" "$work"/*.service
agents="kyle joey hrm kenny aletheia"
units=("$work/ark.target" "$work/ark-watchdog.service" "$work/ark-metrics.service" "$work/ark-agent@.service")
for a in $agents; do units+=("$work/ark-agent@$a.service"); done

# verify: nothing printed at all (parse errors print but still exit 0).
out=$(cd "$work" && systemd-analyze verify --man=no "${units[@]}" 2>&1); rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] || fail "systemd-analyze verify (rc=$rc) printed:
$out"
# The test itself must catch a mistake: a misspelt key is reported.
cp "$work/ark-watchdog.service" "$work/bad.service"
sed -i 's/^WatchdogSec=/WatchDogSec=/' "$work/bad.service"
out=$(cd "$work" && systemd-analyze verify --man=no "$work/bad.service" 2>&1)
grep -q "WatchDogSec" <<<"$out" || fail "verify did not report a misspelt key: $out"
rm "$work/bad.service"

# security: exposure at most 2.5 for each service and agent instance.
for u in ark-watchdog.service ark-metrics.service $(for a in $agents; do echo "ark-agent@$a.service"; done); do
  out=$(cd "$work" && systemd-analyze security --offline=true "$work/$u" 2>&1)
  level=$(grep -o "Overall exposure level for [^:]*: [0-9.]*" <<<"$out" | awk '{print $NF}')
  [ -n "$level" ] || fail "no exposure level for $u: $out"
  awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }' || fail "$u exposure $level > 2.5"
  echo "ok: $u exposure $level"
done

# Each agent instance has its CPU, and the watchdog speaks the notify protocol.
for a in $agents; do
  grep -q '^CPUAffinity=[0-9]' "$work/ark-agent@$a.service.d/cpu.conf" || fail "ark-agent@$a has no CPUAffinity"
done
grep -q '^Type=notify' "$work/ark-watchdog.service" || fail "ark-watchdog.service is not Type=notify"
grep -q '^WatchdogSec=' "$work/ark-watchdog.service" || fail "ark-watchdog.service has no WatchdogSec"
# Every option the units pass is one ark accepts.
"$ark" watchdog --agents systemd --help >/dev/null || fail "ark watchdog --agents systemd"
"$ark" agent --help | grep -- "--wait-segment" >/dev/null || fail "ark agent --wait-segment"
"$ark" metrics-server --help | grep -- "--wait-segment" >/dev/null || fail "ark metrics-server --wait-segment"
echo "systemd units: ok"
