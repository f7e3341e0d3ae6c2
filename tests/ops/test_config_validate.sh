#!/usr/bin/env bash
# test_config_validate.sh ARK — `ark config validate` against a good production
# configuration (a real redis-server, a real certificate) and a table of bad
# ones, one per check: each must fail with its ✗ line and hint and exit 1, and
# no secret's value may appear in any output. The template itself must fail
# on its placeholder secrets.
set -uo pipefail
ark=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/ark-validate-XXXXXX)
redis=""
fail() { echo "FAIL: $*"; exit 1; }
cleanup() { [ -n "$redis" ] && kill "$redis" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
command -v redis-server >/dev/null || fail "redis-server is not installed (Debian package redis-server)"
command -v openssl >/dev/null || fail "openssl is not installed"
. "$(dirname "$0")/../lib.sh"   # free_port

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --dir "$work" --save "" --requirepass "r3d1s-pw-$$" >/dev/null 2>&1 & redis=$!
t=0; until redis-cli -p "$rport" --no-auth-warning -a "r3d1s-pw-$$" PING 2>/dev/null | grep PONG >/dev/null || [ $t -gt 50 ]; do sleep 0.1; t=$((t+1)); done
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 30 -subj /CN=localhost 2>/dev/null ||
  fail "openssl could not make a certificate"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/other.key" -out "$work/other.pem" -days 30 -subj /CN=other 2>/dev/null
chmod 600 "$work/key.pem" "$work/other.key"
mport=$(free_port) aport=$(free_port)
session=$(openssl rand -hex 32) jwt=$(openssl rand -hex 32)
akey="PK$(openssl rand -hex 9 | tr a-f A-F)" asecret=$(openssl rand -base64 30 | tr -d '/+=') avkey=$(openssl rand -hex 8 | tr a-f A-F)
secrets=("$session" "$jwt" "$akey" "$asecret" "$avkey" "r3d1s-pw-$$")

good() {
  cat <<EOF
# a good production configuration
ARK_ENV=prod
ARK_INSTANCE=validate$$
ARK_DATA_DIR=$work/lib
ARK_STATE_DB=$work/lib/ark_state.db
ARK_LOG_DIR=$work/log
ARK_BACKUP_DIR=$work/backups
ARK_RUN_DIR=$work/run
REDIS_URL=redis://:r3d1s-pw-$$@127.0.0.1:$rport/0
METRICS_PORT=$mport
METRICS_TLS_CERT=$work/cert.pem
METRICS_TLS_KEY=$work/key.pem
API_PORT=$aport
export SESSION_SECRET=$session
JWT_SECRET="$jwt"
ALPACA_API_KEY='$akey'
ALPACA_SECRET_KEY=$asecret
ALPHA_VANTAGE_API_KEY=$avkey
ARK_CPU_KYLE=0
EOF
}

# validate FILE: runs the validator with nothing else in the environment.
validate() { env -i PATH="$PATH" HOME="$HOME" "$ark" config validate --env-file "$1" "${@:2}" 2>&1; }
no_secrets() {
  for s in "${secrets[@]}"; do ! grep -qF -- "$s" <<<"$1" || fail "a secret appears in the output of $2"; done
}

good > "$work/good.env"; chmod 600 "$work/good.env"
out=$(validate "$work/good.env"); rc=$?
[ $rc -eq 0 ] || fail "the good configuration is not valid (rc=$rc):
$out"
for line in "✓ All required environment variables present" "✓ Security: All secrets configured (not placeholders)" \
  "✓ Directories: $work/lib " "✓ SQLite WAL mode enabled successfully" "✓ Redis: Connected successfully (redis://:***@127.0.0.1:$rport/0)" \
  "✓ TLS: METRICS certificate matches its key" "✓ Ports: 127.0.0.1:$mport (METRICS_PORT) free" "✓ CPUs: 1 agents pinned" \
  "Production configuration is VALID ✓"; do
  grep -qF -- "$line" <<<"$out" || fail "the good configuration's report lacks '$line':
$out"
done
no_secrets "$out" "the good configuration"
json=$(validate "$work/good.env" --json) || fail "--json of the good configuration: $json"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] is True and d["environment"] == "prod" and d["env_file"].endswith("good.env"), d
assert all(set(c) == {"status", "message", "hint"} and c["status"] in ("ok", "fail", "info") for c in d["checks"]), d
assert any(c["message"].startswith("Redis: Connected") for c in d["checks"])
' "$json" || fail "--json shape: $json"
echo "good: ok"

