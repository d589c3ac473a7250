#!/usr/bin/env bash
# Shared helpers for the end-to-end, fault and attack suites (sourced).
#
# Each suite gets its own lab: a fresh temporary DATALAB_VAR, so a test never
# touches a user's lab, and a trap that stops the lab and deletes the
# directory however the suite ends (set DATALAB_E2E_KEEP=1 to keep it for a
# post-mortem). Checks print one "PASS name" / "FAIL name: why" line each;
# e2e_finish prints a summary and exits non-zero when anything failed.
#
# Environment: DATALAB_BIN (built binaries; default <source>/build/bin),
# DATALAB_SOURCE_DIR (default: two levels above this file),
# DATALAB_SHARED_DIR (default <source>/../shared).
set -uo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${DATALAB_SOURCE_DIR:-$(cd "$E2E_DIR/../.." && pwd)}
BIN=${DATALAB_BIN:-$ROOT/build/bin}
SHARED=${DATALAB_SHARED_DIR:-$ROOT/../shared}
DFE=$SHARED/data/dfe
E2E_PASS=0
E2E_FAIL=0
E2E_SKIP=0
E2E_FAILED_NAMES=()
E2E_T0=$(date +%s.%N)
OUT=""   # stdout of the last `run`
ERR=""   # stderr of the last `run`
RC=0     # exit code of the last `run`

log() { echo "[$(date +%H:%M:%S)] $*"; }

e2e_cleanup() {
  local rc=$?
  if [ -n "${VAR:-}" ] && [ -d "$VAR" ]; then
    # Services this suite restarted by hand are not in lab.sh's pid files
    # any more: stop them by the pids we recorded.
    for p in ${E2E_EXTRA_PIDS:-}; do kill -TERM "$p" 2>/dev/null || true; done
    DATALAB_VAR=$VAR DATALAB_BIN=$BIN "$ROOT/scripts/lab.sh" down >/dev/null 2>&1 || true
    for p in ${E2E_EXTRA_PIDS:-}; do
      for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$p" 2>/dev/null || true
    done
    [ -n "${E2E_CLEANUP_HOOK:-}" ] && eval "$E2E_CLEANUP_HOOK" || true
    if [ "${DATALAB_E2E_KEEP:-0}" = 1 ]; then
      echo "kept lab directory $VAR"
    else
      rm -rf "$VAR"
    fi
  fi
  e2e_release_ports
  exit $rc
}

# e2e_init NAME: a fresh lab directory and the cleanup trap.
e2e_init() {
  E2E_NAME=$1
  for b in datalab datalab-gateway datalab-catalogue datalab-ingestion datalab-query \
           datalab-pseudonymisation datalab-audit datalab-synth; do
    if [ ! -x "$BIN/$b" ]; then
      echo "FAIL $E2E_NAME: $BIN/$b is missing (build everything first)"; exit 1
    fi
  done
  VAR=$(mktemp -d "${TMPDIR:-/tmp}/datalab-e2e-$E2E_NAME.XXXXXX")
  export DATALAB_VAR=$VAR DATALAB_BIN=$BIN DATALAB_ENV=$VAR/lab.env
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  e2e_claim_ports
  log "$E2E_NAME: lab directory $VAR, binaries $BIN, ports from ${DATALAB_PORT_BASE:-the kernel}"
}

# e2e_claim_ports: a block of 20 ports for this suite's lab, below the
# kernel's ephemeral range. The crash and fault suites restart a service on
# the ports it had; a port the kernel hands out (to any test binding port 0)
# could be taken while the service is down. A block is held by an flock on
# its lock file, which the kernel drops when the suite and every service it
# started are gone, so suites side by side never share a block and a killed
# suite leaves no claim behind. Without flock, or with no room below the
# range, the kernel picks (DATALAB_PORT_BASE stays unset).
E2E_PORT_CLAIMS=${TMPDIR:-/tmp}/datalab-e2e-ports
E2E_PORT_FD=""
e2e_claim_ports() {
  local low blocks base fd
  command -v flock >/dev/null || return 0
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  blocks=$(( (low - 20000) / 20 ))
  [ "$blocks" -ge 10 ] || return 0
  mkdir -p "$E2E_PORT_CLAIMS" || return 0
  for _ in $(seq 1 100); do
    base=$(( 20000 + (RANDOM % blocks) * 20 ))
    exec {fd}>>"$E2E_PORT_CLAIMS/$base.lock" || continue
    if flock -n "$fd"; then
      E2E_PORT_FD=$fd
      export DATALAB_PORT_BASE=$base
      return 0
    fi
    exec {fd}>&-
  done
}

