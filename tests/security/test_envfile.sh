#!/usr/bin/env bash
# test_envfile.sh ARK — an env file holding secrets is used only when it is
# private (issue 15, point 7): every command refuses one that group or others
# can read or write, or that another user owns, naming the file, its mode (or
# owner) and the fix; a private one, and a readable one without secrets, work.
# The other-owner case creates a second local user (useradd, removed after)
# and exits 77 with the reason when users cannot be created.
set -uo pipefail
ark=$1
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d /tmp/ark-sec-env-XXXXXX)
user=""
cleanup() { [ -n "$user" ] && userdel "$user" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
unset JWT_SECRET ARK_ENV_FILE ARK_ENV
export ARK_DATA_DIR=$work/data
secret="env-test-secret-$$-0123456789abcdefghijklmnop"
printf 'JWT_SECRET=%s\nAPI_PORT=8123\n' "$secret" > "$work/prod.env"

expect_refused() {   # expect_refused MODE WHAT
  chmod "$1" "$work/prod.env"
  for cmd in "token --sub tester" "status --instance none$$" "run --duration 1"; do
    out=$("$ark" $cmd --env-file "$work/prod.env" 2>&1); rc=$?
    [ $rc -eq 2 ] || fail "mode $1: ark $cmd ran with it (rc=$rc): $out"
    grep -qF "the env file $work/prod.env holds secrets (JWT_SECRET) and has mode 0$1: $2" <<<"$out" ||
      fail "mode $1: ark $cmd: the refusal does not name the file, its mode and who can read it: $out"
    grep -qF "chmod 600 $work/prod.env" <<<"$out" || fail "mode $1: ark $cmd: no fix named: $out"
    ! grep -qF "$secret" <<<"$out" || fail "the secret was printed"
  done
  out=$(ARK_ENV_FILE="$work/prod.env" "$ark" token --sub tester 2>&1) && fail "mode $1: \$ARK_ENV_FILE was used: $out"
}
expect_refused 644 "every user can read"
expect_refused 640 "its group can read"
expect_refused 660 "its group can read and change"
expect_refused 602 "every user can change"
# ark config validate reports it as a failed check.
chmod 644 "$work/prod.env"
out=$("$ark" config validate --env-file "$work/prod.env" 2>&1) && fail "config validate passed a 0644 secrets file: $out"
grep -qF "holds secrets and is readable by everyone (mode 0644)" <<<"$out" || fail "config validate: $out"

chmod 600 "$work/prod.env"
token=$("$ark" token --sub tester --env-file "$work/prod.env") || fail "a private env file was refused"
[ -n "$token" ] || fail "no token"
# Without a secret, a readable file is fine.
printf 'API_PORT=8123\nARK_JOURNAL_SYNC=none\n' > "$work/public.env"; chmod 644 "$work/public.env"
"$ark" status --instance "none$$" --env-file "$work/public.env" > /dev/null 2>&1
[ $? -ne 2 ] || fail "a readable env file without secrets was refused"

# Owned by another user (0600): refused, whoever may read it.
user="arkenv$$"
if ! useradd --system --no-create-home --shell /usr/sbin/nologin "$user" 2>"$work/useradd.err"; then
  user=""
  echo "SKIP: mode cases passed; cannot create a second local user for the owner case: $(tr '\n' ' ' < "$work/useradd.err")"
  exit 77
fi
chown "$user" "$work/prod.env"; chmod 600 "$work/prod.env"
out=$("$ark" token --sub tester --env-file "$work/prod.env" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "another user's env file was used: $out"
grep -qF "belongs to uid $(id -u "$user"), not to this user (uid 0) or root" <<<"$out" || fail "owner refusal: $out"
echo "env files: 0644/0640/0660/0602 and another user's refused by every command; 0600 and secret-free 0644 used"
