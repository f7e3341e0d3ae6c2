#!/usr/bin/env bash
# test_rollback.sh ARK — `ark rollback`, the manual path: ark start keeps each
# configuration it runs; after a backup and a change of configuration, a
# rollback (confirmed) stops the instance, restores the newest backup and puts
# the previous env file back, keeping what it replaced, and records itself;
# without a terminal it needs --yes; with nothing to roll back to it says so.
set -uo pipefail
ark=$(readlink -f "$1")
work=$(mktemp -d /tmp/ark-rollback-XXXXXX)
inst="rbk$$"
fail() { echo "FAIL: $*"; exit 1; }
cleanup() { [ -n "${KEEP_WORK:-}" ] && { echo kept $work; return; }
  "$ark" stop --instance "$inst" --timeout 20 >/dev/null 2>&1
  pkill -KILL -f -- "--instance $inst(-synth)?( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst"; rm -rf "$work"
}
trap cleanup EXIT
unset ARK_STATE_DB ARK_LOG_DIR REDIS_URL JWT_SECRET ALPHA_VANTAGE_API_KEY ARK_BROKER ARK_RUN_DIR ARK_ENV ARK_ENV_FILE ARK_DATA_DIR ARK_INSTANCE
cd "$work"
cat > .env.production <<ENV
ARK_INSTANCE=$inst
ARK_DATA_DIR=$work/data
ARK_JOURNAL_SYNC=none
METRICS_PORT=0
ARK_FEED_PORT=0
WATCHDOG_HANG_MS=5000
ENV
chmod 600 .env.production
cp .env.production config-a
out=$("$ark" start --env-file .env.production --skip-synth 2>&1) || fail "first start: $out"
grep -q "configuration kept for ark rollback: $work/data/backups/env/env_" <<<"$out" || fail "the configuration was not kept: $out"
"$ark" backup --env-file .env.production >/dev/null || fail "ark backup"
db="$work/data/ark_state.db"
sqlite3 "$db" "INSERT INTO metadata(key, value, updated_at_ns) VALUES ('marker', 'before', 0)" || fail "marker"
"$ark" backup --env-file .env.production >/dev/null || fail "second backup"
sqlite3 "$db" "UPDATE metadata SET value = 'after' WHERE key = 'marker'"
"$ark" stop --env-file .env.production >/dev/null || fail "stop"
# The configuration changes; the new one starts and is kept too.
sed -i 's/WATCHDOG_HANG_MS=5000/WATCHDOG_HANG_MS=6000/' .env.production
cp .env.production config-b
out=$("$ark" start --env-file .env.production --skip-synth 2>&1) || fail "second start: $out"
[ "$(ls "$work/data/backups/env" | wc -l)" = 2 ] || fail "two configurations should be kept: $(ls "$work/data/backups/env")"
out=$("$ark" start --env-file .env.production --skip-synth 2>&1); [ $? -eq 1 ] || fail "a start beside a running one"

# Without a terminal and without --yes: refused, nothing changed.
out=$("$ark" rollback --env-file .env.production < /dev/null 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "confirmation needed" <<<"$out" || fail "unconfirmed rollback (rc=$rc): $out"
"$ark" status --instance "$inst" >/dev/null || fail "the unconfirmed rollback stopped the instance"
cmp -s .env.production config-b || fail "the unconfirmed rollback changed the env file"

# Confirmed (typed yes on a terminal is tested by hand; --yes here).
out=$("$ark" rollback --env-file .env.production --yes 2>&1); rc=$?
[ $rc -eq 0 ] || fail "rollback (rc=$rc): $out"
for want in "Rollback plan:" "1. stop (drain) the running instance '$inst'" "2. restore the Mutable Core $db from $work/data/backups/ark_state_backup_" \
  "3. put $work/data/backups/env/env_" "Rolled back."; do
  grep -qF -- "$want" <<<"$out" || fail "rollback output lacks '$want': $out"
done
! "$ark" status --instance "$inst" >/dev/null 2>&1 || fail "the instance still runs after the rollback"
! pgrep -f -- "--instance $inst( |$)" >/dev/null || fail "processes left after the rollback"
cmp -s .env.production config-a || fail "the env file is not the previous configuration: $(cat .env.production)"
cmp -s .env.production.rolled-back-* config-b || fail "the rolled-back configuration was not kept"
[ "$(stat -c %a .env.production)" = 600 ] || fail "the env file's mode is $(stat -c %a .env.production)"
[ "$(sqlite3 "$db" "SELECT value FROM metadata WHERE key = 'marker'")" = before ] || fail "the newest backup was not restored"
ls "$db".replaced-* >/dev/null 2>&1 || fail "the replaced database was not kept"
sqlite3 "$db" "SELECT value FROM metadata WHERE key = 'last_rollback'" | grep "Z manual rollback: database from $work/data/backups/ark_state_backup_" >/dev/null ||
  fail "the rollback is not recorded in the Mutable Core"

# Nothing earlier to roll back to: said, nothing changed.
rm -rf "$work/data/backups/env"
out=$("$ark" rollback --env-file .env.production --yes 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "no earlier configuration than .env.production is kept" <<<"$out" || fail "no previous configuration (rc=$rc): $out"
rm -f "$work"/data/backups/ark_state_backup_*
out=$("$ark" rollback --env-file .env.production --keep-env --yes 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "no backup in $work/data/backups" <<<"$out" || fail "no backup (rc=$rc): $out"
echo "rollback: ok"