e2e_release_ports() {
  if [ -n "$E2E_PORT_FD" ]; then
    exec {E2E_PORT_FD}>&-
    E2E_PORT_FD=""
  fi
  unset DATALAB_PORT_BASE
}

lab() { DATALAB_VAR=$VAR DATALAB_BIN=$BIN "$ROOT/scripts/lab.sh" "$@"; }

lab_up() {
  local attempt
  for attempt in 1 2 3; do
    lab up >"$VAR/lab-up.log" 2>&1 && break
    # A port of the claimed block held by something outside the suites:
    # stop what did start and try another block.
    if [ "$attempt" -lt 3 ] && [ -n "${DATALAB_PORT_BASE:-}" ] \
       && grep -q "cannot listen" "$VAR/lab-up.log"; then
      log "lab up: a port from $DATALAB_PORT_BASE is in use; trying another block"
      lab down >/dev/null 2>&1 || true
      e2e_release_ports
      e2e_claim_ports
      continue
    fi
    cat "$VAR/lab-up.log"
    fail "lab up" "the lab did not start"
    e2e_finish
  done
  # shellcheck disable=SC1090
  . "$VAR/lab.env"
}

# run CMD...: runs it with a time limit, capturing OUT, ERR and RC.
run() {
  local t=${RUN_TIMEOUT:-120}
  local cmd=("$@")
  [ "${cmd[0]}" = dl ] && cmd[0]=$BIN/datalab
  if declare -F "${cmd[0]}" >/dev/null; then
    "${cmd[@]}" >"$VAR/run.out" 2>"$VAR/run.err"
  else
    timeout -k 5 "$t" "${cmd[@]}" >"$VAR/run.out" 2>"$VAR/run.err"
  fi
  RC=$?
  OUT=$(cat "$VAR/run.out")
  ERR=$(tr '\r' '\n' <"$VAR/run.err" | grep -v '^uploading \[' )
  return 0
}

# dl ARGS...: the datalab CLI against this lab.
dl() { "$BIN/datalab" "$@"; }

pass() { E2E_PASS=$((E2E_PASS + 1)); echo "PASS $1"; }
fail() {
  E2E_FAIL=$((E2E_FAIL + 1)); E2E_FAILED_NAMES+=("$1")
  echo "FAIL $1: $2"
}
skip() { E2E_SKIP=$((E2E_SKIP + 1)); echo "SKIP $1: skipped: $2"; }

last_output() {
  { echo "    rc=$RC"; echo "$OUT" | head -n "${1:-15}" | sed 's/^/    out: /';
    echo "$ERR" | grep -v '^$' | tail -n 5 | sed 's/^/    err: /'; }
}

# expect_ok NAME CMD...: CMD must exit 0.
expect_ok() {
  local name=$1; shift
  run "$@"
  if [ "$RC" -eq 0 ]; then pass "$name"; return 0; fi
  fail "$name" "exit $RC, expected 0"; last_output; return 1
}

# expect_rc NAME CODE CMD...: CMD must exit with CODE (a CLI exit code:
# 3 unauthenticated, 4 denied, 5 not found, 6 unavailable, 7 invalid).
expect_rc() {
  local name=$1 code=$2; shift 2
  run "$@"
  if [ "$RC" -eq "$code" ]; then pass "$name"; return 0; fi
  fail "$name" "exit $RC, expected $code"; last_output; return 1
}

# expect_fail NAME CMD...: CMD must fail (any non-zero exit but a timeout).
expect_fail() {
  local name=$1; shift
  run "$@"
  if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ]; then pass "$name"; return 0; fi
  fail "$name" "exit $RC, expected a refusal"; last_output; return 1
}

# expect_match NAME REGEX TEXT: TEXT must match the extended REGEX.
expect_match() {
  if echo "$3" | grep -Eq -- "$2"; then pass "$1"; return 0; fi
  fail "$1" "no match for /$2/"; echo "$3" | head -n 15 | sed 's/^/    got: /'; return 1
}

expect_no_match() {
  if ! echo "$3" | grep -Eq -- "$2"; then pass "$1"; return 0; fi
  fail "$1" "unexpected match for /$2/"; echo "$3" | grep -E -- "$2" | head -n 5 | sed 's/^/    got: /'; return 1
}

