#!/usr/bin/env bash
# test_graveyard_cli.sh ARK RULES — `ark graveyard install` and `check` as an
# operator runs them: the installed copy is 0444 and hashes as sha256sum says;
# check prints every limit, scope and line, and the hash; --expect passes on
# the right hash and exits 1 on another; --json is one object; bad rules name
# the line and exit 1; bad usage exits 2.
set -uo pipefail
ark=$1 rules=$2
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/ark-gy-cli-XXXXXX")
trap 'chmod -R u+w "$dir"; rm -rf "$dir"' EXIT
want=$(sha256sum "$rules" | cut -d' ' -f1)

out=$(ARK_DATA_DIR="$dir/data" "$ark" graveyard install --rules "$rules" 2>&1) || fail "install: $out"
grep -q "sha256 $want" <<<"$out" || fail "install did not print the hash: $out"
[ "$(stat -c %a "$dir/data/graveyard.rules")" = 444 ] || fail "installed mode $(stat -c %a "$dir/data/graveyard.rules")"
[ "$(sha256sum "$dir/data/graveyard.rules" | cut -d' ' -f1)" = "$want" ] || fail "installed bytes differ"
out=$(ARK_GRAVEYARD_RULES="$dir/explicit.rules" "$ark" graveyard install --rules "$rules" --json 2>&1) ||
  fail "install to ARK_GRAVEYARD_RULES: $out"
grep -q "\"sha256\":\"$want\"" <<<"$out" && grep -q '"mode":"0444"' <<<"$out" || fail "install --json: $out"
"$ark" graveyard install --rules "$rules" --to "$dir/to/x.rules" >/dev/null || fail "install --to"
[ "$(stat -c %a "$dir/to/x.rules")" = 444 ] || fail "--to mode"

out=$(ARK_DATA_DIR="$dir/data" "$ark" graveyard check 2>&1) || fail "check: $out"
grep -q "sha256  $want" <<<"$out" || fail "check hash: $out"
grep -q "mode 0444" <<<"$out" || fail "check mode: $out"
for key in trading_state max_order_quantity max_order_notional price_collar reference_max_age \
           restricted_symbols restricted_patterns order_rate order_rate_per_symbol duplicate_window \
           max_position max_gross_exposure daily_loss_limit trading_day_reset; do
  grep -q "^$key " <<<"$out" || fail "check does not list $key: $out"
done
grep -Eq "^max_gross_exposure +10000000 +global +[0-9]+" <<<"$out" || fail "check value/scope/line: $out"
out=$("$ark" graveyard check --rules "$rules" --expect "$want" 2>&1) || fail "--expect right hash: $out"
grep -q "match" <<<"$out" || fail "--expect output: $out"
other=$(printf '%064d' 0)
out=$("$ark" graveyard check --rules "$rules" --expect "$other" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "expected $other" <<<"$out" || fail "--expect wrong hash: rc=$rc $out"
out=$("$ark" graveyard check --rules "$rules" --json --expect "$want")
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "--json is not one line"
grep -q "\"sha256\":\"$want\"" <<<"$out" && grep -q '"match":true' <<<"$out" &&
  grep -q '"key":"daily_loss_limit","reason":"daily_loss","reason_code":14' <<<"$out" || fail "--json: $out"

# Bad rules: the line and what was expected; nothing installed.
sed 's/^max_position = .*/max_position = lots node/' "$rules" >"$dir/bad.rules"
line=$(grep -n '^max_position' "$dir/bad.rules" | cut -d: -f1)
out=$("$ark" graveyard check --rules "$dir/bad.rules" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "bad.rules:$line: max_position: expected a positive number" <<<"$out" || fail "bad rules: rc=$rc $out"
out=$("$ark" graveyard install --rules "$dir/bad.rules" --to "$dir/never.rules" 2>&1); rc=$?
[ $rc -eq 1 ] && [ ! -e "$dir/never.rules" ] || fail "installed bad rules: rc=$rc $out"
printf 'version = 1\nmax_qty = 5 node\n' >"$dir/unknown.rules"
out=$("$ark" graveyard check --rules "$dir/unknown.rules" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "unknown.rules:2: unknown key 'max_qty'" <<<"$out" || fail "unknown key: rc=$rc $out"
out=$("$ark" graveyard check --rules "$dir/absent.rules" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "absent.rules" <<<"$out" || fail "missing file: rc=$rc $out"

# Usage errors exit 2.
for args in "" "frobnicate" "check --bogus" "check --expect xyz" "install extra"; do
  out=$("$ark" graveyard $args 2>&1); rc=$?
  [ $rc -eq 2 ] || fail "ark graveyard $args: rc=$rc $out"
done
"$ark" graveyard --help | grep "ark graveyard install" >/dev/null || fail "--help"
echo "graveyard cli tests passed"
