#!/usr/bin/env bash
# Crash consistency: kill -9 the ingestion, query and audit processes at
# random points while uploads and queries run, restart each with the same
# command line (ports pinned), and check after every iteration and at the end:
#   - no acknowledged upload lost: every COMMITTED job's version is stored
#     and registered with the same row count;
#   - no partial version visible: every stored version belongs to a
#     COMMITTED job and holds exactly the previous version plus that job's
#     rows;
#   - no released result without its audit event;
#   - the audit log verifies;
# and reports the time from restart to SERVING.
#   crash.sh [--iterations N]   (default 5, or $DATALAB_FAULT_ITERATIONS)
. "$(dirname "$0")/lib.sh"
ITER=${DATALAB_FAULT_ITERATIONS:-5}
[ "${1:-}" = "--iterations" ] && ITER=$2
e2e_init crash
lab_up
setup_data 4 crash
SEED=${DATALAB_FAULT_SEED:-$$}
RANDOM=$SEED
log "iterations $ITER, seed $SEED (DATALAB_FAULT_SEED=$SEED reproduces the kill schedule)"

VICTIMS=(ingestion query audit)
FILES=()
for u in $SCHOOLS; do FILES+=("census/$u.csv"); done
RELEASES=$VAR/releases.txt; : >"$RELEASES"
ACKED=$VAR/acked.txt; : >"$ACKED"
SERVING=()
Q="SELECT disadvantaged, COUNT(DISTINCT pupil) AS n FROM census GROUP BY disadvantaged"
Q2="SELECT sen_provision, AVG(sessions_possible) AS s FROM census JOIN attendance USING (pupil, term) GROUP BY sen_provision"

client_upload() {  # an upload of a census file again (allow-duplicate), recording an ack
  local f=$1 i=$2
  local u; u=$(basename "$f" .csv)
  timeout -k 5 90 "$BIN/datalab" upload "$TRUST/$f" --dataset census --school "$u" \
    --extract-date "$EXTRACT" --allow-duplicate=true --retries 3 --as steward --json \
    >"$VAR/up.$i.out" 2>"$VAR/up.$i.err"
  local rc=$?
  if [ $rc -eq 0 ]; then
    python3 - "$VAR/up.$i.out" >>"$ACKED" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
job = json.JSONDecoder().raw_decode(text.lstrip())[0]
if job.get("state") == "COMMITTED":
    print(job["name"], job.get("dataset_version", ""), job.get("progress", {}).get("rows_loaded", 0))
PY
  fi
}

client_queries() {  # queries until told to stop; every release name returned is recorded
  local i=$1 k=0
  while [ ! -f "$VAR/stop.$i" ] && [ $k -lt 200 ]; do
    k=$((k + 1))
    for q in "$Q" "$Q2"; do
      timeout -k 5 60 "$BIN/datalab" query --project crash "$q" --as alice >"$VAR/q.$i.$k.out" 2>&1
      sed -n 's/^release: //p' "$VAR/q.$i.$k.out" >>"$RELEASES"
    done
  done
}

# Checks the store against the jobs: returns the number of problems.
check_versions() {
  local stored jobs reg
  stored=$(as_service ingestion --target "$DATALAB_QUERY_ADDR" \
    --method /datalab.query.v1.QueryService/ListStoredVersions --json '{"dataset":"datasets/census"}' | sed -n 2p)
  jobs=$("$BIN/datalab" jobs list --dataset census --page-size 1000 --as steward --json 2>/dev/null)
  reg=$("$BIN/datalab" catalogue quality census --as steward --json 2>/dev/null)
  # Through files: after many iterations the lists outgrow one argument.
  printf '%s' "$stored" >"$VAR/check.stored.json"
  printf '%s' "$jobs" >"$VAR/check.jobs.json"
  printf '%s' "$reg" >"$VAR/check.reg.json"
  python3 - "$VAR/check.stored.json" "$VAR/check.jobs.json" "$VAR/check.reg.json" "$ACKED" <<'PY'
import json, sys
def load(path, default):
    s = open(path).read()
    try: return json.loads(s) if s.strip() else default
    except Exception as e:
        print("    unparsable:", s[:200]); return default
stored = {v["dataset_version"]: v for v in load(sys.argv[1], {}).get("versions", [])}
jobs = load(sys.argv[2], {}).get("jobs", [])
reg = {v["name"]: v for v in load(sys.argv[3], {}).get("versions", [])}
acked = [l.split() for l in open(sys.argv[4]) if l.strip()]
problems = 0
committed = {}
for j in jobs:
    if j.get("state") == "COMMITTED":
        committed[j.get("dataset_version")] = j
# 1. every acknowledged (and every COMMITTED) job's version is stored and registered
for a in acked:
    name, ver = a[0], a[1] if len(a) > 1 else ""
    if ver not in stored:
        print(f"    LOST: acknowledged {name} -> {ver} is not in the store"); problems += 1
for ver, j in committed.items():
    if ver not in stored:
        print(f"    LOST: COMMITTED {j['name']} -> {ver} is not in the store"); problems += 1
    elif ver not in reg:
        print(f"    UNREGISTERED: COMMITTED {j['name']} -> {ver} is not in the catalogue"); problems += 1
    elif int(reg[ver].get("row_count", 0)) != int(stored[ver].get("rows", 0)):
        print(f"    MISMATCH: {ver} catalogue rows {reg[ver].get('row_count')} store rows {stored[ver].get('rows')}"); problems += 1
# 2. every stored version is a committed job's, with previous + loaded rows
def num(v): return int(v.rsplit("/", 1)[1])
prev_rows = 0
for ver in sorted(stored, key=num):
    rows = int(stored[ver].get("rows", 0))
    j = committed.get(ver)
    if j is None:
        print(f"    PARTIAL/ORPHAN: stored {ver} ({rows} rows) has no COMMITTED job"); problems += 1
    else:
        loaded = int(j.get("progress", {}).get("rows_loaded", 0))
        if rows != prev_rows + loaded:
            print(f"    PARTIAL: {ver} holds {rows} rows, expected {prev_rows} + {loaded}"); problems += 1
    prev_rows = rows
print(f"    versions stored {len(stored)}, committed jobs {len(committed)}, acknowledged uploads {len(acked)}")
sys.exit(min(problems, 100))
PY
}