# json_get FILE|- EXPR: a value from JSON with python3 (EXPR over `d`).
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# personas: dev logins for every role used by the suites, and the catalogue
# user records (with accreditation) researchers need.
personas() {
  local today; today=$(date -u +%Y-%m-%d)
  local in2y; in2y=$(date -u -d '+2 years' +%Y-%m-%d)
  dl dev login --as admin --role admin >/dev/null
  dl dev login --as steward --role data_steward >/dev/null
  dl dev login --as approver --role project_approver >/dev/null
  dl dev login --as approver2 --role project_approver >/dev/null
  dl dev login --as dpo --role dpo >/dev/null
  dl dev login --as dpo2 --role dpo >/dev/null
  for r in alice bob mallory; do dl dev login --as $r --role researcher >/dev/null; done
  for r in alice bob mallory; do
    run dl users create $r --as admin --display-name "$r" --organisation "Trust" \
      --roles researcher --scheme "ONS Accredited Researcher" \
      --training-date "$(date -u -d '-30 days' +%Y-%m-%d)" --expiry-date "$in2y"
    [ "$RC" -eq 0 ] || { fail "create user $r" "exit $RC"; last_output; }
  done
  : "$today"
}

# A project file with dates around today. project_file FILE ID DATASETS_YAML [extra yaml]
project_file() {
  local file=$1 id=$2 datasets=$3 extra=${4:-}
  cat >"$file" <<YAML
project_id: $id
project:
  title: "e2e project $id"
  purpose: "End-to-end test of the lab's research journey ($id)"
  lawful_basis: "Art. 6(1)(e) public task"
  dpia_reference: DPIA-E2E-1
  datasets:
$datasets
  dates:
    start_date: "$(date -u -d '-10 days' +%Y-%m-%d)"
    end_date: "$(date -u -d '+180 days' +%Y-%m-%d)"
  disclosure:
    threshold: 10
    rounding_base: 5
    dominance_n: 2
    dominance_k_percent: 90
    p_percent: 10
$extra
YAML
}

# The services' own words on a failure, so a run that is gone (CI) can still
# be diagnosed: each log's warnings and errors and its last lines, for this
# lab and any earlier one the suite ran (E2E_EARLIER_LABS, lab directories).
# Service logs never carry pupil data, identifiers, keys or tokens.
e2e_service_logs() {
  local d f
  for d in ${E2E_EARLIER_LABS:-} "$VAR"; do
    for f in "$d"/log/*.log; do
      [ -s "$f" ] || continue
      echo "---- $f: warnings and errors (last 10), then the last 5 lines"
      grep -E '"level":"(warning|error)"' "$f" | tail -10 | cut -c1-400
      tail -5 "$f" | cut -c1-400
    done
  done
}

e2e_finish() {
  local t1; t1=$(date +%s.%N)
  local secs; secs=$(python3 -c "print(round($t1-$E2E_T0,1))")
  echo "----"
  echo "$E2E_NAME: $E2E_PASS passed, $E2E_FAIL failed, $E2E_SKIP skipped in ${secs}s"
  if [ "$E2E_FAIL" -gt 0 ]; then
    for n in "${E2E_FAILED_NAMES[@]}"; do echo "  failed: $n"; done
    e2e_service_logs
    echo "RESULT $E2E_NAME: FAIL"
    exit 1
  fi
  echo "RESULT $E2E_NAME: PASS"
  exit 0
}

# ---- service control for the crash and fault suites --------------------------
E2E_EXTRA_PIDS=""

svc_pid() { cat "$VAR/run/$1.pid" 2>/dev/null; }

# svc_save SVC: remembers the running process's exact command line (from
# /proc/PID/cmdline) and the ports it chose, so svc_start can bring the same
# service back on the same addresses.
svc_save() {
  local svc=$1 pid; pid=$(svc_pid "$svc")
  cp "/proc/$pid/cmdline" "$VAR/run/$svc.cmdline"
  cp "$VAR/run/$svc.ports" "$VAR/run/$svc.ports.saved"
}

svc_kill9() {
  local svc=$1 pid; pid=$(svc_pid "$svc")
  svc_save "$svc"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
}

svc_stop() {  # SIGTERM, as an orchestrator would
  local svc=$1 pid; pid=$(svc_pid "$svc")
  svc_save "$svc"
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# svc_start SVC: starts the saved command line again, with the ports pinned
# to the ones the killed process had (the other services were given those
# ports; without a claimed block, lab.sh starts everything on port 0 and the
# kernel chose them). Sets SERVING_MS to the
# time from exec to the whole lab answering SERVING again. Returns 1 if the
# lab does not serve within 30 s.
SERVING_MS=0
svc_start() {
  local svc=$1
  local ports=$VAR/run/$svc.ports.saved
  local g m h
  g=$(sed -n 's/.*"grpc_port":\([0-9]*\).*/\1/p' "$ports")
  m=$(sed -n 's/.*"metrics_port":\([0-9]*\).*/\1/p' "$ports")
  h=$(sed -n 's/.*"health_port":\([0-9]*\).*/\1/p' "$ports")
  local args=()
  while IFS= read -r -d '' a; do
    case "$a" in
      --listen=*) a="--listen=127.0.0.1:$g" ;;
      --metrics_listen=*) a="--metrics_listen=127.0.0.1:$m" ;;
      --health_listen=*) a="--health_listen=127.0.0.1:$h" ;;
    esac
    args+=("$a")
  done <"$VAR/run/$svc.cmdline"
  rm -f "$VAR/run/$svc.ports"
  local t0; t0=$(date +%s%N)
  nohup "${args[@]}" >>"$VAR/log/$svc.log" 2>&1 </dev/null &
  local pid=$!
  disown "$pid" 2>/dev/null || true
  echo "$pid" >"$VAR/run/$svc.pid"
  E2E_EXTRA_PIDS="$E2E_EXTRA_PIDS $pid"
  for _ in $(seq 1 300); do
    if "$BIN/datalab" health --timeout-ms 300 >/dev/null 2>&1; then
      SERVING_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "    $svc exited on restart:"; tail -n 5 "$VAR/log/$svc.log" | sed 's/^/    /'; return 1; }
    sleep 0.1
  done
  return 1
}

