#!/bin/sh
# make-test-certs.sh — create a throw-away test CA, a server certificate for
# 127.0.0.1/localhost and a client certificate, for the metrics server's TLS
# (METRICS_TLS_CERT/KEY, METRICS_TLS_CLIENT_CA) and Prometheus's tls_config.
#
#   deploy/prometheus/make-test-certs.sh DIR [DAYS]
#
# Writes into DIR: ca.crt ca.key server.crt server.key client.crt client.key
# (EC P-256, keys 0600). For tests and trials only: production certificates
# come from your own CA.
set -eu
dir=${1:?usage: make-test-certs.sh DIR [DAYS]}
days=${2:-30}
mkdir -p "$dir"
cd "$dir"
umask 077

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout ca.key -out ca.crt -days "$days" -subj "/CN=ARK test CA $$" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

cat > server.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
EXT
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -out server.crt -days "$days" -extfile server.ext 2>/dev/null

cat > client.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EXT
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout client.key -out client.csr -subj "/CN=prometheus" 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -out client.crt -days "$days" -extfile client.ext 2>/dev/null

rm -f server.csr client.csr server.ext client.ext ca.srl
chmod 644 ca.crt server.crt client.crt
echo "test certificates in $dir: ca.crt server.crt server.key client.crt client.key"