for i in $(seq 1 "$ITER"); do
  victim=${VICTIMS[$(( (i - 1) % 3 ))]}
  [ "$ITER" -gt 3 ] && [ $((RANDOM % 4)) -eq 0 ] && victim=${VICTIMS[$((RANDOM % 3))]}
  f=${FILES[$((RANDOM % ${#FILES[@]}))]}
  delay_ms=$((100 + RANDOM % 1400))
  client_upload "$f" "$i" & up_pid=$!
  client_queries "$i" & q_pid=$!
  sleep "$(printf '0.%03d' $((delay_ms % 1000)))"; [ $delay_ms -ge 1000 ] && sleep 1
  svc_kill9 "$victim"
  if svc_start "$victim"; then
    SERVING+=("$SERVING_MS")
    log "iteration $i: kill -9 $victim after ${delay_ms} ms during $f; SERVING again after ${SERVING_MS} ms"
  else
    fail "iteration $i: $victim restarts" "the lab did not serve within 30 s"
    break
  fi
  wait $up_pid
  touch "$VAR/stop.$i"
  wait $q_pid
  # Jobs interrupted by the crash resume after restart: give them a moment.
  for _ in $(seq 1 30); do
    "$BIN/datalab" jobs list --dataset census --as steward 2>/dev/null | grep -Eq ' (QUEUED|RUNNING) ' || break
    sleep 0.5
  done
done

# Every job ends: a crash must not leave a job RUNNING for ever.
stuck=$("$BIN/datalab" jobs list --dataset census --page-size 1000 --as steward 2>/dev/null | grep -E ' (QUEUED|RUNNING) ' || true)
[ -z "$stuck" ] && pass "every interrupted job reached a final state" || { fail "every interrupted job reached a final state" "jobs still running"; echo "$stuck" | sed 's/^/    /'; }

check_versions; p=$?
[ $p -eq 0 ] && pass "no acknowledged upload lost and no partial version visible" \
  || fail "store consistency after $ITER crashes" "$p problem(s) (listed above)"

# Every release the clients saw has its audit event.
sleep 1
"$BIN/datalab" audit search --project projects/crash --limit 100000 --json --as dpo >"$VAR/audit-crash.jsonl" 2>"$VAR/audit-crash.err"
nrel=$(sort -u "$RELEASES" | grep -c . || true)
missing=0
while read -r r; do
  [ -z "$r" ] && continue
  grep -q "\"release\":\"$r\"" "$VAR/audit-crash.jsonl" || grep -q "$r" "$VAR/audit-crash.jsonl" || { missing=$((missing + 1)); echo "    no audit event for $r"; }
done < <(sort -u "$RELEASES")
[ "$nrel" -gt 0 ] && [ $missing -eq 0 ] && pass "all $nrel released results have their audit event" \
  || fail "released results audited" "$missing of $nrel releases have no audit event (or no release at all)"

sleep 11
expect_ok "audit export after crashes" dl audit export --out "$VAR/audit.jsonl" --as dpo
expect_ok "audit verifies after $ITER crashes" dl audit verify --export "$VAR/audit.jsonl"

if [ ${#SERVING[@]} -gt 0 ]; then
  python3 - "${SERVING[@]}" <<'PY'
import sys
v = sorted(int(x) for x in sys.argv[1:])
print(f"restart to SERVING: n={len(v)} min={v[0]} ms median={v[len(v)//2]} max={v[-1]} ms")
PY
fi
e2e_finish
