#!/usr/bin/env bash
# test_restore_journal.sh ARK — the issue's disaster recovery (issue 22,
# point 2), end to end with the real pipeline:
#   1. ark run, ark backup (applied up to seq N), then a new data directory
#      (the journal's disk is lost): ark restore of the backup is refused
#      (exit 1, "ahead of the journal", nothing replaced);
#   2. ark restore --rebase: restored, re-based; the next ark run numbers its
#      events after N and every one of them reaches the Mutable Core (rows
#      are added, journal_last_applied_seq moves past N) — before, the run
#      said OK and added no row;
#   3. the database copied into place by hand (no ark restore) ahead of an
#      empty journal: ark run fails, Aletheia says why in its log and exits
#      fail-closed (not retried);
#   4. a backup with an added trigger: ark restore refuses it and names it.
set -uo pipefail
ark=$1
work=$(mktemp -d /tmp/ark-rj-XXXXXX)
inst="rj$$"
fail() {
  echo "FAIL: $*"
  for f in "$work"/*/logs/aletheia.log; do [ -f "$f" ] && { echo "== $f"; tail -8 "$f"; }; done
  exit 1
}
cleanup() {
  pkill -KILL -f -- "--instance $inst( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst"
  rm -rf "$work"
}
trap cleanup EXIT
command -v sqlite3 >/dev/null || fail "sqlite3 (the command) is not installed"
export ARK_INSTANCE=$inst ARK_JOURNAL_SYNC=none METRICS_SERVER_ENABLED=false
unset ARK_STATE_DB ARK_JOURNAL_DIR ARK_BACKUP_DIR ARK_LOG_DIR ARK_GRAVEYARD_RULES REDIS_URL JWT_SECRET ALPHA_VANTAGE_API_KEY ARK_RUN_DIR ARK_BROKER
db() { sqlite3 -batch "$1/ark_state.db" "$2"; }

# 1. a run, a backup, a lost journal
export ARK_DATA_DIR=$work/a
"$ark" run --rate 2000 --duration 2 --violations 0.02 --quiet > "$work/run1.out" 2>&1 || fail "first run: $(tail -3 "$work/run1.out")"
"$ark" backup > "$work/backup.out" 2>&1 || fail "backup: $(cat "$work/backup.out")"
backup=$(ls "$work"/a/backups/ark_state_backup_*.db | head -1)
applied=$(db "$work/a" "SELECT value FROM metadata WHERE key = 'journal_last_applied_seq'")
[ "$applied" -gt 1000 ] || fail "the first run applied only $applied"
export ARK_DATA_DIR=$work/b
mkdir -p "$ARK_DATA_DIR"
out=$("$ark" restore "$backup" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "restore onto an empty journal: exit $rc: $out"
grep -q "ahead of the journal" <<<"$out" && grep -q -- "--rebase" <<<"$out" || fail "refusal does not say why: $out"
[ ! -e "$ARK_DATA_DIR/ark_state.db" ] || fail "a refused backup was put in place"
out=$("$ark" restore "$backup" --json 2>&1)
grep -q '"refused":"not_this_journal"' <<<"$out" || fail "restore --json does not say not_this_journal: $out"
echo "refused: ok"

# 2. re-based: the next run's events are numbered after it and all applied
out=$("$ark" restore "$backup" --rebase 2>&1) || fail "restore --rebase: $out"
grep -q "re-based onto the journal" <<<"$out" || fail "restore --rebase does not say so: $out"
before_orders=$(db "$ARK_DATA_DIR" "SELECT count(*) FROM orders")
before_denials=$(db "$ARK_DATA_DIR" "SELECT count(*) FROM hrm_denials")
"$ark" run --rate 2000 --duration 2 --violations 0.02 --quiet > "$work/run2.out" 2>&1 || fail "run after the re-base: $(tail -3 "$work/run2.out")"
first=$("$ark" journal tail --from 0 --json 2>/dev/null | head -1 | sed 's/.*"seq":\([0-9]*\).*/\1/')
[ -n "$first" ] && [ "$first" -gt "$applied" ] || fail "the first event after the re-base is seq $first, not after $applied"
after_orders=$(db "$ARK_DATA_DIR" "SELECT count(*) FROM orders")
after_denials=$(db "$ARK_DATA_DIR" "SELECT count(*) FROM hrm_denials")
now_applied=$(db "$ARK_DATA_DIR" "SELECT value FROM metadata WHERE key = 'journal_last_applied_seq'")
[ "$after_orders" -gt "$before_orders" ] && [ "$after_denials" -gt "$before_denials" ] ||
  fail "no row added after the re-base: orders $before_orders -> $after_orders, denials $before_denials -> $after_denials"
last=$("$ark" journal tail --from 0 --json 2>/dev/null | tail -1 | sed 's/.*"seq":\([0-9]*\).*/\1/')
[ "$now_applied" = "$last" ] || fail "applied seq $now_applied, the journal's last $last"
echo "rebased: ok (first seq $first after $applied; orders $before_orders -> $after_orders)"

# 3. copied by hand (no ark restore) next to an empty journal: the run fails
#    closed, Aletheia saying why — another journal's database, and (its
#    journal identity removed, as in a database older than identities) one
#    ahead of the journal
for c in other ahead; do
  export ARK_DATA_DIR=$work/c-$c
  mkdir -p "$ARK_DATA_DIR"
  cp "$backup" "$ARK_DATA_DIR/ark_state.db"
  if [ $c = ahead ]; then
    sqlite3 "$ARK_DATA_DIR/ark_state.db" "DELETE FROM metadata WHERE key = 'journal_id'"
    why="the mutable core has applied up to seq $applied, the journal in .* only records up to seq 0"
  else
    why="the mutable core was applied from journal [0-9a-f]*, this journal (.*) is [0-9a-f]*"
  fi
  "$ark" run --rate 2000 --duration 2 --quiet > "$work/run3.out" 2>&1 && fail "$c: a run with the database of another record passed"
  grep -q "$why" "$ARK_DATA_DIR/logs/aletheia.log" || fail "$c: aletheia.log does not say why"
  grep -q "does not belong to this journal: stopping (fail closed)" "$ARK_DATA_DIR/logs/aletheia.log" || fail "$c: Aletheia did not stop"
  [ "$(grep -c 'starting pid' "$ARK_DATA_DIR/logs/aletheia.log")" -eq 1 ] || fail "$c: Aletheia was restarted (a fail-closed stop is not retried)"
  [ "$(db "$ARK_DATA_DIR" "SELECT value FROM metadata WHERE key = 'journal_last_applied_seq'")" = "$applied" ] || fail "$c: the database was written"
done
echo "fail closed: ok"

# 4. a backup with a trigger is refused: with its checksum manifest, as a
#    file that is not the one ARK wrote; without one (--unverified), by its
#    schema, the trigger named
cp "$backup" "$work/trig.db"
cp "$backup.sha256" "$work/trig.db.sha256" 2>/dev/null
sqlite3 "$work/trig.db" "CREATE TRIGGER wipe AFTER INSERT ON hrm_denials BEGIN DELETE FROM hrm_denials; END;"
export ARK_DATA_DIR=$work/a
out=$("$ark" restore "$work/trig.db" 2>&1) && fail "a backup with a trigger was restored"
rm -f "$work/trig.db.sha256"
out=$("$ark" restore "$work/trig.db" --unverified 2>&1) && fail "a backup with a trigger was restored (--unverified)"
grep -q "foreign objects: trigger wipe (on hrm_denials)" <<<"$out" || fail "the trigger is not named: $out"
echo "restore journal: ok"
