#!/usr/bin/env bash
# Runs a local lab: all six services on 127.0.0.1 with embedded RocksDB under
# var/, dev TLS material and a dev identity provider made on first use.
#
#   scripts/lab.sh up       start (no-op if already running); writes var/lab.env
#   scripts/lab.sh down     stop exactly the processes `up` started
#   scripts/lab.sh status   health of every service
#   scripts/lab.sh reset    down, then delete var/ (all lab data)
#
# Environment: DATALAB_VAR (default var/), DATALAB_BIN (default build/bin),
# DATALAB_PORT_BASE (default: ports the kernel picks; set, service i of
# SERVICES listens on BASE+3i (gRPC), BASE+3i+1 (probes), BASE+3i+2 (metrics)).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${DATALAB_VAR:-$ROOT/var}
BIN=${DATALAB_BIN:-$ROOT/build/bin}
RUN="$VAR/run"
LOGS="$VAR/log"
ENV_FILE="$VAR/lab.env"
SERVICES=(audit catalogue query pseudonymisation ingestion gateway)
ISSUER="https://dev-idp.datalab.local"
AUDIENCE="datalab"

die() { echo "lab: $*" >&2; exit 1; }

port_of() {  # port_of SERVICE KEY  -> value from the service's port file
  sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$RUN/$1.ports" 2>/dev/null
}

