#!/usr/bin/env bash
# Development PKI and secrets for a local lab (never for production: there
# the cluster CA / cert-manager issues certificates and secrets are mounted).
#
#   deploy/dev-certs.sh DIR
#
# Writes, once (existing files are kept):
#   DIR/pki/ca.pem, ca.key                  a private CA (EC P-256)
#   DIR/pki/<svc>.pem, <svc>.key            one certificate per service, CN=<svc>,
#                                           SAN localhost + 127.0.0.1 (server and client auth)
#   DIR/secrets/assertion.key, .pub         the gateway's Ed25519 identity-assertion key
#   DIR/secrets/audit-signing.key, .pub     the audit log's Ed25519 tree-head key
#   DIR/secrets/release-signing.key, .pub   the query service's release-record key
#   DIR/secrets/kek.b64                     the pseudonymisation key-encryption key (32 bytes, base64)
#   DIR/secrets/staging.b64                 ingestion's key wrapping staged upload keys (32 bytes, base64)
set -euo pipefail
dir=${1:?usage: dev-certs.sh DIR}
pki="$dir/pki"
sec="$dir/secrets"
mkdir -p "$pki" "$sec"
chmod 700 "$pki" "$sec"
umask 077

if [ ! -f "$pki/ca.pem" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -sha256 -days 365 \
    -subj "/CN=datalab dev CA" -out "$pki/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

for svc in gateway catalogue ingestion pseudonymisation query audit operator; do
  [ -f "$pki/$svc.pem" ] && continue
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$svc.key" 2>/dev/null
  openssl req -new -key "$pki/$svc.key" -subj "/CN=$svc" -out "$pki/$svc.csr" 2>/dev/null
  ext=$(mktemp)
  cat > "$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,DNS:$svc,IP:127.0.0.1
EXT
  openssl x509 -req -in "$pki/$svc.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 365 -sha256 -extfile "$ext" -out "$pki/$svc.pem" 2>/dev/null
  rm -f "$pki/$svc.csr" "$ext"
done

for k in assertion audit-signing release-signing; do
  [ -f "$sec/$k.key" ] && continue
  openssl genpkey -algorithm ed25519 -out "$sec/$k.key" 2>/dev/null
  openssl pkey -in "$sec/$k.key" -pubout -out "$sec/$k.pub" 2>/dev/null
done

[ -f "$sec/kek.b64" ] || openssl rand -base64 32 > "$sec/kek.b64"
[ -f "$sec/staging.b64" ] || openssl rand -base64 32 > "$sec/staging.b64"
chmod 600 "$pki"/*.key "$sec"/*
echo "dev PKI and secrets in $dir"