# The template, as shipped: its placeholder secrets are refused.
cp "$root/deploy/.env.production.template" "$work/template.env"; chmod 600 "$work/template.env"
out=$(validate "$work/template.env"); rc=$?
[ $rc -eq 1 ] || fail "the template passed (rc=$rc)"
for s in SESSION_SECRET JWT_SECRET ALPACA_API_KEY ALPACA_SECRET_KEY ALPHA_VANTAGE_API_KEY; do
  grep -q "✗ Security: $s is a placeholder" <<<"$out" || fail "the template's $s placeholder was not refused:
$out"
done
echo "template: ok"

# bad NAME SED-EXPRESSION EXPECTED-✗-LINE EXPECTED-HINT [prepare]: one broken check.
bad() {
  local name=$1 edit=$2 expect=$3 hint=$4
  good | sed -e "$edit" > "$work/$name.env"; chmod 600 "$work/$name.env"
  local out rc
  out=$(validate "$work/$name.env"); rc=$?
  [ $rc -eq 1 ] || fail "$name: exit $rc, expected 1:
$out"
  grep -qF -- "✗ $expect" <<<"$out" || fail "$name: no '✗ $expect' in:
$out"
  grep "^    hint: " <<<"$out" | grep -F -- "$hint" >/dev/null || fail "$name: no hint '$hint' in:
$out"
  grep -q "Production configuration is INVALID ✗" <<<"$out" || fail "$name: no INVALID verdict"
  no_secrets "$out" "$name"
  echo "bad $name: ok"
}
bad missing        '/^REDIS_URL=/d; /^ALPACA_SECRET_KEY=/d' "Missing required environment variables: REDIS_URL, ALPACA_SECRET_KEY" "deploy/.env.production.template"
bad placeholder    "s/^JWT_SECRET=.*/JWT_SECRET=changeme/" "Security: JWT_SECRET is a placeholder" "openssl rand -hex 32"
bad short_secret   "s/^export SESSION_SECRET=.*/SESSION_SECRET=4f9a1c7e2b8d/" "Security: SESSION_SECRET is shorter than 32 characters" "openssl rand -hex 32"
bad low_entropy    "s/^export SESSION_SECRET=.*/SESSION_SECRET=abacabadabacabaeabacabadabacabaf/" "Security: SESSION_SECRET is too little variety" "openssl rand -hex 32"
bad repeated       "s/^ALPACA_SECRET_KEY=.*/ALPACA_SECRET_KEY=zzzzzzzzzzzzzzzzzzzzzzzz/" "Security: ALPACA_SECRET_KEY is one character or a short group repeated" "provider's dashboard"
bad your_key       "s/^ALPHA_VANTAGE_API_KEY=.*/ALPHA_VANTAGE_API_KEY=YOUR_API_KEY/" "Security: ALPHA_VANTAGE_API_KEY is a placeholder" "provider's dashboard"
bad number         "s/^METRICS_PORT=.*/METRICS_PORT=99999/" "Settings: METRICS_PORT" "README's Environment variables"
bad ratio          '$a WATCHDOG_MAX_FAILURE_RATE=1.5' "Settings: WATCHDOG_MAX_FAILURE_RATE" "README's Environment variables"
bad boolean        '$a TRACE_ID_ENABLED=maybe' "Settings: TRACE_ID_ENABLED" "README's Environment variables"
bad broker         '$a ARK_BROKER=ibkr' "Settings: ARK_BROKER: expected paper or alpaca" "paper (the simulated venue) or alpaca"
bad directory      "s|^ARK_LOG_DIR=.*|ARK_LOG_DIR=$work/good.env/logs|" "Directories: $work/good.env/logs (ARK_LOG_DIR) does not exist and cannot be created" "install -d"
touch "$work/readonly-db"; mkdir -p "$work/rodir"; chmod 500 "$work/rodir"
if [ "$(id -u)" != 0 ]; then
  bad unwritable   "s|^ARK_BACKUP_DIR=.*|ARK_BACKUP_DIR=$work/rodir|" "Directories: $work/rodir (ARK_BACKUP_DIR) is not writable" "chown -R ark"
fi
bad sqlite         "s|^ARK_STATE_DB=.*|ARK_STATE_DB=$work/nodir/x/ark_state.db|" "SQLite: cannot enable WAL mode on $work/nodir/x/ark_state.db" "local file system"
bad redis_down     "s|^REDIS_URL=.*|REDIS_URL=redis://127.0.0.1:$(free_port)/0|" "Redis: no answer from redis://127.0.0.1:" "start Redis"
bad redis_auth     "s|^REDIS_URL=.*|REDIS_URL=redis://:wrong-pw@127.0.0.1:$rport/0|" "Redis: no answer from redis://:***@127.0.0.1:$rport/0" "start Redis"
bad redis_url      "s|^REDIS_URL=.*|REDIS_URL=http://127.0.0.1:$rport|" "Redis: REDIS_URL" "redis://[:password@]host"
bad tls_mismatch   "s|^METRICS_TLS_KEY=.*|METRICS_TLS_KEY=$work/other.key|" "TLS: METRICS_TLS_KEY $work/other.key does not match the certificate" "install a current certificate"
bad tls_missing    "s|^METRICS_TLS_CERT=.*|METRICS_TLS_CERT=$work/nothing.pem|" "Settings: METRICS_TLS_CERT" "README's Environment variables"
# An expired certificate (openssl ca can set the validity dates).
mkdir -p "$work/ca" && touch "$work/ca/index.txt" && echo 01 > "$work/ca/serial"
printf '[ca]\ndefault_ca = old\n[old]\ndatabase = %s/ca/index.txt\nnew_certs_dir = %s/ca\nserial = %s/ca/serial\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n' \
  "$work" "$work" "$work" > "$work/ca/ca.cnf"