is_running() {
  local pidf="$RUN/$1.pid"
  [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

wait_ports() {  # wait for SERVICE's port file, or fail with its log
  local svc=$1 i
  for i in $(seq 1 150); do
    if [ -s "$RUN/$svc.ports" ]; then return 0; fi
    if ! is_running "$svc"; then
      echo "lab: $svc exited during start; last log lines:" >&2
      tail -n 20 "$LOGS/$svc.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  die "$svc did not start within 15 s (see $LOGS/$svc.log)"
}

check_port_base() {
  [ -n "${DATALAB_PORT_BASE:-}" ] || return 0
  local top=$((65535 - 3 * ${#SERVICES[@]}))
  if ! [[ "$DATALAB_PORT_BASE" =~ ^[0-9]{4,5}$ ]] || [ "$DATALAB_PORT_BASE" -lt 1024 ] \
     || [ "$DATALAB_PORT_BASE" -gt "$top" ]; then
    die "DATALAB_PORT_BASE=$DATALAB_PORT_BASE: expected a port from 1024 to $top"
  fi
}

# port SERVICE OFFSET -> the port to listen on: 0 (the kernel picks) unless
# DATALAB_PORT_BASE is set (checked by check_port_base).
port() {
  [ -n "${DATALAB_PORT_BASE:-}" ] || { echo 0; return; }
  local i
  for i in "${!SERVICES[@]}"; do
    [ "${SERVICES[$i]}" = "$1" ] && { echo $((DATALAB_PORT_BASE + 3 * i + $2)); return; }
  done
  die "no port for $1"
}

start() {  # start SERVICE [extra flags...]
  local svc=$1; shift
  local exe="$BIN/datalab-$svc"
  [ -x "$exe" ] || die "$exe is missing: build first (scripts/setup.sh)"
  if is_running "$svc"; then return 0; fi
  rm -f "$RUN/$svc.ports"
  mkdir -p "$VAR/data/$svc"
  local common=(
    --listen="127.0.0.1:$(port "$svc" 0)" --health_listen="127.0.0.1:$(port "$svc" 1)"
    --metrics_listen="127.0.0.1:$(port "$svc" 2)"
    --port_file="$RUN/$svc.ports"
    --tls_cert="$VAR/pki/$svc.pem" --tls_key="$VAR/pki/$svc.key" --tls_ca="$VAR/pki/ca.pem"
    --data_dir="$VAR/data/$svc"
  )
  nohup "$exe" "${common[@]}" "$@" >>"$LOGS/$svc.log" 2>&1 </dev/null &
  echo $! > "$RUN/$svc.pid"
  wait_ports "$svc"
}

target() { echo "127.0.0.1:$(port_of "$1" grpc_port)"; }

cmd_up() {
  check_port_base
  mkdir -p "$RUN" "$LOGS"
  "$ROOT/deploy/dev-certs.sh" "$VAR" >/dev/null
  if [ ! -f "$VAR/dev-idp/jwks.json" ]; then
    mkdir -p "$VAR/dev-idp"
    "$BIN/datalab" dev init-idp --dir "$VAR/dev-idp" --issuer "$ISSUER" >/dev/null \
      || die "could not create the dev identity provider"
  fi
  local assertion=(--assertion_public_key="$VAR/secrets/assertion.pub")

  start audit "${assertion[@]}" --signing_key="$VAR/secrets/audit-signing.key"
  local audit; audit=$(target audit)
  start catalogue "${assertion[@]}" --audit_target="$audit"
  start query "${assertion[@]}" --audit_target="$audit" --catalogue_target="$(target catalogue)" \
    --release_signing_key="$VAR/secrets/release-signing.key"
  start pseudonymisation "${assertion[@]}" --audit_target="$audit" \
    --query_target="$(target query)" --kek_file="$VAR/secrets/kek.b64"
  start ingestion "${assertion[@]}" --audit_target="$audit" \
    --catalogue_target="$(target catalogue)" --query_target="$(target query)" \
    --pseudonymisation_target="$(target pseudonymisation)" \
    --staging_key_file="$VAR/secrets/staging.b64"
  start gateway --require_client_cert=false --audit_target="$audit" \
    --assertion_signing_key="$VAR/secrets/assertion.key" \
    --jwks_file="$VAR/dev-idp/jwks.json" --oidc_issuer="$ISSUER" --oidc_audience="$AUDIENCE" \
    --catalogue_target="$(target catalogue)" --ingestion_target="$(target ingestion)" \
    --pseudonymisation_target="$(target pseudonymisation)" \
    --query_target="$(target query)" --audit_target_public="$audit"

  {
    echo "# written by scripts/lab.sh up; source it or point DATALAB_ENV here"
    echo "DATALAB_GATEWAY=127.0.0.1:$(port_of gateway grpc_port)"
    echo "DATALAB_CA=$VAR/pki/ca.pem"
    echo "DATALAB_DEV=1"
    echo "DATALAB_DEV_IDP=$VAR/dev-idp"
    echo "DATALAB_TOKEN_DIR=$VAR/tokens"
    echo "DATALAB_OIDC_ISSUER=$ISSUER"
    echo "DATALAB_OIDC_AUDIENCE=$AUDIENCE"
    for svc in "${SERVICES[@]}"; do
      up=$(echo "$svc" | tr '[:lower:]' '[:upper:]')
      echo "DATALAB_${up}_ADDR=127.0.0.1:$(port_of "$svc" grpc_port)"
      echo "DATALAB_${up}_HEALTH=127.0.0.1:$(port_of "$svc" health_port)"
      echo "DATALAB_${up}_METRICS=127.0.0.1:$(port_of "$svc" metrics_port)"
      echo "DATALAB_${up}_PID=$(cat "$RUN/$svc.pid")"
    done
  } > "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  echo "lab: up; gateway at $(grep DATALAB_GATEWAY= "$ENV_FILE" | cut -d= -f2); env in $ENV_FILE"
}

cmd_down() {
  local svc pid i
  # Stop in reverse order so callers go before what they call.
  for (( i=${#SERVICES[@]}-1; i>=0; i-- )); do
    svc=${SERVICES[$i]}
    [ -f "$RUN/$svc.pid" ] || continue
    pid=$(cat "$RUN/$svc.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        echo "lab: $svc did not stop in 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$RUN/$svc.pid" "$RUN/$svc.ports"
  done
  rm -f "$ENV_FILE"
  echo "lab: down"
}

cmd_status() {
  [ -f "$ENV_FILE" ] || die "not running (no $ENV_FILE)"
  DATALAB_ENV="$ENV_FILE" "$BIN/datalab" health
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_down; rm -rf "$VAR"; echo "lab: reset" ;;
  *) echo "usage: scripts/lab.sh up|down|status|reset" >&2; exit 2 ;;
esac