# probe ARGS...: the raw gRPC client (tests/e2e/e2e_probe.cc).
probe() { "$BIN/datalab-e2e-probe" --ca "$VAR/pki/ca.pem" "$@"; }
# as_service SVC ARGS...: probe a backend directly with SVC's mTLS identity.
as_service() {
  local s=$1; shift
  probe --cert "$VAR/pki/$s.pem" --key "$VAR/pki/$s.key" "$@"
}

# Common data set-up for the suites that need data: the pupil domain, the
# census/attendance/ks4 datasets, a synthetic trust of N schools uploaded,
# and an approved project P (lead alice) on them. setup_data N P
setup_data() {
  local n=$1 proj=$2
  personas
  dl domains create --domain pupil --kind upn --reversible=true --as admin >/dev/null 2>&1 \
    || { fail "setup: domain" "could not create domains/pupil"; e2e_finish; }
  for ds in census attendance ks4; do
    run dl catalogue create --file "$ROOT/services/catalogue/examples/$ds.yaml" --as steward
    [ "$RC" -eq 0 ] || { fail "setup: dataset $ds" "could not register"; last_output; e2e_finish; }
  done
  TRUST=$VAR/trust
  "$BIN/datalab-synth" --out "$TRUST" --schools "$n" --seed 5 >/dev/null 2>&1
  SCHOOLS=$(tail -n +2 "$TRUST/schools.csv" | cut -d, -f1)
  EXTRACT=$(date -u -d '-30 days' +%Y-%m-%d)
  local u ds bad=0
  for u in $SCHOOLS; do
    for ds in census attendance ks4; do
      [ -f "$TRUST/$ds/$u.csv" ] || continue
      RUN_TIMEOUT=60 run dl upload "$TRUST/$ds/$u.csv" --dataset $ds --school "$u" --extract-date "$EXTRACT" --as steward
      [ "$RC" -eq 0 ] || { bad=1; fail "setup: upload $ds/$u" "exit $RC"; last_output; }
    done
  done
  [ $bad -eq 0 ] || e2e_finish
  project_file "$VAR/$proj.yaml" "$proj" "    - dataset: datasets/census
      columns: [disadvantaged, fsm, sen_provision, ethnicity, nc_year, gender, eal, term]
    - dataset: datasets/ks4
      columns: [ks4_year, attainment8, progress8]
    - dataset: datasets/attendance
      columns: [term, sessions_possible, sessions_authorised_absence, sessions_unauthorised_absence]" "${PROJECT_EXTRA:-}"
  dl projects create --file "$VAR/$proj.yaml" --as alice >/dev/null 2>&1 &&
    dl projects approve "$proj" --as approver >/dev/null 2>&1 ||
    { fail "setup: project $proj" "could not create and approve"; e2e_finish; }
  pass "setup: trust of $n schools uploaded, project $proj approved"
}