openssl req -new -newkey rsa:2048 -nodes -keyout "$work/old.key" -out "$work/old.csr" -subj /CN=old 2>/dev/null &&
  openssl ca -config "$work/ca/ca.cnf" -selfsign -keyfile "$work/old.key" -in "$work/old.csr" -startdate 20200101000000Z \
    -enddate 20200102000000Z -batch -out "$work/old.pem" >/dev/null 2>&1 || fail "openssl could not make an expired certificate"
chmod 600 "$work/old.key"
bad tls_expired    "s|^METRICS_TLS_CERT=.*|METRICS_TLS_CERT=$work/old.pem|; s|^METRICS_TLS_KEY=.*|METRICS_TLS_KEY=$work/old.key|" "TLS: the certificate $work/old.pem has expired" "install a current certificate"
cp "$work/key.pem" "$work/open.key"; chmod 644 "$work/open.key"
bad tls_key_mode   "s|^METRICS_TLS_KEY=.*|METRICS_TLS_KEY=$work/open.key|" "TLS: the key $work/open.key is readable by others (mode 0644)" "chmod 600 $work/open.key"
bad clear_text     "/^METRICS_TLS_/d; \$a METRICS_BIND=0.0.0.0" "TLS: METRICS_BIND=0.0.0.0 without METRICS_TLS_CERT" "METRICS_BIND=127.0.0.1"
python3 -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$aport" & holder=$!
t=0; until (exec 3<>/dev/tcp/127.0.0.1/$aport) 2>/dev/null || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
bad port_in_use    "s/^X=//" "Ports: 127.0.0.1:$aport (API_PORT) is in use by another process" "ss -ltnp"
kill $holder 2>/dev/null
bad cpu            "s/^ARK_CPU_KYLE=.*/ARK_CPU_KYLE=4000/" "CPUs: ARK_CPU_KYLE=4000 is not a CPU this process may run on" "this machine lets ARK use CPUs"
mkdir -p "$work/lib"; printf 'this is not a rules file\n' > "$work/lib/graveyard.rules"
bad graveyard      "s/^X=//" "Graveyard: " "restore the rules file"
rm -f "$work/lib/graveyard.rules"
bad pinned_hash    '$a ARK_GRAVEYARD_SHA256=0000000000000000000000000000000000000000000000000000000000000000' "Graveyard: " "pin its new hash after review"
good | sed 's/^ARK_ENV=prod/ARK_ENV prod/' > "$work/syntax.env"; chmod 600 "$work/syntax.env"
out=$(validate "$work/syntax.env"); rc=$?
[ $rc -eq 1 ] && grep -qF "✗ Env file: $work/syntax.env line 2: expected KEY=VALUE" <<<"$out" || fail "syntax error: rc=$rc $out"
no_secrets "$out" syntax
chmod 644 "$work/good.env"
out=$(validate "$work/good.env"); rc=$?
[ $rc -eq 1 ] && grep -qF "✗ Env file: $work/good.env holds secrets and is readable by everyone (mode 0644)" <<<"$out" &&
  grep -qF "hint: chmod 600 $work/good.env" <<<"$out" || fail "env file mode: rc=$rc $out"
out=$(env -i PATH="$PATH" HOME="$HOME" "$ark" config validate --env-file "$work/absent.env" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -qF "✗ Env file: cannot read the env file $work/absent.env" <<<"$out" || fail "absent env file: rc=$rc $out"
out=$(env -i PATH="$PATH" HOME="$HOME" "$ark" config validate --bogus 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unknown option '--bogus'" <<<"$out" || fail "usage error: rc=$rc $out"
# Every command reads --env-file; a broken one stops it with exit 2.
out=$(env -i PATH="$PATH" HOME="$HOME" "$ark" trace 1 --env-file "$work/syntax.env" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -qF "ark trace: $work/syntax.env line 2: expected KEY=VALUE" <<<"$out" || fail "ark trace --env-file: rc=$rc $out"
echo "config validate: ok"
