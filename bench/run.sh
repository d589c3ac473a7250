#!/usr/bin/env bash
# bench/run.sh: measures the lab against its peers (PostgreSQL 15, DuckDB,
# a bare OpenSSL HMAC loop) on the same machine in the same run, as issue 11
# asks. Prints one `name value unit` line per figure, one `ratio name value`
# line per comparison and `skipped name (reason)` for parts that are not
# available, and writes bench/results/<timestamp>.json.
#
#   bench/run.sh [--scale N] [--runs R] [--no-build] [--keep] [--only STAGES]
#
#   --scale N   rows = 2,000,000 x N for ingest and queries (3,000 x N schools, at most 10,000;
#               so GROUP BY school_urn, fsm has two groups a school); the
#               in-process drivers scale the same way. Default 1 (the
#               PEERS.md file). N may be fractional: --scale 0.1 = 200,000 rows.
#   --runs R    timed runs per query (default 20; one untimed warm-up first)
#   --no-build  do not run scripts/setup.sh even if binaries are missing
#   --keep      keep the temporary directory (PostgreSQL data, lab var/, logs)
#   --only S    comma list of stages: drivers,postgres,duckdb,lab (default all)
#
# Run as root on Debian 12 (it may apt-get install postgresql, jq, nodejs/npm
# and npm-install @duckdb/node-api into ${XDG_CACHE_HOME:-$HOME/.cache}/datalab-bench).
# Everything runs on 127.0.0.1 in a private temporary directory: a private
# PostgreSQL instance (initdb + pg_ctl on a free port) and a private lab
# (scripts/lab.sh up with DATALAB_VAR set), both stopped on exit.
# Environment: DATALAB_BIN (default build/bin), BENCH_TIMEOUT_SCALE (multiplies
# every stage timeout, default 1).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SCALE=1
RUNS=20
BUILD=1
KEEP=0
ONLY="drivers,postgres,duckdb,lab"
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE=${2:?--scale needs a number}; shift 2 ;;
    --scale=*) SCALE=${1#*=}; shift ;;
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    --only) ONLY=${2:?--only needs stages}; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (see bench/run.sh --help)" >&2; exit 2 ;;
  esac
done
if ! awk -v s="$SCALE" 'BEGIN { exit !(s + 0 > 0 && s + 0 <= 100) }'; then
  echo "bench: --scale must be a number in (0, 100]" >&2; exit 2
fi
ROWS=$(awk -v s="$SCALE" 'BEGIN { printf "%d", 2000000 * s + 0.5 }')
SCHOOLS=$(awk -v s="$SCALE" 'BEGIN { n = int(3000 * s + 0.5); if (n < 10) n = 10; if (n > 10000) n = 10000; printf "%d", n }')  # datalab-synth --flat takes at most 10,000
TS=$(date -u +%Y%m%dT%H%M%SZ)
STARTED=$(date +%s)
BIN=${DATALAB_BIN:-$ROOT/build/bin}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/datalab-bench
TSCALE=${BENCH_TIMEOUT_SCALE:-1}
mkdir -p "$CACHE/data" "$ROOT/bench/results"
TMP=$(mktemp -d /tmp/datalab-bench.XXXXXX)
chmod 755 "$TMP"
FIG="$TMP/figures.txt"
: > "$FIG"
LOG="$TMP/bench.log"

stage() { [[ ",$ONLY," == *",$1,"* ]]; }
note() { echo "bench: $*" >&2; echo "bench: $*" >> "$LOG"; }
# A figure, a comparison, or a part that could not be measured.
emit() { echo "$1 $2 $3"; echo "figure $1 $2 $3" >> "$FIG"; }
ratio() { echo "ratio $1 $2"; echo "ratio $1 $2" >> "$FIG"; }
skipped() { echo "skipped $1 ($2)"; printf 'skipped %s %s\n' "$1" "$2" >> "$FIG"; }
# Value of a figure already emitted (empty when absent).
fig() { awk -v n="$1" '$1 == "figure" && $2 == n { v = $3 } END { if (v != "") print v }' "$FIG"; }
# ratio NAME A B [invert]: A / B, when both are present and B > 0.
ratio_of() {
  local a b; a=$(fig "$2"); b=$(fig "$3")
  if [ -n "$a" ] && [ -n "$b" ]; then
    ratio "$1" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }')"
  fi
}
# The median of the numbers on stdin, one per line.
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Stage timeout in seconds, scaled with the data and BENCH_TIMEOUT_SCALE.
tlimit() { awk -v base="$1" -v s="$SCALE" -v t="$TSCALE" 'BEGIN { f = s < 1 ? 1 : s; printf "%d", base * f * t }'; }
# Lines `name value unit` from a command's output, prefixed with PREFIX_.
collect() {  # collect PREFIX FILE
  local prefix=$1 file=$2 n=0
  while read -r name value unit rest; do
    [[ "$name" =~ ^[a-z][a-z0-9_]*$ ]] || continue
    [[ "$value" =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]] || continue
    [ -z "$rest" ] || continue
    [[ "$name" == "$prefix"_* ]] || name="${prefix}_$name"
    emit "$name" "$value" "${unit:-count}"
    n=$((n + 1))
  done < "$file"
  [ "$n" -gt 0 ]
}
has_bin() { [ -x "$BIN/$1" ]; }

