#!/bin/sh
# tests/prometheus/check_config.sh — `promtool check config` on
# deploy/prometheus/prometheus.yml with test certificates substituted for the
# placeholders (and alerts.yml beside it). Also proves the check can fail:
# the file with its placeholders left in must be rejected.
#   check_config.sh DEPLOY_DIR
set -eu
deploy=${1:?usage: check_config.sh DEPLOY_DIR}
tmp=$(mktemp -d /tmp/ark-promtool-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
sh "$deploy/make-test-certs.sh" "$tmp/certs" >/dev/null
cp "$deploy/alerts.yml" "$tmp/alerts.yml"
sed -e "s#__CA_FILE__#$tmp/certs/ca.crt#" -e "s#__CERT_FILE__#$tmp/certs/client.crt#" \
    -e "s#__KEY_FILE__#$tmp/certs/client.key#" "$deploy/prometheus.yml" > "$tmp/prometheus.yml"
grep -q '__' "$tmp/prometheus.yml" && { echo "placeholders left after substitution"; exit 1; }
promtool check config "$tmp/prometheus.yml"
cp "$deploy/prometheus.yml" "$tmp/unsubstituted.yml"
if promtool check config "$tmp/unsubstituted.yml" >/dev/null 2>&1; then
  echo "FAIL: promtool accepted the config with placeholder certificate paths"
  exit 1
fi
echo "prometheus.yml: OK (and the unsubstituted file is rejected)"