# ---------------------------------------------------------------- cleanup
PG_DIR=""
PG_BIN=""
LAB_VAR=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$LAB_VAR" ] && [ -d "$LAB_VAR/run" ]; then
    DATALAB_VAR="$LAB_VAR" DATALAB_BIN="$BIN" timeout 60 "$ROOT/scripts/lab.sh" down >>"$LOG" 2>&1 || true
    # Anything lab.sh did not know about (a gateway started by this script).
    for f in "$LAB_VAR"/run/*.pid; do
      [ -f "$f" ] || continue
      kill -TERM "$(cat "$f")" 2>/dev/null || true
    done
  fi
  if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
    su postgres -c "$PG_BIN/pg_ctl -D $PG_DIR/data stop -m fast" >>"$LOG" 2>&1 || true
  fi
  if [ "$KEEP" = 1 ]; then
    echo "bench: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- machine info
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_KB=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
note "scale $SCALE: $ROWS rows, $SCHOOLS schools; $(nproc) cores ($CPU_MODEL), $((MEM_KB / 1024)) MiB; temp $TMP"

# ----------------------------------------------------------- prerequisites
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
APT_UPDATED=0
apt_install() {
  [ "$APT_UPDATED" = 1 ] || { $SUDO apt-get update -qq >>"$LOG" 2>&1; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >>"$LOG" 2>&1
}
command -v jq >/dev/null || apt_install jq || { echo "bench: jq is required" >&2; exit 1; }

NEEDED=(datalab datalab-synth datalab-bench-client datalab-bench-hmac)
missing=()
for b in "${NEEDED[@]}" datalab-audit datalab-catalogue datalab-query datalab-pseudonymisation \
         datalab-ingestion datalab-gateway; do
  has_bin "$b" || missing+=("$b")
done
if [ ${#missing[@]} -gt 0 ] && [ "$BUILD" = 1 ] && [ -z "${DATALAB_BIN:-}" ]; then
  note "building (missing: ${missing[*]}); log in $TMP/build.log"
  timeout "$(tlimit 3600)" "$ROOT/scripts/setup.sh" >"$TMP/build.log" 2>&1 \
    || note "scripts/setup.sh failed (see $TMP/build.log); measuring what was built"
fi
has_bin datalab-synth || { echo "bench: $BIN/datalab-synth is missing; build first (scripts/setup.sh)" >&2; exit 1; }

# ------------------------------------------------------------------- data
CSV="$CACHE/data/pupils-s$SCALE.csv"
OUT_CSV="$CACHE/data/outcomes-s$SCALE.csv"
if [ ! -s "$CSV" ]; then
  note "generating $ROWS rows into $CSV"
  "$BIN/datalab-synth" --flat "$CSV.tmp" --rows "$ROWS" --schools "$SCHOOLS" --seed 1 >>"$LOG" 2>&1 \
    || { echo "bench: datalab-synth failed (see $LOG)" >&2; exit 1; }
  mv "$CSV.tmp" "$CSV"
  rm -f "$OUT_CSV"
fi
if [ ! -s "$OUT_CSV" ]; then
  # The JOIN's second dataset: the same pupils' KS4 outcomes, one row each.
  { echo "pupil_id,ks4_maths,ks4_english"; tail -n +2 "$CSV" | cut -d, -f1,9,10; } > "$OUT_CSV.tmp"
  mv "$OUT_CSV.tmp" "$OUT_CSV"
fi
DATA_ROWS=$(($(wc -l < "$CSV") - 1))
emit bench_rows "$DATA_ROWS" rows
emit bench_csv_bytes "$(stat -c %s "$CSV")" bytes

# The five canonical research queries, as the lab's SQL and as the peers'
# (PostgreSQL and DuckDB both accept the standard ordered-set MEDIAN).
QUERIES=(groupby where_median proportion band join)
declare -A LAB_SQL PEER_SQL
LAB_SQL[groupby]="SELECT school_urn, fsm, COUNT(*), AVG(attendance_pct), MEDIAN(attendance_pct) FROM bench_pupils GROUP BY school_urn, fsm"
PEER_SQL[groupby]="SELECT school_urn, fsm, COUNT(*), AVG(attendance_pct), percentile_cont(0.5) WITHIN GROUP (ORDER BY attendance_pct) FROM pupils GROUP BY school_urn, fsm"
LAB_SQL[where_median]="SELECT sen, COUNT(*), MEDIAN(attendance_pct) FROM bench_pupils WHERE fsm = 'Y' AND gender = 'F' GROUP BY sen"
PEER_SQL[where_median]="SELECT sen, COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY attendance_pct) FROM pupils WHERE fsm = 'Y' AND gender = 'F' GROUP BY sen"
LAB_SQL[proportion]="SELECT ethnicity, COUNT(*), PROPORTION(grade_maths >= 4) FROM bench_pupils GROUP BY ethnicity"
PEER_SQL[proportion]="SELECT ethnicity, COUNT(*), AVG(CASE WHEN grade_maths >= 4 THEN 1.0 ELSE 0.0 END) FROM pupils GROUP BY ethnicity"
LAB_SQL[band]="SELECT BAND(attendance_pct, 0, 100, 10) AS band, COUNT(*), AVG(grade_maths) FROM bench_pupils GROUP BY BAND(attendance_pct, 0, 100, 10)"
PEER_SQL[band]="SELECT floor(attendance_pct / 10) * 10 AS band, COUNT(*), AVG(grade_maths) FROM pupils GROUP BY 1"
LAB_SQL[join]="SELECT school_urn, COUNT(*), AVG(ks4_maths) FROM bench_pupils JOIN bench_outcomes USING (pupil) GROUP BY school_urn"
PEER_SQL[join]="SELECT p.school_urn, COUNT(*), AVG(o.ks4_maths) FROM pupils p JOIN outcomes o USING (pupil_id) GROUP BY p.school_urn"

percentiles() {  # percentiles PREFIX FILE-of-ms-values -> PREFIX_p50/_p95 (nearest rank)
  local p50 p95
  p50=$(sort -g "$2" | awk '{ v[NR] = $1 } END { r = int(0.5 * NR); if (r < 0.5 * NR) r++; if (r < 1) r = 1; printf "%.2f", v[r] }')
  p95=$(sort -g "$2" | awk '{ v[NR] = $1 } END { r = int(0.95 * NR); if (r < 0.95 * NR) r++; if (r < 1) r = 1; printf "%.2f", v[r] }')
  emit "$1_p50" "$p50" ms
  emit "$1_p95" "$p95" ms
}

# ------------------------------------------------ in-process drivers (first,
# alone on the machine: they are CPU-bound and must not share it)
if stage drivers; then
  if has_bin datalab-bench-hmac; then
    timeout "$(tlimit 120)" "$BIN/datalab-bench-hmac" --ids=1000000 > "$TMP/hmac.out" 2>>"$LOG" \
      && collect openssl "$TMP/hmac.out" || skipped openssl_hmac "datalab-bench-hmac failed"
  else
    skipped openssl_hmac "datalab-bench-hmac not built"
  fi

  run_driver() {  # run_driver PREFIX BINARY TIMEOUT [flags that exist in its --help]...
    local prefix=$1 exe=$2 limit=$3; shift 3
    if ! has_bin "$exe"; then skipped "$prefix" "$exe not built"; return; fi
    local help flags=() f
    help=$("$BIN/$exe" --helpfull 2>&1 || true)
    for f in "$@"; do  # pass a flag only if the driver declares it
      grep -q -- "-${f%%=*}\b" <<<"$help" && flags+=("--$f")
    done
    note "running $exe ${flags[*]}"
    if timeout --kill-after=10 "$limit" "$BIN/$exe" "${flags[@]}" > "$TMP/$prefix.out" 2>>"$LOG"; then
      collect "$prefix" "$TMP/$prefix.out" || skipped "$prefix" "$exe printed no figures"
    else
      collect "$prefix" "$TMP/$prefix.out" || true
      skipped "$prefix" "$exe failed or timed out after ${limit}s (see log)"
    fi
  }
  mkdir -p "$TMP/driver-data"
  run_driver audit datalab-audit-bench "$(tlimit 240)" "dir=$TMP/driver-data" threads=32 append_seconds=5
  run_driver pseudo datalab-pseudo-bench "$(tlimit 240)" "dir=$TMP/driver-data" ids=1000000
  run_driver query datalab-query-bench "$(tlimit 300)" "dir=$TMP/driver-data" "rows=$ROWS" threads=2

  # The engine driver prints its own table; translate its median lines.
  if has_bin datalab-engine-bench; then
    note "running datalab-engine-bench --rows=$ROWS --join_rows=$ROWS"
    if timeout --kill-after=10 "$(tlimit 300)" "$BIN/datalab-engine-bench" --rows="$ROWS" \
         --join_rows="$ROWS" --threads=2 --reps=5 > "$TMP/engine.raw" 2>>"$LOG"; then
      awk '
        /^GROUP BY school_urn, fsm: COUNT, AVG, MEDIAN/ { n = "engine_groupby_median" }
        /^GROUP BY school_urn, fsm: COUNT, AVG / && !/MEDIAN/ { n = "engine_groupby_count_avg" }
        /^WHERE/ { n = "engine_where_groupby_median" }
        /^JOIN.*GROUP BY/ { n = "engine_join_median" }
        /^JOIN/ && !/GROUP BY/ { n = "engine_join_count_median" }
        n != "" { for (i = 1; i <= NF; i++) if ($i == "median") { print n, $(i + 1), "ms"; break } n = "" }
        /^[a-z][a-z0-9_]* [-0-9.]+ [^ ]+$/ { print }
      ' "$TMP/engine.raw" > "$TMP/engine.out"
      collect engine "$TMP/engine.out" || skipped engine "datalab-engine-bench printed nothing usable"
    else
      skipped engine "datalab-engine-bench failed or timed out"
    fi
  else
    skipped engine "datalab-engine-bench not built"
  fi
fi

# --------------------------------------------------------------- PostgreSQL
free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}
PG_READY=0  # set once the postgres stage has a cluster with the tables
pg_start() {
  su postgres -c "$PG_BIN/pg_ctl -D $PG_DIR/data -l $PG_DIR/log -w -t 60 -o '-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_DIR -c max_parallel_workers_per_gather=2' start" >>"$LOG" 2>&1
}
pg_stop() { su postgres -c "$PG_BIN/pg_ctl -D $PG_DIR/data stop -m fast" >>"$LOG" 2>&1 || true; }
# COPY of the pupil file into an emptied table; prints its milliseconds.
pg_copy_ms() {
  "${PSQL[@]}" -c "TRUNCATE pupils_paired" >>"$LOG" 2>&1 || return 1
  printf '\\timing on\nCOPY pupils_paired FROM %s WITH (FORMAT csv, HEADER true);\n' "'$TMP/pupils.csv'" |
    timeout "$(tlimit 300)" "${PSQL[@]}" 2>>"$LOG" | awk '/^Time:/ { print $2 }'
}
if stage postgres; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$PG_BIN" ]; then
    note "installing postgresql"
    apt_install postgresql || true
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  fi
  if [ -z "$PG_BIN" ] || [ "$(id -u)" -ne 0 ] || ! id postgres >/dev/null 2>&1; then
    skipped postgres "PostgreSQL not installed, or not running as root (needs the postgres user)"
  else
    PG_DIR="$TMP/pg"
    PG_PORT=$(free_port)
    mkdir -p "$PG_DIR"; chown postgres "$PG_DIR"
    # The CSVs where the server process (user postgres) can read them.
    cp "$CSV" "$TMP/pupils.csv"; cp "$OUT_CSV" "$TMP/outcomes.csv"; chmod 644 "$TMP"/*.csv
    if su postgres -c "$PG_BIN/initdb -D $PG_DIR/data -A trust -U postgres" >>"$LOG" 2>&1 &&
       pg_start; then
      PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
      emit postgres_version "$("${PSQL[@]}" -tAc 'SHOW server_version_num')" version
      "${PSQL[@]}" >>"$LOG" 2>&1 <<'SQL'
CREATE TABLE pupils (pupil_id text, school_urn integer, nc_year text, gender text, fsm text,
  sen text, ethnicity text, attendance_pct double precision, grade_maths integer, grade_english integer);
CREATE TABLE outcomes (pupil_id text, ks4_maths integer, ks4_english integer);
CREATE TABLE pupils_paired (LIKE pupils);
SQL
      PG_READY=1
      copy_ms=$(printf '\\timing on\nCOPY pupils FROM %s WITH (FORMAT csv, HEADER true);\n' "'$TMP/pupils.csv'" |
        timeout "$(tlimit 300)" "${PSQL[@]}" 2>>"$LOG" | awk '/^Time:/ { print $2 }')
      if [ -n "$copy_ms" ]; then
        emit postgres_copy_rows_per_second "$(awk -v r="$DATA_ROWS" -v ms="$copy_ms" 'BEGIN { printf "%.0f", r / (ms / 1000) }')" rows/s
        emit postgres_copy_seconds "$(awk -v ms="$copy_ms" 'BEGIN { printf "%.3f", ms / 1000 }')" s
        "${PSQL[@]}" -c "COPY outcomes FROM '$TMP/outcomes.csv' WITH (FORMAT csv, HEADER true)" >>"$LOG" 2>&1
        "${PSQL[@]}" -c "ANALYZE" >>"$LOG" 2>&1
        for q in "${QUERIES[@]}"; do
          { echo '\timing on'; echo '\o /dev/null'; echo 'SET max_parallel_workers_per_gather = 2;'
            for _ in $(seq 0 "$RUNS"); do echo "${PEER_SQL[$q]};"; done; } |
            timeout "$(tlimit 600)" "${PSQL[@]}" 2>>"$LOG" | awk '/^Time:/ { print $2 }' | tail -n +2 | tail -n "$RUNS" > "$TMP/pg_$q.ms"
          if [ "$(wc -l < "$TMP/pg_$q.ms")" -eq "$RUNS" ]; then
            percentiles "postgres_$q" "$TMP/pg_$q.ms"
          else
            skipped "postgres_$q" "query failed or timed out (see log)"
          fi
        done
      else
        skipped postgres "COPY failed (see $LOG)"
        PG_READY=0
      fi
      pg_stop
    else
      skipped postgres "initdb or pg_ctl start failed (see log)"
    fi
  fi
fi

# ------------------------------------------------------------------ DuckDB
if stage duckdb; then
  NODE_DIR="$CACHE/node"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    note "installing nodejs and npm"; apt_install nodejs npm || true
  fi
  if command -v npm >/dev/null && [ ! -d "$NODE_DIR/node_modules/@duckdb/node-api" ]; then
    note "npm install @duckdb/node-api into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    (cd "$NODE_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } &&
       timeout 600 npm install --no-audit --no-fund @duckdb/node-api) >>"$LOG" 2>&1 || true
  fi
  if [ -d "$NODE_DIR/node_modules/@duckdb/node-api" ]; then
    # ES modules resolve packages next to the script: run a copy from there.
    cp "$ROOT/bench/duckdb_bench.mjs" "$NODE_DIR/duckdb_bench.mjs"
    args=()
    for q in "${QUERIES[@]}"; do args+=(--arg "$q" "${PEER_SQL[$q]}"); done
    jq -n '$ARGS.named' "${args[@]}" > "$TMP/peer_queries.json"
    note "running DuckDB ($(cd "$NODE_DIR" && node -e "console.log(require('@duckdb/node-api/package.json').version)" 2>/dev/null || echo '?'))"
    if (cd "$NODE_DIR" && timeout --kill-after=10 "$(tlimit 600)" node duckdb_bench.mjs --pupils "$CSV" \
          --outcomes "$OUT_CSV" --queries "$TMP/peer_queries.json" --runs "$RUNS" --threads 2) \
          > "$TMP/duckdb.out" 2>>"$LOG"; then
      collect duckdb "$TMP/duckdb.out" || skipped duckdb "duckdb_bench.mjs printed nothing"
    else
      collect duckdb "$TMP/duckdb.out" || true
      skipped duckdb "duckdb_bench.mjs failed or timed out (see log)"
    fi
  else
    skipped duckdb "@duckdb/node-api could not be installed (npm unavailable?)"
  fi
fi

# --------------------------------------------------------------------- lab
LAB_OK=0
if stage lab; then
  LAB_VAR="$TMP/lab"
  mkdir -p "$LAB_VAR"
  # The gateway's per-user rate limit (200/s by default) would measure the
  # limiter, not the gateway: this wrapper raises it for the bench only.
  # Everything else is the real binaries, started by scripts/lab.sh.
  LAB_BIN="$TMP/labbin"
  mkdir -p "$LAB_BIN"
  for f in "$BIN"/datalab*; do ln -sf "$f" "$LAB_BIN/$(basename "$f")"; done
  if has_bin datalab-gateway; then
    rm -f "$LAB_BIN/datalab-gateway"
    printf '#!/bin/sh\nexec %q "$@" --rate_limit_per_second=1000000 --rate_limit_burst=1000000 --max_concurrent_queries=64\n' \
      "$BIN/datalab-gateway" > "$LAB_BIN/datalab-gateway"
    chmod 755 "$LAB_BIN/datalab-gateway"
  fi
  export DATALAB_VAR="$LAB_VAR"
  export DATALAB_ENV="$LAB_VAR/lab.env"
  CLI="$BIN/datalab"
  if DATALAB_BIN="$LAB_BIN" timeout 120 "$ROOT/scripts/lab.sh" up >>"$LOG" 2>&1; then
    LAB_OK=1
  else
    # Not every service exists yet: start the gateway over those that do,
    # with the same flags as scripts/lab.sh, so the front door can be measured.
    note "scripts/lab.sh up failed (see log); trying a partial lab"
    RUNDIR="$LAB_VAR/run"
    port_of() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$RUNDIR/$1.ports" 2>/dev/null; }
    alive() { [ -f "$RUNDIR/$1.pid" ] && kill -0 "$(cat "$RUNDIR/$1.pid")" 2>/dev/null; }
    tgt() { if alive "$1"; then echo "127.0.0.1:$(port_of "$1" grpc_port)"; else echo "127.0.0.1:9"; fi; }
    if alive audit && alive catalogue && has_bin datalab-gateway && ! alive gateway; then
      rm -f "$RUNDIR/gateway.ports"
      nohup "$LAB_BIN/datalab-gateway" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
        --health_listen=127.0.0.1:0 --port_file="$RUNDIR/gateway.ports" \
        --tls_cert="$LAB_VAR/pki/gateway.pem" --tls_key="$LAB_VAR/pki/gateway.key" \
        --tls_ca="$LAB_VAR/pki/ca.pem" --data_dir="$LAB_VAR/data/gateway" \
        --require_client_cert=false --audit_target="$(tgt audit)" \
        --assertion_signing_key="$LAB_VAR/secrets/assertion.key" \
        --jwks_file="$LAB_VAR/dev-idp/jwks.json" --oidc_issuer="https://dev-idp.datalab.local" \
        --oidc_audience=datalab --catalogue_target="$(tgt catalogue)" \
        --ingestion_target="$(tgt ingestion)" --pseudonymisation_target="$(tgt pseudonymisation)" \
        --query_target="$(tgt query)" --audit_target_public="$(tgt audit)" \
        >>"$LAB_VAR/log/gateway.log" 2>&1 </dev/null &
      echo $! > "$RUNDIR/gateway.pid"
      disown $! 2>/dev/null || true  # its exit is checked, not reported by bash
      for _ in $(seq 1 150); do [ -s "$RUNDIR/gateway.ports" ] && break; sleep 0.1; done
      if [ -s "$RUNDIR/gateway.ports" ]; then
        {
          echo "DATALAB_GATEWAY=127.0.0.1:$(port_of gateway grpc_port)"
          echo "DATALAB_CA=$LAB_VAR/pki/ca.pem"
          echo "DATALAB_DEV=1"
          echo "DATALAB_DEV_IDP=$LAB_VAR/dev-idp"
          echo "DATALAB_TOKEN_DIR=$LAB_VAR/tokens"
          echo "DATALAB_OIDC_ISSUER=https://dev-idp.datalab.local"
          echo "DATALAB_OIDC_AUDIENCE=datalab"
          for svc in audit catalogue query pseudonymisation ingestion gateway; do
            alive "$svc" || continue
            up=$(echo "$svc" | tr '[:lower:]' '[:upper:]')
            echo "DATALAB_${up}_ADDR=127.0.0.1:$(port_of "$svc" grpc_port)"
            echo "DATALAB_${up}_PID=$(cat "$RUNDIR/$svc.pid")"
          done
        } > "$LAB_VAR/lab.env"
        LAB_OK=2
        for svc in query pseudonymisation ingestion; do
          alive "$svc" || skipped "lab_$svc" "datalab-$svc is not built or did not start"
        done
      fi
    fi
    [ "$LAB_OK" = 0 ] && skipped lab "the lab did not start (see $LOG and $LAB_VAR/log)"
  fi
fi

labvar() { sed -n "s/^$1=//p" "$LAB_VAR/lab.env" 2>/dev/null; }
cli_has() { "$CLI" "$@" --help >/dev/null 2>&1; }
as() { local who=$1; shift; timeout 120 "$CLI" "$@" --as "$who" >>"$LOG" 2>&1; }

if [ "$LAB_OK" != 0 ]; then
  GW=$(labvar DATALAB_GATEWAY)
  CA=$(labvar DATALAB_CA)
  TOKENS=$(labvar DATALAB_TOKEN_DIR)
  for p in "bench-admin admin" "bench-steward data_steward" "bench-approver project_approver" \
           "bench-researcher researcher" "bench-dpo dpo"; do
    set -- $p
    timeout 30 "$CLI" dev login --as "$1" --role "$2" >>"$LOG" 2>&1 || note "dev login $1 failed"
  done

  # Set-up through the CLI (each step only if the command exists yet).
  SETUP_OK=1
  step() {  # step NAME COMMAND... : run a set-up command, note failure
    local name=$1; shift
    if ! "$@"; then note "set-up step '$name' failed (see log)"; SETUP_OK=0; fi
  }
  if cli_has users create; then
    step user-researcher as bench-admin users create bench-researcher --display-name "Bench Researcher" \
      --roles researcher --scheme "ONS Accredited Researcher" --training-date 2026-01-01 --expiry-date 2030-01-01
  fi
  if cli_has domains create; then
    step domain as bench-admin domains create --domain pupil --kind upn --reversible=false
  else
    skipped lab_domain "no 'datalab domains create' command yet"
  fi
  cat > "$TMP/bench_pupils.yaml" <<'YAML'
dataset_id: bench_pupils
dataset:
  title: Bench pupils (synthetic, 10 columns)
  description: The PEERS.md-shaped synthetic pupil file used by bench/run.sh.
  source_system: OTHER_SOURCE
  topic: CENSUS
  lawful_basis: "Art. 6(1)(e) public task"
  retention_days: 30
  subject_kind: PUPIL
  identifier_domain: domains/pupil
schema:
  columns:
    - {name: pupil_id, type: STRING, classification: DIRECT_IDENTIFIER, treatment: PSEUDONYMISE, subject_key: true, required: true}
    - {name: school_urn, type: STRING, classification: QUASI_IDENTIFIER, treatment: KEEP, required: true}
    - name: nc_year
      type: CODE
      classification: NON_IDENTIFYING
      treatment: KEEP
      codes: [{code: R}, {code: "1"}, {code: "2"}, {code: "3"}, {code: "4"}, {code: "5"}, {code: "6"}, {code: "7"}, {code: "8"}, {code: "9"}, {code: "10"}, {code: "11"}, {code: "12"}, {code: "13"}]
    - {name: gender, type: CODE, classification: QUASI_IDENTIFIER, treatment: KEEP, codes: [{code: M}, {code: F}]}
    - {name: fsm, type: CODE, classification: QUASI_IDENTIFIER, treatment: KEEP, codes: [{code: Y}, {code: N}]}
    - {name: sen, type: CODE, classification: SPECIAL_CATEGORY, treatment: KEEP, codes: [{code: N}, {code: K}, {code: E}]}
    - {name: ethnicity, type: STRING, classification: SPECIAL_CATEGORY, treatment: KEEP}
    - {name: attendance_pct, type: DECIMAL, classification: NON_IDENTIFYING, treatment: KEEP, has_range: true, min_value: 0, max_value: 100}
    - {name: grade_maths, type: INTEGER, classification: NON_IDENTIFYING, treatment: KEEP}
    - {name: grade_english, type: INTEGER, classification: NON_IDENTIFYING, treatment: KEEP}
YAML
  cat > "$TMP/bench_outcomes.yaml" <<'YAML'
dataset_id: bench_outcomes
dataset:
  title: Bench KS4 outcomes (synthetic)
  description: The JOIN partner of bench_pupils, one row per pupil.
  source_system: OTHER_SOURCE
  topic: ATTAINMENT
  lawful_basis: "Art. 6(1)(e) public task"
  retention_days: 30
  subject_kind: PUPIL
  identifier_domain: domains/pupil
schema:
  columns:
    - {name: pupil_id, type: STRING, classification: DIRECT_IDENTIFIER, treatment: PSEUDONYMISE, subject_key: true, required: true}
    - {name: ks4_maths, type: INTEGER, classification: NON_IDENTIFYING, treatment: KEEP}
    - {name: ks4_english, type: INTEGER, classification: NON_IDENTIFYING, treatment: KEEP}
YAML
  cat > "$TMP/bench_project.yaml" <<YAML
project_id: bench
project:
  title: Benchmark project
  purpose: Measures query latency for bench/run.sh on synthetic data.
  lawful_basis: "Art. 6(1)(e) public task"
  dpia_reference: DPIA-BENCH
  datasets:
    - dataset: datasets/bench_pupils
      columns: [school_urn, nc_year, gender, fsm, sen, ethnicity, attendance_pct, grade_maths, grade_english]
    - dataset: datasets/bench_outcomes
      columns: [ks4_maths, ks4_english]
  dates:
    start_date: "$(date +%Y)-01-01"
    end_date: "$(( $(date +%Y) + 1 ))-12-31"
  disclosure: {threshold: 10, rounding_base: 5, dominance_n: 2, dominance_k_percent: 90, p_percent: 10}
YAML
  if cli_has catalogue create && cli_has projects create; then
    step dataset-pupils as bench-steward catalogue create --file "$TMP/bench_pupils.yaml"
    step dataset-outcomes as bench-steward catalogue create --file "$TMP/bench_outcomes.yaml"
    step project as bench-researcher projects create --file "$TMP/bench_project.yaml"
    step approve as bench-approver projects approve bench --comment "benchmark"
  else
    skipped lab_catalogue_setup "no 'datalab catalogue create' / 'projects create' commands yet"
    SETUP_OK=0
  fi

  # One ingest round: for round k > 1 a dataset and domain of its own; a
  # COPY into an emptied table (when PostgreSQL is there) right before the
  # lab's upload. Prints the round's figures; false when the upload failed.
  ingest_round() {
    local k=$1 ds=bench_pupils pg_ms="" lab_s t0 t1
    if [ "$k" -gt 1 ]; then
      ds="bench_pupils_r$k"
      sed -e "s/^dataset_id: bench_pupils\$/dataset_id: $ds/" \
          -e "s|identifier_domain: domains/pupil\$|identifier_domain: domains/pupilround$k|" \
          "$TMP/bench_pupils.yaml" > "$TMP/$ds.yaml"
      if ! as bench-admin domains create --domain "pupilround$k" --kind upn --reversible=false ||
         ! as bench-steward catalogue create --file "$TMP/$ds.yaml"; then
        note "could not create $ds; ingest round $k skipped"
        return 1
      fi
    fi
    if [ "$PG_READY" = 1 ] && pg_start; then
      pg_ms=$(pg_copy_ms) || pg_ms=""
      pg_stop
    fi
    t0=$(date +%s.%N)
    if ! timeout "$(tlimit 900)" "$CLI" upload "$CSV" --as bench-steward --dataset "$ds" \
         --school trust-wide --source OTHER --quiet >>"$LOG" 2>&1; then
      if [ "$k" = 1 ]; then
        skipped lab_ingest "datalab upload failed or timed out (see log)"
      else
        note "ingest round $k: datalab upload failed or timed out (see log)"
      fi
      return 1
    fi
    t1=$(date +%s.%N)
    lab_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    emit "lab_ingest_round${k}_seconds" "$lab_s" s
    if [ -n "$pg_ms" ]; then
      emit "postgres_copy_round${k}_seconds" "$(awk -v ms="$pg_ms" 'BEGIN { printf "%.3f", ms / 1000 }')" s
      # rows/s over rows/s: COPY's time over the lab's.
      ratio "ingest_vs_pg_copy_round$k" "$(awk -v ms="$pg_ms" -v s="$lab_s" 'BEGIN { printf "%.3f", (ms / 1000) / s }')"
    fi
    echo "$lab_s $pg_ms" >> "$TMP/ingest_rounds.txt"
  }

  # Ingest end to end: CLI -> gateway -> ingestion -> pseudonymisation -> query store.
  INGEST_OK=0
  if [ "$LAB_OK" != 1 ]; then
    skipped lab_ingest "the full lab is not running (some services missing)"
  elif ! cli_has upload; then
    skipped lab_ingest "no 'datalab upload' command yet"
  elif [ "$SETUP_OK" != 1 ]; then
    skipped lab_ingest "dataset/project set-up failed (see log)"
  else
    # The ingest ratio is measured in back-to-back pairs: PostgreSQL's COPY
    # of the same file into an emptied table, then the lab's upload, three
    # times (BENCH_INGEST_ROUNDS). This VM's speed drifts by a third over
    # minutes, and the postgres stage's COPY ran minutes earlier; the
    # median of the paired ratios is the figure. Round 1 loads
    # bench_pupils (the queries' dataset) here; rounds 2 and up run after
    # every other lab measurement (so their data cannot affect them), into
    # datasets of their own in identifier domains of their own, so that
    # every round's pupils are new subjects to the query store, as in
    # round 1. PostgreSQL runs only for its COPYs.
    ROUNDS=1
    if [ "$PG_READY" = 1 ]; then ROUNDS=${BENCH_INGEST_ROUNDS:-3}; fi
    : > "$TMP/ingest_rounds.txt"
    if ingest_round 1; then
      if timeout "$(tlimit 900)" "$CLI" upload "$OUT_CSV" --as bench-steward --dataset bench_outcomes \
           --school trust-wide --source OTHER --quiet >>"$LOG" 2>&1; then
        INGEST_OK=1
      else
        INGEST_OK=2
        note "upload of bench_outcomes failed; the JOIN is skipped"
      fi
    fi
  fi

  # Let the lab finish its post-load work first, as PostgreSQL gets its
  # ANALYZE: RocksDB compacts the freshly written versions and ingestion
  # deletes the staged upload, which would otherwise take a core from the
  # first timed queries. Waits until the services use under 5% of a core
  # over half a second (at most 60 s) and reports how long that took.
  lab_cpu_ticks() {
    local total=0 svc up pid
    for svc in audit catalogue query pseudonymisation ingestion gateway; do
      up=$(echo "$svc" | tr '[:lower:]' '[:upper:]')
      pid=$(labvar "DATALAB_${up}_PID")
      [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || continue
      total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$total"
  }
  if [ "$INGEST_OK" != 0 ]; then
    settle_t0=$(date +%s.%N)
    hz=$(getconf CLK_TCK)
    for _ in $(seq 1 120); do
      a=$(lab_cpu_ticks); sleep 0.5; b=$(lab_cpu_ticks)
      [ $(( (b - a) * 100 )) -lt $(( hz * 5 / 2 )) ] && break
    done
    emit lab_settle_seconds "$(awk -v a="$settle_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" s
  fi

  # The five queries through the gateway, by the C++ client (one TLS channel).
  if [ "$INGEST_OK" = 0 ]; then
    skipped lab_queries "no data ingested"
  elif ! has_bin datalab-bench-client; then
    skipped lab_queries "datalab-bench-client not built"
  else
    for q in "${QUERIES[@]}"; do
      if [ "$q" = join ] && [ "$INGEST_OK" != 1 ]; then skipped lab_join "bench_outcomes not loaded"; continue; fi
      if timeout --kill-after=10 "$(tlimit 600)" "$BIN/datalab-bench-client" --mode=query --target="$GW" \
           --ca="$CA" --token_file="$TOKENS/bench-researcher" --project=projects/bench \
           --sql="${LAB_SQL[$q]}" --runs="$RUNS" --name="lab_$q" > "$TMP/lab_$q.out" 2>>"$LOG"; then
        collect lab "$TMP/lab_$q.out" || skipped "lab_$q" "no figures"
      else
        skipped "lab_$q" "RunQuery failed (see log)"
      fi
    done
  fi

  # Authenticated catalogue reads: through the gateway, then straight to the
  # catalogue with the gateway's own mTLS certificate and assertion key.
  if ! has_bin datalab-bench-client; then
    skipped gateway "datalab-bench-client not built"
  else
    CAT=$(labvar DATALAB_CATALOGUE_ADDR)
    if timeout 120 "$BIN/datalab-bench-client" --target="$GW" --ca="$CA" \
         --token_file="$TOKENS/bench-researcher" --method=trust_floor --threads=2 --inflight=8 --channels=4 \
         --seconds=10 --latency_samples=2000 --name=gateway > "$TMP/gw.out" 2>>"$LOG"; then
      gw_pid=$(labvar DATALAB_GATEWAY_PID)
      if [ -n "$gw_pid" ] && ! kill -0 "$gw_pid" 2>/dev/null; then
        # The sequential latency phase ran before the load; the rate did not.
        grep -v -e _calls_per_second -e _failed_calls "$TMP/gw.out" > "$TMP/gw.kept"
        collect gateway "$TMP/gw.kept"
        why=$(grep -m1 -o 'assertion failed.*\|Check failed.*\|terminate called.*' "$LAB_VAR/log/gateway.log" | cut -c1-120)
        skipped gateway_calls_per_second "the gateway exited during the load phase: ${why:-see $LAB_VAR/log/gateway.log}"
      else
        collect gateway "$TMP/gw.out"
      fi
    else
      skipped gateway "calls through the gateway failed (see log)"
    fi
    # The gateway's own cost per forwarded call: its CPU time and context
    # switches (all its threads, from /proc) over 4,000 sequential reads
    # (plus the client's first call and 200 warm-up calls).
    gw_pid=$(labvar DATALAB_GATEWAY_PID)
    if [ -n "$gw_pid" ] && [ -r "/proc/$gw_pid/stat" ]; then
      gw_cost() {
        awk '{ printf "%d ", $14 + $15 }' "/proc/$gw_pid/stat"
        cat /proc/"$gw_pid"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s }'
      }
      read -r c0 s0 <<<"$(gw_cost)"
      if timeout 120 "$BIN/datalab-bench-client" --target="$GW" --ca="$CA" \
           --token_file="$TOKENS/bench-researcher" --method=trust_floor --threads=1 --channels=1 \
           --seconds=0 --latency_samples=4000 --name=gateway_sequential >/dev/null 2>>"$LOG"; then
        read -r c1 s1 <<<"$(gw_cost)"
        emit gateway_cpu_per_call "$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" \
          'BEGIN { printf "%.0f", (b - a) / hz * 1e6 / 4201 }')" us
        emit gateway_context_switches_per_call "$(awk -v a="$s0" -v b="$s1" \
          'BEGIN { printf "%.1f", (b - a) / 4201 }')" switches
      else
        skipped gateway_cpu_per_call "sequential calls through the gateway failed (see log)"
      fi
    fi
    if [ -n "$CAT" ] && timeout 120 "$BIN/datalab-bench-client" --target="$CAT" --ca="$CA" \
         --cert="$LAB_VAR/pki/gateway.pem" --key="$LAB_VAR/pki/gateway.key" \
         --assertion_key="$LAB_VAR/secrets/assertion.key" --method=trust_floor --threads=2 --inflight=8 \
         --channels=4 --seconds=10 --latency_samples=2000 --name=catalogue_direct > "$TMP/direct.out" 2>>"$LOG"; then
      collect catalogue_direct "$TMP/direct.out"
    else
      skipped catalogue_direct "direct calls to the catalogue failed (see log)"
    fi
    a=$(fig gateway_latency_p50); b=$(fig catalogue_direct_latency_p50)
    if [ -n "$a" ] && [ -n "$b" ]; then
      emit gateway_added_latency_p50 "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", a - b }')" us
    fi
  fi

  # Pseudonymisation over gRPC: 1M valid UPNs on one PseudonymiseStream,
  # straight to the service with ingestion's mTLS identity (as ingestion
  # calls it), into the bench's domain.
  PS=$(labvar DATALAB_PSEUDONYMISATION_ADDR)
  if ! has_bin datalab-bench-client || [ -z "$PS" ]; then
    skipped pseudo_grpc "no pseudonymisation service or bench client"
  elif timeout 300 "$BIN/datalab-bench-client" --mode=pseudonymise --target="$PS" --ca="$CA" \
         --cert="$LAB_VAR/pki/ingestion.pem" --key="$LAB_VAR/pki/ingestion.key" \
         --domain=domains/pupil --ids=$(awk -v s="$SCALE" 'BEGIN { printf "%d", 1000000 * (s < 1 ? s : 1) }') \
         --name=pseudo_grpc_stream > "$TMP/pseudo_grpc.out" 2>>"$LOG"; then
    collect pseudo_grpc_stream "$TMP/pseudo_grpc.out"
  else
    skipped pseudo_grpc "PseudonymiseStream failed (see log)"
  fi

  # Audit appends over gRPC: 32 clients, each with its own connection and
  # one AppendEvents call in flight, straight to the audit service with the
  # query service's mTLS identity (as every service's audit client calls
  # it); acknowledged means fsynced. With one event per call, and with
  # batches of 16 and 64: an outbox delivers what has queued, up to 256 per
  # call, so its batches grow with the load (#7's 100K/s is a heavy load).
  AU=$(labvar DATALAB_AUDIT_ADDR)
  if ! has_bin datalab-bench-client || [ -z "$AU" ]; then
    skipped audit_grpc "no audit service or bench client"
  else
    for per_call in 1 16 64; do
      if timeout 120 "$BIN/datalab-bench-client" --mode=audit --target="$AU" --ca="$CA" \
           --cert="$LAB_VAR/pki/query.pem" --key="$LAB_VAR/pki/query.key" \
           --clients=32 --events_per_call=$per_call --seconds=10 \
           --name=audit_grpc_x$per_call > "$TMP/audit_grpc_$per_call.out" 2>>"$LOG"; then
        collect audit_grpc_x$per_call "$TMP/audit_grpc_$per_call.out"
      else
        skipped audit_grpc_x$per_call "AppendEvents failed (see log)"
      fi
    done
  fi

  # Peak RSS of each service over the whole run.
  for svc in audit catalogue query pseudonymisation ingestion gateway; do
    up=$(echo "$svc" | tr '[:lower:]' '[:upper:]')
    pid=$(labvar "DATALAB_${up}_PID")
    if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
      emit "rss_peak_$svc" "$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")" MiB
    fi
  done

  # The later ingest rounds (see the ingest section), then the lab's median
  # round.
  if [ "$INGEST_OK" != 0 ]; then
    for k in $(seq 2 "$ROUNDS"); do ingest_round "$k" || break; done
  fi
  if [ -s "$TMP/ingest_rounds.txt" ]; then
    lab_s=$(awk '{ print $1 }' "$TMP/ingest_rounds.txt" | median)
    emit lab_ingest_rows_per_second "$(awk -v r="$DATA_ROWS" -v s="$lab_s" 'BEGIN { printf "%.0f", r / s }')" rows/s
    emit lab_ingest_seconds "$lab_s" s
    emit lab_ingest_rounds "$(wc -l < "$TMP/ingest_rounds.txt")" rounds
  fi
fi

# ----------------------------------------------------------------- ratios
# Ingest: the median of the paired rounds' ratios when COPY ran beside the
# lab (see the lab stage), else the lab's ingest against the postgres
# stage's COPY.
paired=$(awk '$1 == "ratio" && $2 ~ /^ingest_vs_pg_copy_round[0-9]+$/ { print $3 }' "$FIG")
if [ -n "$paired" ]; then
  ratio ingest_vs_pg_copy "$(echo "$paired" | median | awk '{ printf "%.3f", $1 }')"
else
  ratio_of ingest_vs_pg_copy lab_ingest_rows_per_second postgres_copy_rows_per_second
fi
ratio_of duckdb_load_vs_pg_copy duckdb_load_rows_per_second postgres_copy_rows_per_second
for q in "${QUERIES[@]}"; do
  ratio_of "${q}_vs_duckdb" "lab_${q}_p50" "duckdb_${q}_p50"
  ratio_of "${q}_vs_postgres" "lab_${q}_p50" "postgres_${q}_p50"
done
# The engine alone (in process, its own synthetic table, no disclosure
# control) against DuckDB's GROUP BY with MEDIAN and JOIN on the CSV rows.
ratio_of engine_groupby_vs_duckdb engine_groupby_median duckdb_groupby_p50
ratio_of engine_join_vs_duckdb engine_join_median duckdb_join_p50
# Pseudonymisation: whichever in-process / streaming rate the driver prints.
pick() { awk -v re="$1" '$1 == "figure" && $2 ~ re && $4 ~ /(\/s|per_second)$/ && v == "" { v = $2 } END { if (v != "") print v }' "$FIG"; }
p_in=$(pick '^pseudo_.*(in_?process|inprocess).*')
[ -n "$p_in" ] && ratio_of pseudo_inprocess_vs_openssl "$p_in" openssl_hmac_per_second
p_st=$(pick '^pseudo_.*(grpc|stream).*')
[ -n "$p_st" ] && ratio_of pseudo_grpc_vs_openssl "$p_st" openssl_hmac_per_second
ratio_of gateway_vs_direct_calls gateway_calls_per_second catalogue_direct_calls_per_second

# ------------------------------------------------------------------ JSON
ELAPSED=$(( $(date +%s) - STARTED ))
emit bench_elapsed_seconds "$ELAPSED" s
# Other work on the machine skews every figure: record the 1-minute load.
emit machine_loadavg_start "$LOAD_START" load
emit machine_loadavg_end "$(cut -d' ' -f1 /proc/loadavg)" load
OUT="$ROOT/bench/results/$TS.json"
awk '
  $1 == "figure" { printf "F\t%s\t%s\t%s\n", $2, $3, $4 }
  $1 == "ratio" { printf "R\t%s\t%s\n", $2, $3 }
  $1 == "skipped" { name = $2; $1 = ""; $2 = ""; sub(/^  /, ""); printf "S\t%s\t%s\n", name, $0 }
' "$FIG" | jq -R -s \
  --arg ts "$TS" --arg scale "$SCALE" --argjson rows "$DATA_ROWS" --argjson runs "$RUNS" \
  --arg cpu "$CPU_MODEL" --argjson nproc "$(nproc)" --argjson mem_kb "$MEM_KB" \
  --arg commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg command "bench/run.sh --scale $SCALE --runs $RUNS" '
  [split("\n")[] | select(length > 0) | split("\t")] as $l |
  { timestamp: $ts, command: $command, git_commit: $commit,
    scale: ($scale | tonumber), rows: $rows, runs_per_query: $runs,
    machine: { nproc: $nproc, mem_total_kb: $mem_kb, cpu_model: $cpu },
    figures: ([$l[] | select(.[0] == "F") | { key: .[1], value: { value: (.[2] | tonumber), unit: .[3] } }] | from_entries),
    ratios: ([$l[] | select(.[0] == "R") | { key: .[1], value: (.[2] | tonumber? // .[2]) }] | from_entries),
    skipped: [$l[] | select(.[0] == "S") | { name: .[1], reason: .[2] }] }' > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
note "results in $OUT (${ELAPSED}s)"
